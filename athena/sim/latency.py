"""Order latency of the simulated exchange: how long a command takes to reach the matching engine
(entry) and how long the exchange's answer takes to reach Athena (response).

Owns: the latency models, each with a ``describe()`` line for the assumption manifest. SimGateway
draws one entry latency per command and one response latency per report, in the order they
happen, so a seeded model gives the same draws on every run.
Never: reads the wall clock or a global random state (a model owns its own seeded generator).
"""

from __future__ import annotations

import math
import random
from typing import Protocol

__all__ = ["ConstantLatency", "LatencyModel", "LogNormalLatency"]


class LatencyModel(Protocol):
    def entry_ns(self) -> int:
        """Local send -> the command reaches the matching engine."""
        ...

    def response_ns(self) -> int:
        """The exchange emits a report -> Athena receives it."""
        ...

    def describe(self) -> str: ...


class ConstantLatency:
    """Every command takes ``entry_ns`` to arrive; every report ``response_ns`` to come back."""

    __slots__ = ("_entry", "_response")

    def __init__(self, entry_ns: int, response_ns: int) -> None:
        if entry_ns < 0 or response_ns < 0:
            raise ValueError(f"latencies must be >= 0 ns, got entry {entry_ns}, response {response_ns}")
        self._entry = entry_ns
        self._response = response_ns

    def entry_ns(self) -> int:
        return self._entry

    def response_ns(self) -> int:
        return self._response

    def describe(self) -> str:
        return f"latency constant: entry {self._entry} ns, response {self._response} ns"


class LogNormalLatency:
    """Latency = floor_ns + LogNormal(ln(median − floor), sigma), drawn from ``random.Random(seed)``.

    Seeded, so one machine replays it exactly; it draws through ``math.log``/``exp``, so
    cross-machine identity is not promised (DESIGN.md §1)."""

    __slots__ = ("_entry_mu", "_floor", "_medians", "_resp_mu", "_rng", "_seed", "_sigma")

    def __init__(
        self,
        seed: int,
        entry_median_ns: int = 5_000_000,
        response_median_ns: int = 5_000_000,
        sigma: float = 0.5,
        floor_ns: int = 0,
    ) -> None:
        if entry_median_ns <= floor_ns or response_median_ns <= floor_ns:
            raise ValueError("latency medians must exceed floor_ns")
        if sigma < 0:
            raise ValueError(f"sigma must be >= 0, got {sigma}")
        self._seed = seed
        self._rng = random.Random(seed)
        self._sigma = sigma
        self._floor = floor_ns
        self._medians = (entry_median_ns, response_median_ns)
        self._entry_mu = math.log(entry_median_ns - floor_ns)
        self._resp_mu = math.log(response_median_ns - floor_ns)

    def entry_ns(self) -> int:
        return self._floor + int(self._rng.lognormvariate(self._entry_mu, self._sigma))

    def response_ns(self) -> int:
        return self._floor + int(self._rng.lognormvariate(self._resp_mu, self._sigma))

    def describe(self) -> str:
        return (
            f"latency lognormal seed={self._seed}: entry median {self._medians[0]} ns, response median "
            f"{self._medians[1]} ns, sigma {self._sigma}, floor {self._floor} ns (uses log/exp: "
            "cross-machine identity is not promised)"
        )
