"""ScalperV1's typed, frozen configuration: every setting, its default and its bounds, in one place.

Owns: ``ScalperV1Config`` and its ``ExecutionConfig`` (pydantic, frozen, unknown keys refused),
their loading from the ``strategies.scalper_v1`` section of ``config/*.json`` with a
``ConfigError`` that names the key, and ``OmsSettings`` — the settings ScalperV1 gives the OMS
(order TTL, position sync interval, protective stop distance; DESIGN.md §1: the OMS runs those
loops, the strategy only configures them).
Never: reads files or the environment, converts to ticks/lots (that needs an ``InstrumentSpec``;
the components do it once at start), or holds state.

Percentages are fractions (0.0005 is 0.05 %) and PnL percentages are unlevered price returns from
the entry price (DESIGN.md §6a). Thresholds are compared in exact integer arithmetic against the
decimal written in the config (0.0005 is read as exactly 1/2000): see ``exact_ratio``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from athena.errors import ConfigError

SECTION = "strategies.scalper_v1"

_FROZEN = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, validate_default=True)


def exact_ratio(value: float) -> tuple[int, int]:
    """(numerator, denominator) of the decimal a config float was written as: 0.0005 -> (1, 2000).

    ``repr`` gives the shortest decimal that round-trips, so a threshold typed as 0.0005 is
    compared as exactly 1/2000 — boundaries such as "250 ticks on 500 000" land where a person
    computes them, on every machine."""
    f = Fraction(Decimal(repr(float(value))))
    return f.numerator, f.denominator


def seconds_to_ns(seconds: float) -> int:
    """Whole nanoseconds of a config duration (converted once at start, never on the hot path)."""
    return round(seconds * 1_000_000_000)


class ExecutionConfig(BaseModel):
    """How ScalperV1 prices, places and chases its post-only (maker) entry orders."""

    model_config = _FROZEN

    aggressive_maker_spread_ticks: float = Field(
        2.0, gt=0, description="post this many ticks inside the spread from our own touch (whole ticks: 2.7 -> 2)"
    )
    aggressive_maker_price_offset: float = Field(
        1.0,
        ge=0,
        description="keep at least this many ticks away from the opposite touch (whole ticks, rounded up; "
        "never less than 1, so a post-only order never crosses)",
    )
    is_paper_trading: bool = Field(
        False, description="paper mode: post at the mid, rounded to the tick away from crossing"
    )
    min_order_life_seconds: float = Field(
        2.0, ge=0, description="never cancel (chase) an entry order younger than this (the no-cancel buffer)"
    )
    min_chasing_distance_pct: float = Field(
        0.0005,
        ge=0,
        lt=1,
        description="chase (cancel and re-post) only when our touch moved more than this fraction of the "
        "order's price away from it (0.0005 = 0.05 %)",
    )


@dataclass(frozen=True, slots=True)
class OmsSettings:
    """What ScalperV1 asks of the OMS, which owns the loops (DESIGN.md §1): ``order_ttl_s`` for
    OrderManager's order status query, ``position_sync_s`` for PositionManager's periodic sync,
    ``stop_loss_pct`` for the protective stop placed after an entry fill (the strategy also sends
    the distance in ticks with each entry as ``stop_ticks``)."""

    order_ttl_s: float
    position_sync_s: float
    stop_loss_pct: float


class ScalperV1Config(BaseModel):
    """ScalperV1: order-flow imbalance entries with a trend filter, trailing-stop exits."""

    model_config = _FROZEN

    inst_id: str = Field("BTC-USDT-SWAP", min_length=1, description="the one instrument traded")
    ema_period: int = Field(50, ge=1, description="EMA of trade prices over this many trades (alpha = 2/(n+1))")
    imbalance_ratio: float = Field(
        5.0, gt=0, description="enter when taker-buy USDT ÷ taker-sell USDT (inverse for shorts) reaches this"
    )
    min_flow_usdt: float = Field(
        5000.0, ge=0, description="enter only when the USDT volume of the flow window is at least this"
    )
    flow_window_s: float = Field(
        5.0, gt=0, description="rolling window of trades for flow and imbalance; a trade leaves it exactly "
        "this long after it was seen"
    )
    large_trade_usdt: float = Field(10_000.0, gt=0, description="a single trade of at least this USDT value is large")
    spread_threshold_pct: float = Field(
        0.0005, gt=0, lt=1, description="enter only when spread ÷ mid is at most this (0.0005 = 0.05 %)"
    )
    cooldown_seconds: float = Field(
        0.0, ge=0, description="pacing: no entry this long after the last exit fill (0 = HFT mode; 30-60 live)"
    )
    reject_backoff_s: float = Field(
        1.0,
        ge=0,
        description="after an entry the OMS or the exchange refused, wait this long before the next "
        "(a refusal for risk or capital repeats on every trade until something changes)",
    )
    post_exit_lock_s: float = Field(
        10.0, ge=0, description="safety floor: no entry this long after the last exit fill, whatever the cooldown"
    )
    trailing_activation_pct: float = Field(
        0.001, gt=0, lt=1, description="arm the trailing stop once the unlevered return from entry reaches this"
    )
    trailing_callback_pct: float = Field(
        0.0005, gt=0, lt=1, description="once armed, exit when the return falls this far below its highest"
    )
    position_anomaly_limit: float = Field(
        4.0, gt=0, description="contracts: a position beyond this is an anomaly, flattened at market"
    )
    order_ttl_s: float = Field(10.0, gt=0, description="for the OMS: query an order unanswered this long")
    sync_interval_s: float = Field(15.0, gt=0, description="for the OMS: position sync interval")
    order_size: float = Field(1.0, gt=0, description="contracts per entry (a multiple of the instrument's lotSz)")
    stop_loss_pct: float = Field(
        0.005, gt=0, lt=1, description="protective stop distance from the entry price, for the OMS's stop"
    )
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig, description="maker pricing and chasing")

    @model_validator(mode="after")
    def _size_within_anomaly_limit(self) -> ScalperV1Config:
        if self.order_size > self.position_anomaly_limit:
            raise ValueError(
                f"order_size {self.order_size:g} exceeds position_anomaly_limit {self.position_anomaly_limit:g}: "
                "every entry would be flattened as an anomaly; lower order_size or raise the limit"
            )
        return self

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> ScalperV1Config:
        """Validate the ``strategies.scalper_v1`` section; a bad value raises ``ConfigError`` naming
        ``strategies.scalper_v1.<key>``, the value and what was expected."""
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{SECTION}: expected an object {{...}}, found {type(raw).__name__}")
        try:
            return cls.model_validate(raw)
        except ValidationError as err:
            raise ConfigError(_describe(err)) from None

    def oms_settings(self) -> OmsSettings:
        return OmsSettings(
            order_ttl_s=self.order_ttl_s, position_sync_s=self.sync_interval_s, stop_loss_pct=self.stop_loss_pct
        )


def _describe(err: ValidationError) -> str:
    parts = []
    for item in err.errors(include_url=False):
        loc = ".".join(str(p) for p in item["loc"])
        key = f"{SECTION}.{loc}" if loc else SECTION
        value = item.get("input")
        shown = f" = {value!r}" if item["type"] != "missing" and isinstance(value, str | int | float | bool) else ""
        if item["type"] == "extra_forbidden":
            owner: type[BaseModel] = ExecutionConfig if item["loc"][:1] == ("execution",) else ScalperV1Config
            why = "unknown key; expected one of: " + ", ".join(sorted(owner.model_fields))
        else:
            why = str(item.get("msg", item["type"])).removeprefix("Value error, ")
        parts.append(f"{key}{shown} — {why}")
    return "; ".join(parts)
