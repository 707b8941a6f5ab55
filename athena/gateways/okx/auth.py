"""OKX v5 request signing: REST headers, the WebSocket login, and signature checks.

Owns: ``OkxCredentials`` (API key, secret, passphrase as ``SecretStr``), the REST prehash
``timestamp + METHOD + requestPath(+query) + body`` signed with HMAC-SHA256 and base64 (reference
§2.1), the WS login args (timestamp in seconds, prehash ``timestamp + "GET" + "/users/self/verify"``,
§2.2), and ``verify_signature`` / ``verify_ws_login`` for the emulator.
Never: reads the clock (callers pass ``now_ms``, so signatures are reproducible), does I/O, or puts
a credential into a repr, a log line or an exception message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from athena.errors import GatewayError

WS_LOGIN_METHOD: Final = "GET"
WS_LOGIN_PATH: Final = "/users/self/verify"
_METHODS: Final = frozenset({"GET", "POST", "PUT", "DELETE"})


class OkxAuthError(GatewayError):
    """Signing cannot proceed (missing credential, bad request line). Never names a secret's value."""


class OkxCredentials(BaseModel):
    """An OKX API key. Every field is a ``SecretStr``: repr/str show ``**********``."""

    # hide_input_in_errors: a pydantic ValidationError would otherwise quote the rejected value.
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True, extra="forbid")

    api_key: SecretStr = Field(description="OK-ACCESS-KEY")
    secret_key: SecretStr = Field(description="HMAC-SHA256 key of every signature")
    passphrase: SecretStr = Field(description="OK-ACCESS-PASSPHRASE, chosen when the key was created")

    def __setattr__(self, name: str, value: object) -> None:
        # pydantic's frozen-instance error quotes the assigned value (hide_input_in_errors does not
        # cover it), and that value would be a secret.
        raise OkxAuthError(f"OkxCredentials is immutable (tried to set {name!r}); build a new one instead")

    def __delattr__(self, name: str) -> None:
        raise OkxAuthError(f"OkxCredentials is immutable (tried to delete {name!r})")


def rest_timestamp(now_ms: int) -> str:
    """``OK-ACCESS-TIMESTAMP``: ISO-8601 UTC with milliseconds, e.g. ``2020-12-08T09:08:57.715Z``."""
    if now_ms < 0:
        raise OkxAuthError(f"now_ms must be milliseconds since the epoch, got {now_ms}")
    seconds, millis = divmod(now_ms, 1000)  # integer split: no float rounding of the ms part
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"


def ws_timestamp(now_ms: int) -> str:
    """WS login ``timestamp``: whole Unix seconds as a string."""
    if now_ms < 0:
        raise OkxAuthError(f"now_ms must be milliseconds since the epoch, got {now_ms}")
    return str(now_ms // 1000)


def prehash(timestamp: str, method: str, request_path: str, body: str | bytes = b"") -> bytes:
    """The bytes OKX signs. ``request_path`` includes the query (``/api/v5/account/balance?ccy=BTC``);
    ``body`` is exactly what is sent ("" for GET)."""
    upper = method.upper()
    if upper not in _METHODS:
        raise OkxAuthError(f"HTTP method {method!r} is not one OKX signs; use one of {sorted(_METHODS)}")
    if not request_path.startswith("/"):
        raise OkxAuthError(f"requestPath {request_path!r} must start with '/' (path and query, no host)")
    body_bytes = body.encode() if isinstance(body, str) else body
    return (timestamp + upper + request_path).encode() + body_bytes


def sign(secret: SecretStr | str, message: bytes) -> str:
    """base64(HMAC-SHA256(secret, message))."""
    key = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if not key:
        raise OkxAuthError("the OKX secret key is empty; set OKX_API_SECRET to the key's secret")
    return base64.b64encode(hmac.new(key.encode(), message, hashlib.sha256).digest()).decode()


def rest_headers(
    credentials: OkxCredentials,
    method: str,
    request_path: str,
    body: str | bytes = b"",
    *,
    now_ms: int,
    demo: bool = False,
) -> dict[str, str]:
    """Headers of one private REST request (sign the exact body bytes you send)."""
    api_key = credentials.api_key.get_secret_value()
    passphrase = credentials.passphrase.get_secret_value()
    if not api_key or not passphrase:
        raise OkxAuthError("the OKX API key or passphrase is empty; set OKX_API_KEY and OKX_API_PASSPHRASE")
    timestamp = rest_timestamp(now_ms)
    headers = {
        "OK-ACCESS-KEY": api_key,
        "OK-ACCESS-SIGN": sign(credentials.secret_key, prehash(timestamp, method, request_path, body)),
        "OK-ACCESS-TIMESTAMP": timestamp,
        "OK-ACCESS-PASSPHRASE": passphrase,
        "Content-Type": "application/json",
    }
    if demo:
        headers["x-simulated-trading"] = "1"
    return headers


def ws_login_args(credentials: OkxCredentials, *, now_ms: int) -> dict[str, str]:
    """The one ``args`` element of ``{"op":"login","args":[...]}``."""
    api_key = credentials.api_key.get_secret_value()
    passphrase = credentials.passphrase.get_secret_value()
    if not api_key or not passphrase:
        raise OkxAuthError("the OKX API key or passphrase is empty; set OKX_API_KEY and OKX_API_PASSPHRASE")
    timestamp = ws_timestamp(now_ms)
    return {
        "apiKey": api_key,
        "passphrase": passphrase,
        "timestamp": timestamp,
        "sign": sign(credentials.secret_key, prehash(timestamp, WS_LOGIN_METHOD, WS_LOGIN_PATH)),
    }


def ws_login_request(credentials: OkxCredentials, *, now_ms: int) -> dict[str, object]:
    """The whole login request, ready to JSON-encode."""
    return {"op": "login", "args": [ws_login_args(credentials, now_ms=now_ms)]}


def verify_signature(
    secret: SecretStr | str,
    timestamp: str,
    method: str,
    request_path: str,
    body: str | bytes,
    signature: str,
) -> bool:
    """True iff ``signature`` is OKX's REST signature of this request (constant-time compare)."""
    try:
        expected = sign(secret, prehash(timestamp, method, request_path, body))
    except OkxAuthError:
        return False
    return hmac.compare_digest(expected.encode(), signature.encode())


def verify_ws_login(secret: SecretStr | str, timestamp: str, signature: str) -> bool:
    """True iff ``signature`` is the WS login signature for ``timestamp``."""
    return verify_signature(secret, timestamp, WS_LOGIN_METHOD, WS_LOGIN_PATH, b"", signature)
