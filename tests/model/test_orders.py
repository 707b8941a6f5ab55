from __future__ import annotations

import pytest

from athena.errors import OrderStateError
from athena.model.enums import OrderState, OrderType, Side
from athena.model.orders import AlgoOrder, Order, can_transition

S = OrderState


def order() -> Order:
    return Order(cl_ord_id="a1", inst_id="BTC-USDT-SWAP", side=Side.BUY, ord_type=OrderType.LIMIT,
                 size_lots=10, price_ticks=600000)


def test_life_of_an_order_that_fills_in_two_parts():
    o = order()
    for s in (S.SUBMITTED, S.LIVE, S.PARTIALLY_FILLED, S.PARTIALLY_FILLED, S.FILLED):
        o.transition(s)
    assert o.state is S.FILLED and o.state.is_terminal


def test_cancel_that_loses_the_race_to_a_fill_is_legal():
    o = order()
    o.transition(S.SUBMITTED)
    o.transition(S.LIVE)
    o.transition(S.PENDING_CANCEL)
    o.transition(S.FILLED)
    assert o.state is S.FILLED


@pytest.mark.parametrize(
    ("src", "dst"),
    [(S.FILLED, S.LIVE), (S.CANCELED, S.LIVE), (S.REJECTED, S.SUBMITTED), (S.INITIALIZED, S.LIVE),
     (S.LIVE, S.SUBMITTED), (S.FILLED, S.CANCELED), (S.PARTIALLY_FILLED, S.LIVE)],
)
def test_illegal_transitions_raise_and_leave_the_state_unchanged(src, dst):
    o = order()
    o.state = src
    with pytest.raises(OrderStateError, match=f"{src.value} -> {dst.value}"):
        o.transition(dst)
    assert o.state is src


def test_terminal_states_have_no_exit():
    for term in (S.FILLED, S.CANCELED, S.REJECTED):
        assert not any(can_transition(term, d) for d in OrderState)


def test_remaining_and_signed_remaining():
    o = order()
    o.filled_lots = 3
    assert o.remaining_lots == 7
    o.side = Side.SELL
    assert o.signed_remaining == -7


def test_stop_trigger_direction():
    sell_stop = AlgoOrder("s1", "BTC-USDT-SWAP", Side.SELL, 5, trigger_ticks=590000)
    assert sell_stop.triggered_by(590000) and sell_stop.triggered_by(589999)
    assert not sell_stop.triggered_by(590001)
    buy_stop = AlgoOrder("s2", "BTC-USDT-SWAP", Side.BUY, 5, trigger_ticks=610000)
    assert buy_stop.triggered_by(610000) and not buy_stop.triggered_by(609999)
