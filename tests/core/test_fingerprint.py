from __future__ import annotations

from athena.core.events import ErrorEvent, TimerEvent
from athena.core.fingerprint import Fingerprint, canonical
from athena.model.enums import Liquidity, OrderType, Side
from athena.model.orders import Fill, Order


def run(events) -> str:
    fp = Fingerprint()
    for e in events:
        fp.event(e)
    fp.command("submit", 5, cl_ord_id="a1", px=600000, sz=1)
    return fp.hexdigest()


def test_same_sequence_gives_the_same_digest_and_any_change_alters_it():
    a = [TimerEvent("t", 1, 2), ErrorEvent("x", "boom", 3, 3)]
    assert run(a) == run([TimerEvent("t", 1, 2), ErrorEvent("x", "boom", 3, 3)])
    assert run(a) != run([TimerEvent("t", 1, 3), ErrorEvent("x", "boom", 3, 3)])
    assert run(a) != run(list(reversed(a)))


def test_canonical_forms_are_stable_text():
    o = Order("c1", "BTC-USDT-SWAP", Side.BUY, OrderType.LIMIT, 10, 600000)
    assert canonical(o) == "Order(c1,,initialized,0,600000,10)"
    f = Fill(1, "c1", "9", "BTC-USDT-SWAP", Side.SELL, 600000, 3, -0.1, Liquidity.MAKER, 7)
    assert canonical(f) == "Fill(1,c1,sell,600000,3,-0.1,M)"
    assert canonical({"b": 0.1, "a": [1, Side.BUY]}) == "{'a':[1,'buy'],'b':0.1}"
