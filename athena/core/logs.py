"""Structured logging for every layer: one line per record, key=value or JSON lines, secrets masked.

Owns: the two formatters (``KeyValueFormatter``: ISO time, level, logger, message, then the
record's extra fields as sorted key=value; ``JsonLinesFormatter``: one JSON object a line), the
process-wide registry of secret values, ``RedactingFilter`` (masks registered secrets and OKX
signature/passphrase values in messages, arguments and extras) and ``setup_logging``.
Never: reads the wall clock itself (the time shown is the record's own ``created``, stamped by the
logging module), imports anything of Athena's but the model layer, or lets a registered secret
reach a handler's output.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

REDACTED = "***"

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

# OKX credentials that travel in requests: the REST headers OK-ACCESS-SIGN / OK-ACCESS-PASSPHRASE
# and the WebSocket login's "sign" / "passphrase" fields, in dict reprs, JSON or key=value text.
_HEADER_RE = re.compile(
    r"""(?ix)
    (?<![\w-])
    (["']?(?:ok-access-sign|ok-access-passphrase|sign|passphrase)["']?\s*[:=]\s*["']?)
    ([^"',\s}\]]+)
    """
)

_secrets: set[str] = set()
_MIN_SECRET_LEN = 4  # shorter values would mask ordinary words and numbers


def register_secret(value: str | None) -> None:
    """Mask ``value`` in every log record from now on (config loading registers each SecretStr)."""
    if value and len(value) >= _MIN_SECRET_LEN:
        _secrets.add(value)


def redact(text: str) -> str:
    """``text`` with registered secrets and OKX signature/passphrase values replaced by ***."""
    # longest first, so a secret that contains another is masked whole
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _HEADER_RE.sub(lambda m: m.group(1) + REDACTED, text)


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS and not k.startswith("_")}


class RedactingFilter(logging.Filter):
    """Rewrites a record so that its message, arguments and extras carry no secret.

    Attach it to handlers (a logger's filter does not see records propagated from its children).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        for key, value in _extras(record).items():
            if isinstance(value, str):
                setattr(record, key, redact(value))
            elif not isinstance(value, int | float | bool) and value is not None:
                text = repr(value)
                if redact(text) != text:
                    setattr(record, key, redact(text))
        return True


def _iso(created: float) -> str:
    # conversion of the record's own timestamp, not a clock read
    return datetime.fromtimestamp(created, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _kv(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value) if not isinstance(value, int | float | bool) else str(value)
    if text == "" or any(c.isspace() or c in "\"'=" for c in text):
        return json.dumps(text, ensure_ascii=False)
    return text


class KeyValueFormatter(logging.Formatter):
    """``2024-05-01T08:00:00.123Z INFO athena.oms.orders order sent inst=BTC-USDT-SWAP lots=3``."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_iso(record.created), record.levelname, record.name, record.getMessage()]
        parts += [f"{k}={_kv(v)}" for k, v in sorted(_extras(record).items())]
        line = " ".join(parts)
        if record.exc_info:
            line += " exc=" + json.dumps(self.formatException(record.exc_info), ensure_ascii=False)
        elif record.exc_text:
            line += " exc=" + json.dumps(record.exc_text, ensure_ascii=False)
        return redact(line)


class JsonLinesFormatter(logging.Formatter):
    """One JSON object a record: ``{"ts":…,"level":…,"logger":…,"msg":…, <extras>}``."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": _iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in sorted(_extras(record).items()):
            out.setdefault(key, value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(out, ensure_ascii=False, default=repr, separators=(",", ":")))


_HANDLER_NAME = "athena"


def setup_logging(level: int | str = "INFO", json: bool = False, stream: TextIO | None = None) -> logging.Handler:
    """Route the root logger to one stderr handler (replacing a previous one of ours).

    ``level`` is a level name (``"debug"`` works too) or number; ``json`` picks JSON lines.
    """
    if isinstance(level, str):
        name = level.upper()
        number = logging.getLevelName(name)
        if not isinstance(number, int):
            raise ValueError(f"unknown log level {level!r}; expected DEBUG, INFO, WARNING or ERROR")
        level = number
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonLinesFormatter() if json else KeyValueFormatter())
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    return handler
