"""Instrument specs and the exact conversions between OKX decimals and integer ticks/lots.

Owns: ``InstrumentSpec`` (OKX's instrument fields that trading needs), price <-> ticks and
size <-> lots conversions that are exact or raise, and OKX's decimal-string formatting (plain
decimals, no exponent, no trailing zeros: 30236.0 -> "30236").
Never: rounds silently, formats with ``str(float)``, or reads anything but its own fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from athena.errors import InstrumentError

_ZERO = Decimal(0)


def format_decimal(value: Decimal) -> str:
    """OKX's way of writing a number: plain digits, no exponent, no trailing zeros."""
    if value == _ZERO:
        return "0"
    return format(value.normalize(), "f")


def to_decimal(value: str | int | Decimal, *, what: str = "value") -> Decimal:
    """Parse an exchange decimal; floats are refused because they are not exact."""
    if isinstance(value, float):
        raise InstrumentError(f"{what} {value!r} is a float; pass the exchange's decimal string instead")
    try:
        d = Decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        raise InstrumentError(f"{what} {value!r} is not a decimal number") from None
    if not d.is_finite():
        raise InstrumentError(f"{what} {value!r} is not a finite number")
    return d


def decimals_of(step: Decimal) -> int:
    """Number of decimals of a step: 0.1 -> 1, 0.01 -> 2, 5 -> 0."""
    exp = step.normalize().as_tuple().exponent
    assert isinstance(exp, int)
    return max(0, -exp)


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """An OKX instrument as trading sees it. Prices are ``ticks * tick_sz``; sizes (contracts for
    swaps) are ``lots * lot_sz``; a linear swap's USDT value is contracts × ct_val × price."""

    inst_id: str
    tick_sz: Decimal
    lot_sz: Decimal
    min_sz: Decimal
    ct_val: Decimal = Decimal(1)
    ct_mult: Decimal = Decimal(1)
    inst_type: str = "SWAP"
    ct_type: str = "linear"
    settle_ccy: str = "USDT"
    max_lmt_sz: Decimal | None = None
    max_mkt_sz: Decimal | None = None
    state: str = "live"
    inst_id_code: int | None = None
    # derived, set in __post_init__ (frozen: via object.__setattr__)
    price_decimals: int = field(init=False)
    size_decimals: int = field(init=False)
    min_lots: int = field(init=False)
    quote_per_tick_lot: float = field(init=False)

    def __post_init__(self) -> None:
        for name in ("tick_sz", "lot_sz", "min_sz", "ct_val", "ct_mult"):
            v = getattr(self, name)
            if not isinstance(v, Decimal):
                object.__setattr__(self, name, to_decimal(v, what=f"{self.inst_id} {name}"))
        if self.tick_sz <= 0 or self.lot_sz <= 0:
            raise InstrumentError(f"{self.inst_id}: tickSz and lotSz must be positive")
        object.__setattr__(self, "price_decimals", decimals_of(self.tick_sz))
        object.__setattr__(self, "size_decimals", decimals_of(self.lot_sz))
        min_lots = self.min_sz / self.lot_sz
        object.__setattr__(
            self, "min_lots", max(1, int(min_lots.to_integral_value(rounding="ROUND_CEILING")))
        )
        # One exact Decimal product, converted once: value = ticks * lots * this (USDT for linear).
        object.__setattr__(
            self, "quote_per_tick_lot", float(self.tick_sz * self.lot_sz * self.ct_val * self.ct_mult)
        )

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_okx(cls, rec: dict[str, Any]) -> InstrumentSpec:
        """Build from one record of ``GET /api/v5/public/instruments`` (strings as OKX sends)."""
        try:
            inst_id = rec["instId"]

            def dec(key: str, default: str | None = None) -> Decimal | None:
                raw = rec.get(key, default)
                if raw in (None, ""):
                    return None
                return to_decimal(raw, what=f"{inst_id} {key}")

            code = rec.get("instIdCode")
            return cls(
                inst_id=inst_id,
                tick_sz=dec("tickSz"),  # type: ignore[arg-type]
                lot_sz=dec("lotSz"),  # type: ignore[arg-type]
                min_sz=dec("minSz") or dec("lotSz"),  # type: ignore[arg-type]
                ct_val=dec("ctVal") or Decimal(1),
                ct_mult=dec("ctMult") or Decimal(1),
                inst_type=rec.get("instType", "SWAP"),
                ct_type=rec.get("ctType") or "linear",
                settle_ccy=rec.get("settleCcy") or rec.get("quoteCcy") or "USDT",
                max_lmt_sz=dec("maxLmtSz"),
                max_mkt_sz=dec("maxMktSz"),
                state=rec.get("state", "live"),
                inst_id_code=int(code) if code not in (None, "") else None,
            )
        except KeyError as e:
            raise InstrumentError(f"instrument record lacks {e.args[0]!r}: {rec!r:.200}") from None

    # -- prices -------------------------------------------------------------------------------

    def price_to_ticks(self, px: str | int | Decimal) -> int:
        """Exact: raises InstrumentError when ``px`` is not a multiple of tickSz."""
        d = to_decimal(px, what=f"{self.inst_id} price")
        q = d / self.tick_sz
        if q != q.to_integral_value():
            raise InstrumentError(
                f"{self.inst_id}: price {px} is not a multiple of tickSz {format_decimal(self.tick_sz)}"
            )
        return int(q)

    def ticks_to_price(self, ticks: int) -> Decimal:
        return ticks * self.tick_sz

    def format_price(self, ticks: int) -> str:
        """The OKX string for a price in ticks: exact, no exponent, no trailing zeros."""
        return format_decimal(ticks * self.tick_sz)

    def ticks_to_float(self, ticks: int | float) -> float:
        """For display and float-valued models only; never fed back into ticks."""
        return ticks * float(self.tick_sz)

    # -- sizes --------------------------------------------------------------------------------

    def size_to_lots(self, sz: str | int | Decimal) -> int:
        """Exact: raises InstrumentError when ``sz`` is not a multiple of lotSz."""
        d = to_decimal(sz, what=f"{self.inst_id} size")
        q = d / self.lot_sz
        if q != q.to_integral_value():
            raise InstrumentError(
                f"{self.inst_id}: size {sz} is not a multiple of lotSz {format_decimal(self.lot_sz)}"
            )
        return int(q)

    def lots_to_size(self, lots: int) -> Decimal:
        return lots * self.lot_sz

    def format_size(self, lots: int) -> str:
        return format_decimal(lots * self.lot_sz)

    def lots_to_contracts(self, lots: int | float) -> float:
        return lots * float(self.lot_sz)

    # -- value --------------------------------------------------------------------------------

    def notional(self, ticks: int, lots: int) -> float:
        """Quote-currency value of ``lots`` at ``ticks`` (linear: contracts × ctVal × price)."""
        return abs(ticks * lots) * self.quote_per_tick_lot

    def pnl_value(self, tick_lots: int | float) -> float:
        """Quote value of a quantity measured in tick×lot units (a PnL or a cost basis)."""
        return float(tick_lots) * self.quote_per_tick_lot


# The instruments Athena knows without asking OKX (values from OKX's instruments endpoint).
BTC_USDT_SWAP = InstrumentSpec(
    inst_id="BTC-USDT-SWAP",
    tick_sz=Decimal("0.1"),
    lot_sz=Decimal("0.01"),
    min_sz=Decimal("0.01"),
    ct_val=Decimal("0.01"),
    max_lmt_sz=Decimal("100000000"),
    max_mkt_sz=Decimal("12000"),
    inst_id_code=10459,
)
