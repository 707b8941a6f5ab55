"""Client order ids (OKX ``clOrdId`` / ``algoClOrdId``) and request ids.

Owns: minting ids that follow OKX's rule (1–32 ASCII letters and digits, nothing else) and are
unique for the life of one factory: ``<session><strategy prefix><8-digit counter>``, one counter
shared by every strategy, so two ids differ in their last 8 characters whatever the prefixes.
Never: reads a clock or draws random numbers (ids must be the same on every run of a backtest).
A live process that restarts passes a new ``session`` token (chosen by the composition root),
because OKX refuses a clOrdId still used by a pending order (51016).
"""

from __future__ import annotations

from athena.errors import AthenaError

MAX_ID_LEN = 32
_COUNTER_DIGITS = 8
_COUNTER_LIMIT = 10**_COUNTER_DIGITS
_MAX_PREFIX = MAX_ID_LEN - _COUNTER_DIGITS
_MAX_SESSION = 8


def is_valid_cl_ord_id(value: str) -> bool:
    """OKX's rule for clOrdId and algoClOrdId: 1–32 characters, ASCII letters and digits only."""
    return 0 < len(value) <= MAX_ID_LEN and value.isascii() and value.isalnum()


def _alnum(text: str) -> str:
    return "".join(c for c in text if c.isascii() and c.isalnum())


class ClOrdIdFactory:
    """Deterministic id source: ``new(strategy_id)`` for orders and algo orders, ``new_req()`` for
    request ids (never sent as a clOrdId, so they have their own counter)."""

    __slots__ = ("_n", "_prefixes", "_req_n", "_session")

    def __init__(self, session: str = "") -> None:
        self._session = _alnum(session)[:_MAX_SESSION]
        self._n = 0
        self._req_n = 0
        self._prefixes: dict[str, str] = {}

    @property
    def issued(self) -> int:
        return self._n

    def new(self, strategy_id: str) -> str:
        prefix = self._prefixes.get(strategy_id)
        if prefix is None:
            prefix = (self._session + _alnum(strategy_id))[:_MAX_PREFIX]
            self._prefixes[strategy_id] = prefix
        self._n += 1
        if self._n >= _COUNTER_LIMIT:
            # A wider counter would break the fixed-width uniqueness argument above.
            raise AthenaError(f"{_COUNTER_LIMIT - 1} client order ids issued in one session; start a new session token")
        return f"{prefix}{self._n:0{_COUNTER_DIGITS}d}"

    def new_req(self) -> str:
        self._req_n += 1
        return f"q{self._session}{self._req_n}"
