"""The reduce-only exit gate of OrderManager (DESIGN.md §6a), through the REAL SimGateway +
SimExchange: an exit that would take pending reduce-only size beyond |position| is held until the
other reduce-only orders' cancels are confirmed, and replaced by close-position + autoCxl when they
are not confirmed within ``exit_confirm_timeout_ms`` (2000 ms by default).

Same rig as tests/oms/test_through_simgateway.py: BTC-USDT-SWAP, book of 500 lots a level (bids
P-1.., asks P..), entry latency 10 ms, response latency 5 ms. Every scenario opens 300 lots long
at P (a market entry with a protective stop 500 ticks away: trigger P-500, size 300) and rests a
reduce-only sell above the ask, which cannot trade.
"""

from __future__ import annotations

from athena.core.events import OrderCancelled, OrderSubmitted, ReportSource
from athena.model.enums import OrderState, OrderType, Side
from athena.model.orders import Order
from tests.oms.test_through_simgateway import INST, MS, SEC, T0, P, Rig

S = OrderState


def long_300_with_resting_exits(*resting: tuple[int, int]) -> tuple[Rig, list[Order]]:
    """300 lots long at P (filled at T0+10 ms, known at T0+15 ms, stop placed then) and, at
    T0+100 ms, resting reduce-only sells of (lots, price) each; the clock is at T0+200 ms."""
    rig = Rig()
    rig.submit(Side.BUY, 300, tag="entry", stop_ticks=500)
    rig.run(T0 + 100 * MS)
    rest = [rig.submit(Side.SELL, lots, px, reduce_only=True, tag="tp") for lots, px in resting]
    rig.run(T0 + 200 * MS)
    assert rig.pm.lots(INST) == rig.m.position.lots == 300
    assert all(o.state is S.LIVE for o in rest)
    (algo,) = rig.m.algos.values()
    assert (algo.side, algo.size_lots, algo.trigger_ticks) == (Side.SELL, 300, P - 500)
    return rig, rest


def submitted_at(rig: Rig, cl: str) -> list[int]:
    return [e.ts_event for e in rig.of(OrderSubmitted) if e.cl_ord_id == cl]


def test_an_exit_over_the_position_is_held_until_the_resting_exit_is_canceled_then_fills_flat():
    rig, (tp,) = long_300_with_resting_exits((200, P + 10))
    exit_ = rig.submit(Side.SELL, 300, reduce_only=True, tag="exit")  # 200 + 300 > 300: held
    assert exit_.state is S.SUBMITTED and rig.om.is_held(exit_.cl_ord_id)
    assert exit_ in rig.om.open_orders(INST)
    assert submitted_at(rig, exit_.cl_ord_id) == []  # the gateway has not seen it
    ((t, args),) = rig.sent("cancel-order")
    assert (t, args) == (T0 + 200 * MS, (INST, tp.cl_ord_id, tp.ord_id))
    rig.run(T0 + 214 * MS)
    assert rig.om.is_held(exit_.cl_ord_id) and tp.state is S.PENDING_CANCEL
    rig.run(T0 + 1 * SEC)
    # The cancel reached the exchange at 210 ms, its confirmation the OMS at 215 ms: the exit
    # leaves then, reaches the exchange at 225 ms and takes 300 lots of the bid at P-1.
    (cxl,) = [e for e in rig.of(OrderCancelled) if e.order is tp]
    assert (cxl.cancel_source, cxl.ts_recv) == ("1", T0 + 215 * MS)
    assert submitted_at(rig, exit_.cl_ord_id) == [T0 + 215 * MS]
    assert [t for t, a in rig.sent("order") if a[1] == exit_.cl_ord_id] == [T0 + 215 * MS]
    assert not rig.om.is_held(exit_.cl_ord_id)
    assert (exit_.state, exit_.size_lots, exit_.filled_lots) == (S.FILLED, 300, 300)
    assert [(f.fill.ticks, f.fill.lots) for f in rig.fills(exit_.cl_ord_id)] == [(P - 1, 300)]
    assert rig.pm.lots(INST) == rig.m.position.lots == 0
    assert all(r.cancel_source != "22" for r in rig.reports(exit_.cl_ord_id))
    assert rig.errors("failed_exit") == [] and rig.errors("exit_gate_timeout") == []
    # The stop stayed in place while the exit was held; it was canceled only once flat (230 ms).
    assert len(rig.sent("order-algo")) == 1
    assert [t for t, _ in rig.sent("cancel-algos")] == [T0 + 230 * MS]
    assert rig.m.algos == {}


def test_only_the_worse_priced_resting_exit_is_canceled_when_the_better_one_still_fits():
    # Room for others beside an exit of 200 in a 300-lot position: 100. Of two resting sells of
    # 100, the one at P+20 (better for a sell) is kept; the one at P+10 is canceled.
    rig, (hi, lo) = long_300_with_resting_exits((100, P + 20), (100, P + 10))
    exit_ = rig.submit(Side.SELL, 200, reduce_only=True, tag="exit")
    assert rig.om.is_held(exit_.cl_ord_id)
    assert [a[1] for _, a in rig.sent("cancel-order")] == [lo.cl_ord_id]
    rig.run(T0 + 1 * SEC)
    assert (lo.state, hi.state) == (S.CANCELED, S.LIVE)
    assert (exit_.state, exit_.filled_lots) == (S.FILLED, 200)
    assert rig.pm.lots(INST) == rig.m.position.lots == 100
    # The kept 100 lots still fit the 100-lot position: the exchange leaves it resting (no 23).
    assert [o.cl_ord_id for o in rig.m.orders.values()] == [hi.cl_ord_id]
    assert all(r.cancel_source not in ("22", "23") for r in rig.reports(hi.cl_ord_id) + rig.reports(exit_.cl_ord_id))


def test_an_exit_that_fits_beside_the_resting_exits_is_sent_at_once_without_cancels():
    rig, (tp,) = long_300_with_resting_exits((200, P + 10))
    exit_ = rig.submit(Side.SELL, 100, reduce_only=True, tag="exit")  # 200 + 100 = 300: fits
    assert not rig.om.is_held(exit_.cl_ord_id)
    assert submitted_at(rig, exit_.cl_ord_id) == [T0 + 200 * MS]
    rig.run(T0 + 1 * SEC)
    assert rig.sent("cancel-order") == []
    assert (exit_.state, exit_.filled_lots) == (S.FILLED, 100)
    assert tp.state is S.LIVE and tp.remaining_lots == 200
    assert rig.pm.lots(INST) == rig.m.position.lots == 200
    # The stop is kept at the position's size: re-placed at 200 lots, same trigger.
    (algo,) = rig.m.algos.values()
    assert (algo.size_lots, algo.trigger_ticks) == (200, P - 500)


def test_a_stuck_cancel_falls_back_to_close_position_with_autocxl_after_the_timeout():
    rig, (tp,) = long_300_with_resting_exits((200, P + 10))
    refused: list[str] = []

    def cancel_pending(inst_id: str, cl_ord_id: str, ord_id: str | None = None) -> None:
        # OKX answering 51410 "cancel pending": the order stays, and no cancel confirmation comes.
        refused.append(cl_ord_id)
        rig.ex.emit(
            rig.ex._bare(
                inst_id,
                cl_ord_id,
                ord_id or "",
                ReportSource.ACK,
                s_code="51410",
                s_msg="Cancellation failed as the order is already under cancelling status.",
            )
        )

    rig.ex.cancel_order = cancel_pending  # type: ignore[method-assign]
    exit_ = rig.submit(Side.SELL, 300, reduce_only=True, tag="exit")
    rig.run(T0 + 2200 * MS - 1)
    assert refused == [tp.cl_ord_id]
    assert rig.om.is_held(exit_.cl_ord_id) and tp.state is S.PENDING_CANCEL
    assert rig.sent("close-position") == [] and rig.m.position.lots == 300
    rig.run(T0 + 3 * SEC)
    # 2000 ms after the exit (at 2.2 s): the held exit ends locally, close-position + autoCxl goes out.
    ((t, (inst, close_cl, auto_cxl)),) = rig.sent("close-position")
    assert (t, inst, auto_cxl) == (T0 + 2200 * MS, INST, True)
    assert exit_.state is S.CANCELED and exit_.cl_ord_id not in rig.placements
    (err,) = rig.errors("exit_gate_timeout")
    assert close_cl in err.message and exit_.cl_ord_id in err.message
    # At the exchange (2.21 s) autoCxl cancels the resting exit (17) and the close sells 300 at P-1.
    assert tp.state is S.CANCELED
    assert [e.cancel_source for e in rig.of(OrderCancelled) if e.order is tp] == ["17"]
    close = rig.om.get(close_cl)
    assert close is not None and (close.state, close.filled_lots, close.strategy_id) == (S.FILLED, 300, "s1")
    assert [(f.fill.ticks, f.fill.lots, f.ts_recv) for f in rig.fills(close_cl)] == [(P - 1, 300, T0 + 2215 * MS)]
    assert rig.pm.lots(INST) == rig.m.position.lots == 0
    assert rig.capital.book("s1").positions[INST].lots == 0
    # The stop stood through the wait and went only when flat.
    assert [t for t, _ in rig.sent("cancel-algos")] == [T0 + 2215 * MS]


def test_a_held_exit_canceled_by_its_strategy_ends_locally_without_a_cancel_request():
    rig, (tp,) = long_300_with_resting_exits((200, P + 10))
    exit_ = rig.submit(Side.SELL, 300, P - 1, reduce_only=True, tag="exit", ord_type=OrderType.LIMIT)
    assert rig.om.is_held(exit_.cl_ord_id)
    assert rig.om.cancel_order(exit_.cl_ord_id) is True
    assert exit_.state is S.CANCELED and not rig.om.is_held(exit_.cl_ord_id)
    assert [a[1] for _, a in rig.sent("cancel-order")] == [tp.cl_ord_id]  # only the gate's own cancel
    rig.run(T0 + 5 * SEC)
    assert exit_.cl_ord_id not in rig.placements and rig.sent("close-position") == []
    assert rig.m.position.lots == 300 and rig.errors("exit_gate_timeout") == []
