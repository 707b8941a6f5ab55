"""Stand-in instrument specs for imported instruments that have no OKX spec.

Owns: the table ``STAND_INS`` keyed by (venue, symbol as the source spells it): an
``InstrumentSpec`` with the venue's own tick and lot (so the replay books in real ticks and lots),
the catalog decimals to store the instrument with (at least the finest the venue publishes for
any of its channels — Binance's mark price carries 8 decimals — so that files of one instrument
imported in any order share one scale), and where the values come from. ``lookup`` and
``known_okx_spec`` (the specs Athena ships for OKX instruments, for OKX's own history files).
Never: fetches anything, or claims an OKX spec for another venue's instrument (stand-ins are
marked by their ``source``; the importer writes them under the source's own venue name).

A stand-in is used only when the imported data lies on its grid; otherwise the importer falls
back to the unit of the most decimals seen (DESIGN.md §3).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from athena.model.instrument import BTC_USDT_SWAP, InstrumentSpec

__all__ = ["STAND_INS", "StandIn", "known_okx_spec", "lookup"]


@dataclass(frozen=True, slots=True)
class StandIn:
    """A spec for an imported instrument and the catalog decimals it is stored with."""

    spec: InstrumentSpec
    price_decimals: int
    size_decimals: int
    source: str  # where tick/lot/decimals come from, for humans
    stand_in: bool = True  # True: not the exchange's own spec record, a documented approximation


def _binance_linear(symbol: str, tick: str, lot: str) -> InstrumentSpec:
    # Binance USDⓈ-M perpetuals: quantity is in the base coin, so one "contract" is one coin.
    return InstrumentSpec(
        inst_id=symbol,
        tick_sz=Decimal(tick),
        lot_sz=Decimal(lot),
        min_sz=Decimal(lot),
        ct_val=Decimal(1),
        inst_type="SWAP",
        ct_type="linear",
        settle_ccy="USDT",
    )


_BINANCE_SOURCE = (
    "Binance USDⓈ-M exchangeInfo PRICE_FILTER tickSize / LOT_SIZE stepSize; markPrice published with 8 decimals"
)

STAND_INS: dict[tuple[str, str], StandIn] = {
    ("binance-futures", "BTCUSDT"): StandIn(_binance_linear("BTCUSDT", "0.1", "0.001"), 8, 3, _BINANCE_SOURCE),
    ("binance-futures", "ETHUSDT"): StandIn(_binance_linear("ETHUSDT", "0.01", "0.001"), 8, 3, _BINANCE_SOURCE),
}

_OKX_SPECS: dict[str, InstrumentSpec] = {BTC_USDT_SWAP.inst_id: BTC_USDT_SWAP}


def lookup(venue: str, symbol: str) -> StandIn | None:
    """The stand-in of an imported instrument, or None (the importer then uses the data's decimals)."""
    return STAND_INS.get((venue, symbol))


def known_okx_spec(inst_id: str) -> InstrumentSpec | None:
    """The spec Athena ships for an OKX instrument (today's tickSz/lotSz), or None."""
    return _OKX_SPECS.get(inst_id)
