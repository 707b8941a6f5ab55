"""The OMS: orders, positions, capital and pre-trade risk — synchronous, driven by events and clock timers.

Owns (DESIGN.md §1 "who owns what", §4, §6a): ``OrderManager`` (orders.py) — submit with capital
reserved inside the call, the only consumer of ORDER_REPORT, reconciliation by cumulative figures,
the order TTL query, ghost orders from open-orders answers, the protective stop, the kill switch;
``PositionManager`` (positions.py) — the shadow ledger, the periodic sync with its adoption rules,
backoff and circuit breaker, ghost-order protection when flat; ``CapitalCommander`` (capital.py) —
allocations, reservations, PnL, fees, funding, equity curve; ``PreTradeCheck`` and its rules
(risk.py); ``ClOrdIdFactory`` (ids.py). Strategies configure these loops and react to their events;
they never run a second copy of them.
Never: awaits, sleeps, starts threads, reads the wall clock (time is ``clock.now_ns()``), or imports
anything of Athena's beyond core, model, book and config.
"""
