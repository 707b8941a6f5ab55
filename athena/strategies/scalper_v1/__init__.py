"""ScalperV1 (V2 refactored): order-flow imbalance scalping on one OKX swap.

Owns: the package's public names. ``config`` (settings), ``signal`` (EMA, flow, imbalance, spread),
``execution`` (maker pricing and chasing), ``state`` (position from fills, gates, trailing stop),
``strategy`` (the decisions, registered as ``scalper_v1``).
Never: imports gateways, the simulator or asyncio (a test reads the imports).
"""

from athena.strategies.scalper_v1.config import ExecutionConfig, OmsSettings, ScalperV1Config
from athena.strategies.scalper_v1.execution import ExecutionAlgo
from athena.strategies.scalper_v1.signal import SignalGenerator, Trend
from athena.strategies.scalper_v1.state import PositionChange, StateManager
from athena.strategies.scalper_v1.strategy import ScalperV1, Tag

__all__ = [
    "ExecutionAlgo",
    "ExecutionConfig",
    "OmsSettings",
    "PositionChange",
    "ScalperV1",
    "ScalperV1Config",
    "SignalGenerator",
    "StateManager",
    "Tag",
    "Trend",
]
