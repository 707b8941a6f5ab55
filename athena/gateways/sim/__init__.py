"""The backtest's gateway: ``SimGateway`` puts a ``sim.SimExchange`` behind the core's command port,
with entry/response latency and an optional fault plan on the SimClock heap."""

from athena.gateways.sim.gateway import SimGateway

__all__ = ["SimGateway"]
