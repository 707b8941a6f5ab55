"""The trading core every job composes the same way: capital, pre-trade risk, OrderManager,
PositionManager and the strategy.

Owns: building those objects from a strategy's settings and the capital/risk figures, so a
backtest, a scenario and a live run trade through the identical core (DESIGN.md §1).
Never: chooses a clock, a gateway or the books (the caller's), adds anything to an engine, or starts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from athena.core.bus import EventBus
from athena.core.clock import Clock
from athena.core.engine import Component
from athena.core.ports import BookView, CommandPort
from athena.model.instrument import InstrumentSpec
from athena.oms.capital import CapitalCommander
from athena.oms.orders import OrderManager
from athena.oms.positions import PositionManager
from athena.oms.risk import PreTradeCheck, RiskLimits, RiskProfile
from athena.strategies.base import BaseStrategy, StrategyContext, strategy_class

DEFAULT_ORDER_TTL_S = 10.0
DEFAULT_POSITION_SYNC_S = 15.0


@dataclass(slots=True)
class TradingCore:
    capital: CapitalCommander
    risk: PreTradeCheck
    oms: OrderManager
    positions: PositionManager
    strategy: BaseStrategy | None

    def components(self) -> list[Component]:
        """In engine order: the OMS before the strategy, so it is up before the first submit."""
        out: list[Component] = [self.oms, self.positions]
        if self.strategy is not None:
            out.append(self.strategy)
        return out


def build_core(
    clock: Clock,
    bus: EventBus,
    gateway: CommandPort,
    specs: Mapping[str, InstrumentSpec],
    books: Mapping[str, BookView],
    *,
    strategy_id: str | None,
    strategy_config: Mapping[str, Any],
    total_capital: float,
    leverage: float,
    allocation: float = 1.0,
    owner: str | None = None,
    risk_limits: RiskLimits | None = None,
    order_ttl_s: float | None = None,
    position_sync_s: float | None = None,
    oms_options: Mapping[str, Any] | None = None,
) -> TradingCore:
    """The core for one strategy (or none: an operator session that only flattens).

    The OMS's TTL and sync periods are the strategy's settings for it (``order_ttl_s``,
    ``sync_interval_s``, DESIGN.md §1) unless given here; capital is reserved per ``owner``
    (the strategy id by default) with ``allocation`` of the total."""
    sid = strategy_id
    holder = owner or sid or "operator"
    capital = CapitalCommander(total_capital, {holder: allocation}, leverage=leverage, instruments=dict(specs))
    capital.attach(bus)
    risk = PreTradeCheck(risk_limits or RiskLimits())
    ttl = order_ttl_s if order_ttl_s is not None else float(strategy_config.get("order_ttl_s", DEFAULT_ORDER_TTL_S))
    sync = position_sync_s if position_sync_s is not None else float(
        strategy_config.get("sync_interval_s", DEFAULT_POSITION_SYNC_S))
    options: dict[str, Any] = {"order_ttl_s": ttl, **(oms_options or {})}  # explicit options win
    oms = OrderManager(
        clock, bus, gateway, capital, risk, dict(specs), dict(books),
        profiles={sid: RiskProfile.from_config(strategy_config)} if sid else {}, **options,
    )
    positions = PositionManager(clock, bus, gateway, oms, dict(specs), position_sync_s=sync)
    strategy = None
    if sid is not None:
        ctx = StrategyContext(clock=clock, bus=bus, oms=oms, instruments=dict(specs), books=dict(books))
        strategy = strategy_class(sid)(ctx, sid, dict(strategy_config))
    return TradingCore(capital, risk, oms, positions, strategy)
