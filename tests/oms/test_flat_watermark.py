"""The exact watermark of a FLAT position snapshot (DESIGN.md §4), through the real SimGateway and
SimExchange (athena/oms/positions.py): OKX sends no position record for a flat instrument, so the
snapshot is adoptable only when the instrument's newest fill id, asked just before the positions
request and just after its answer, is the same both times.

Timeline (entry latency 10 ms, response latency 5 ms, syncs every 15 s from T0): the first sync sends
the "before" fills query and the positions request at T0+15 s (both reach the exchange at +10 ms),
the positions answer arrives at +15 ms and sends the "after" fills query, which reaches the exchange
at +25 ms and answers at +30 ms.
"""

from __future__ import annotations

from athena.core.events import PositionSource, PositionUpdate
from athena.core.ports import ASK
from athena.model.enums import Side
from athena.sim.faults import GhostOrder, ShiftPosition
from tests.oms.test_through_simgateway import INST, MS, SEC, T0, P, Rig

SYNC = T0 + 15 * SEC


def ledger_updates(rig: Rig) -> list[tuple[int, int]]:
    return [(e.ts_recv, e.lots) for e in rig.of(PositionUpdate) if e.source is PositionSource.LEDGER]


def test_a_position_gone_flat_on_the_exchange_is_adopted_at_the_first_sync_when_the_fills_agree():
    rig = Rig(ShiftPosition(at_ns=T0 + 2 * SEC, inst_id=INST, lots=-100))
    rig.submit(Side.BUY, 100)  # market: trade 1, 100 lots at P
    rig.run(T0 + 1 * SEC)
    assert rig.pm.lots(INST) == 100
    rig.run(SYNC + 1 * SEC)
    # One fills query just before the positions request, one just after its answer: both say trade 1.
    assert [(t, args[1:]) for t, args in rig.sent("fills")] == [(SYNC, (INST, None)), (SYNC + 15 * MS, (INST, None))]
    assert rig.sent("positions")[0][0] == SYNC
    (err,) = rig.errors("position_mismatch")
    assert (
        "ledger 100 lots, exchange 0 lots (snapshot watermark 1, highest trade applied 1;"
        " newest fill around the positions request: 1 before, 1 after)" in err.message
    )
    assert "adopted the exchange's position (snapshot covers every fill)" in err.message
    assert rig.pm.lots(INST) == rig.m.position.lots == 0
    assert [(m.ledger_lots, m.exchange_lots, m.watermark, m.adopted) for m in rig.pm.mismatches] == [(100, 0, 1, True)]
    # Adopted once the "after" answer came in, at the first sync — not at the second one (T0+30 s).
    assert ledger_updates(rig)[-1] == (SYNC + 30 * MS, 0)
    assert rig.pm.adopted_watermark[INST] == 1
    rig.run(T0 + 31 * SEC)
    assert len(rig.errors("position_mismatch")) == 1  # agreed since


def test_a_fill_landing_between_the_two_fills_queries_makes_that_sync_adopt_nothing():
    # A foreign buy of 50 lots rests at P-1 behind nothing of ours; a public sell of 1500 lots fills it
    # at T0+15 s+20 ms: after the "before" query (exchange +10 ms), before the "after" one (+25 ms).
    rig = Rig(
        ShiftPosition(at_ns=T0 + 2 * SEC, inst_id=INST, lots=-100),
        GhostOrder(at_ns=T0 + 3 * SEC, inst_id=INST, side=Side.BUY, price_ticks=P - 1, size_lots=50),
    )
    rig.submit(Side.BUY, 100)  # trade 1
    rig.at(SYNC + 20 * MS, lambda: rig.m.on_trade(P - 1, 1500, ASK, 90_001, SYNC + 20 * MS))
    rig.run(SYNC + 1 * SEC)
    # The foreign fill, as the exchange pushed it (and as the "after" fills query listed it).
    pushed = [(r.trade_id, r.fill_lots, r.ts_event, r.req_id) for r in rig.reports("ghost1") if r.fill_lots]
    after_req = rig.sent("fills")[1][1][0]
    assert pushed == [(2, 50, SYNC + 20 * MS, ""), (2, 50, SYNC + 25 * MS, after_req)]
    (err,) = rig.errors("position_mismatch")
    assert (
        "ledger 100 lots, exchange 0 lots (snapshot watermark None, highest trade applied 1;"
        " newest fill around the positions request: 1 before, 2 after)" in err.message
    )
    assert "not adopted yet (a fill landed between the fills queries)" in err.message
    assert rig.pm.lots(INST) == 100  # nothing adopted: the ledger keeps our 100 lots
    assert [(m.ledger_lots, m.exchange_lots, m.watermark, m.adopted) for m in rig.pm.mismatches] == [
        (100, 0, None, False)
    ]
    assert INST not in rig.pm.adopted_watermark
