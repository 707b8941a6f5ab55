"""The AthenaError family: every failure a user can cause or fix.

Owns: the exception classes that cross layers and the CLI's contract with them (the CLI prints
``str(err)`` as one line and exits 1; anything else is a bug of ours and keeps its traceback).
Never: imports anything of Athena's (every layer may import this module).

Every message says what went wrong, where, and what to do about it.
"""

from __future__ import annotations


class AthenaError(Exception):
    """A failure the user can act on; its message says what to do."""

    exit_code: int = 1


class ConfigError(AthenaError):
    """Invalid configuration: names the file, the key, the value and what was expected."""


class InstrumentError(AthenaError):
    """An instrument spec that is missing or a value that does not fit it (tick/lot multiples)."""


class OrderStateError(AthenaError):
    """An illegal order state transition (a bug in whoever drove it, never an exchange quirk)."""


class CatalogError(AthenaError):
    """A catalog that cannot be read or written, or an input file that does not fit its schema."""


class BookError(AthenaError):
    """The local L2 book cannot be trusted any more; the caller resyncs (fresh snapshot)."""


class BookSequenceError(BookError):
    """A books message whose prevSeqId does not continue the book's seqId (a gap)."""


class BookChecksumError(BookError):
    """A books message whose checksum differs from the one computed over the rebuilt book."""


class BookCrossedError(BookError):
    """The rebuilt book has best bid >= best ask."""


class SimulationError(AthenaError):
    """A backtest that cannot run as configured (no data in the range, bad model parameters)."""


class GatewayError(AthenaError):
    """A gateway-level failure (connection, protocol) that the caller may retry."""


class OkxApiError(GatewayError):
    """OKX answered with a non-zero code; ``code`` and ``msg`` are OKX's own."""

    def __init__(self, code: str, msg: str, *, http_status: int | None = None) -> None:
        self.code = code
        self.msg = msg
        self.http_status = http_status
        where = f" (HTTP {http_status})" if http_status is not None else ""
        super().__init__(f"OKX error {code}{where}: {msg}")
