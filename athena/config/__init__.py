"""Athena's configuration: typed frozen models and the layered loader (DESIGN §8).

Owns: the public names ``load_config``, ``AthenaConfig`` and its sections and enums.
Never: holds state; a loaded config is an immutable value passed to whoever needs it.
"""

from athena.config.loader import deep_merge, load_config, partial_model
from athena.config.models import (
    AthenaConfig,
    BacktestConfig,
    CapitalConfig,
    Environment,
    LatencyModel,
    LogLevel,
    OkxConfig,
    OkxEndpoint,
    QueueModel,
    RiskConfig,
)

__all__ = [
    "AthenaConfig",
    "BacktestConfig",
    "CapitalConfig",
    "Environment",
    "LatencyModel",
    "LogLevel",
    "OkxConfig",
    "OkxEndpoint",
    "QueueModel",
    "RiskConfig",
    "deep_merge",
    "load_config",
    "partial_model",
]
