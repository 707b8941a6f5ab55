"""The typed, frozen configuration of one Athena run.

Owns: every setting Athena reads, its type, its default (documented where it is declared) and
the checks on one value or one section; the OKX URLs derived from an endpoint choice; a redacted
dump for run folders.
Never: reads files or the environment (that is ``loader.py``), or shows a secret in ``repr``,
``str`` or a dump (secrets are ``SecretStr``).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, model_validator


class Environment(StrEnum):
    """Which ``config/<env>.json`` layer is applied over ``config/base.json``."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"
    TEST = "test"


class LogLevel(StrEnum):
    """Threshold of the root logger."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class OkxEndpoint(StrEnum):
    """The two OKX venues; any other endpoint is an http(s) URL (``athena sim-server``)."""

    PRODUCTION = "production"
    DEMO = "demo"


class QueueModel(StrEnum):
    """Queue-position model of passive fills (DESIGN §6)."""

    RISK_AVERSE = "risk_averse"
    PROBABILISTIC = "probabilistic"


class LatencyModel(StrEnum):
    """How order entry and response latencies are drawn (DESIGN §6)."""

    CONSTANT = "constant"
    LOGNORMAL = "lognormal"


# ---- value types shared by the models (validators travel with the annotation, so the
# all-optional copies the loader builds check a single layer the same way) -------------------

_INST_RE = re.compile(r"^[A-Z0-9]+(-[A-Z0-9]+)+$")


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _inst_id(value: str) -> str:
    if not _INST_RE.match(value):
        raise ValueError(f"expected an OKX instrument id such as 'BTC-USDT-SWAP', got {value!r}")
    return value


def _symbol_list(value: Any) -> Any:
    """'BTC-USDT-SWAP,ETH-USDT-SWAP' or a JSON list (environment variables) -> list."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError as err:
                raise ValueError(f"expected a comma-separated list or a JSON list ({err.msg})") from None
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


def _endpoint(value: str) -> str:
    text = value.strip()
    if text.lower() in (OkxEndpoint.PRODUCTION, OkxEndpoint.DEMO):
        return text.lower()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected 'production', 'demo' or an http(s) URL such as 'http://127.0.0.1:8443'")
    return text.rstrip("/")


def _as_utc(value: Any) -> Any:
    """ISO date or datetime; a value without a zone is UTC (every time in Athena is UTC)."""
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                "expected an ISO 8601 date or time such as '2024-05-01' or '2024-05-01T08:00:00Z'"
            ) from None
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


InstId = Annotated[str, BeforeValidator(_upper), AfterValidator(_inst_id)]
Symbols = Annotated[list[InstId], BeforeValidator(_symbol_list)]
Endpoint = Annotated[str, AfterValidator(_endpoint)]
UtcTime = Annotated[datetime, BeforeValidator(_as_utc)]
Fraction01 = Annotated[float, Field(ge=0.0, le=1.0)]

_FROZEN = ConfigDict(frozen=True, extra="forbid", use_enum_values=False, validate_default=True)

# OKX hosts, okx-v5-reference.md §1.1 (global site). Demo uses the production REST host with the
# header ``x-simulated-trading: 1`` and its own WebSocket host.
_OKX_REST = "https://www.okx.com"
_OKX_WS = {OkxEndpoint.PRODUCTION: "wss://ws.okx.com:8443", OkxEndpoint.DEMO: "wss://wspap.okx.com:8443"}


class OkxConfig(BaseModel):
    """Where the OKX gateways connect and with which API key."""

    model_config = _FROZEN

    api_key: SecretStr | None = Field(None, description="OKX API key (env OKX_API_KEY); needed only by `live`")
    api_secret: SecretStr | None = Field(None, description="OKX API secret (env OKX_API_SECRET)")
    api_passphrase: SecretStr | None = Field(None, description="OKX API passphrase (env OKX_API_PASSPHRASE)")
    endpoint: Endpoint = Field(
        OkxEndpoint.DEMO.value,
        description="'production', 'demo' (OKX simulated trading; the safe default) or the http(s) URL of "
        "an OKX-compatible server such as `athena sim-server` (WebSockets at <url>/ws/v5/...)",
    )

    @property
    def venue(self) -> OkxEndpoint | None:
        """PRODUCTION or DEMO; None for a URL endpoint (an emulator)."""
        return OkxEndpoint(self.endpoint) if self.endpoint in (OkxEndpoint.PRODUCTION, OkxEndpoint.DEMO) else None

    @property
    def simulated_trading(self) -> bool:
        """Whether REST requests carry ``x-simulated-trading: 1`` (OKX demo only)."""
        return self.venue is OkxEndpoint.DEMO

    @property
    def rest_url(self) -> str:
        return _OKX_REST if self.venue is not None else self.endpoint

    @property
    def ws_public_url(self) -> str:
        return self._ws("public")

    @property
    def ws_private_url(self) -> str:
        return self._ws("private")

    @property
    def ws_business_url(self) -> str:
        return self._ws("business")

    @property
    def has_credentials(self) -> bool:
        return self.api_key is not None and self.api_secret is not None and self.api_passphrase is not None

    def _ws(self, socket: str) -> str:
        venue = self.venue
        if venue is not None:
            return f"{_OKX_WS[venue]}/ws/v5/{socket}"
        parts = urlsplit(self.endpoint)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return f"{scheme}://{parts.netloc}/ws/v5/{socket}"


class CapitalConfig(BaseModel):
    """The account's capital and how it is split between strategies (CapitalCommander)."""

    model_config = _FROZEN

    total_usdt: float = Field(10_000.0, gt=0, description="equity in USDT that Athena may use")
    allocations: dict[str, Fraction01] = Field(
        default_factory=dict,
        description="fraction of total_usdt per strategy name (0..1 each, summing to at most 1); "
        "a strategy without an entry gets nothing",
    )

    @property
    def total_capital(self) -> float:
        """``total_usdt`` under the name ``CapitalCommander.from_config`` reads."""
        return self.total_usdt

    @model_validator(mode="after")
    def _allocations_fit(self) -> CapitalConfig:
        total = math.fsum(self.allocations.values())
        if total > 1.0 + 1e-12:
            shares = ", ".join(f"{k}={v:g}" for k, v in sorted(self.allocations.items()))
            raise ValueError(f"allocations sum to {total:g} ({shares}); expected at most 1")
        return self


class RiskConfig(BaseModel):
    """Pre-trade limits and the kill switch (DESIGN §6a)."""

    model_config = _FROZEN

    risk_per_trade: float = Field(
        0.01, gt=0, le=1, description="max loss if the protective stop is hit, as a fraction of equity (the 1 % rule)"
    )
    max_leverage: float = Field(
        3.0, gt=0, description="cap on worst-case exposure after an order ÷ equity; reduce-only orders are exempt"
    )
    max_drawdown: float = Field(
        0.2, gt=0, le=1, description="drawdown from peak equity (fraction) that trips the kill switch"
    )
    flatten_on_drawdown: bool = Field(
        False,
        description="when max_drawdown trips: also cancel everything and close positions (else block new entries)",
    )
    price_band_pct: float = Field(
        0.05, gt=0, le=1, description="reject a limit price further than this fraction from the mid/mark price"
    )
    max_open_orders: int = Field(20, gt=0, description="max orders pending at once (per strategy)")
    max_order_rate: int = Field(10, gt=0, description="max new orders sent per order_rate_window_s")
    order_rate_window_s: float = Field(1.0, gt=0, description="window of max_order_rate, seconds")
    max_notional_usdt: float | None = Field(None, gt=0, description="cap on one order's notional in USDT; null = none")
    exit_confirm_timeout_ms: int = Field(
        2_000,
        gt=0,
        description="how long a reduce-only exit waits for cancels of other exits before falling back to "
        "close-position with autoCxl",
    )


class BacktestConfig(BaseModel):
    """The simulated exchange and the replay of `athena backtest` (DESIGN §6)."""

    model_config = _FROZEN

    inst: InstId = Field("BTC-USDT-SWAP", description="instrument replayed when --inst is not given")
    start: UtcTime | None = Field(None, description="first instant replayed (ISO 8601, UTC); None = start of data")
    end: UtcTime | None = Field(None, description="instant where the replay stops (ISO 8601, UTC); None = end of data")
    seed: int = Field(0, ge=0, description="seed of every random draw (latency sampling); same seed, same run")
    queue_model: QueueModel = Field(
        QueueModel.RISK_AVERSE,
        description="risk_averse: only trades at our price advance us; probabilistic: also cancels",
    )
    queue_power: int = Field(2, ge=1, description="n in the probabilistic model's back^n / (back^n + front^n)")
    latency_model: LatencyModel = Field(
        LatencyModel.CONSTANT, description="constant latencies, or lognormal draws around them (seeded)"
    )
    entry_latency_ms: float = Field(10.0, ge=0, description="local send -> order reaches the exchange's book")
    response_latency_ms: float = Field(5.0, ge=0, description="exchange event -> its ack/fill reaches the core")
    latency_sigma: float = Field(0.5, gt=0, description="sigma of the lognormal latency model (ignored when constant)")
    maker_fee: float = Field(
        -0.0002, description="maker fee rate, OKX sign (negative = paid): regular tier for swaps, 0.02 %"
    )
    taker_fee: float = Field(
        -0.0005, description="taker fee rate, OKX sign (negative = paid): regular tier for swaps, 0.05 %"
    )
    leverage: float = Field(3.0, gt=0, description="account leverage used for initial margin (notional ÷ leverage)")

    @model_validator(mode="after")
    def _range_is_forward(self) -> BacktestConfig:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError(f"end {self.end.isoformat()} is not after start {self.start.isoformat()}")
        return self


class AthenaConfig(BaseModel):
    """Everything one run of Athena is configured with; built by ``athena.config.load_config``."""

    model_config = _FROZEN

    env: Environment = Field(Environment.DEVELOPMENT, description="the layer chosen by ATHENA_ENV")
    catalog_root: Path = Field(
        Path("data/catalog"), description="root of the Parquet catalog (recordings, imports); relative to the cwd"
    )
    sample_root: Path = Field(Path("data/sample"), description="root of the embedded sample catalog")
    log_level: Annotated[LogLevel, BeforeValidator(_upper)] = Field(LogLevel.INFO, description="root log level")
    symbols: Symbols = Field(
        default_factory=lambda: ["BTC-USDT-SWAP"],
        min_length=1,
        description="instruments traded or recorded (env ATHENA_SYMBOLS: comma list or JSON list)",
    )
    okx: OkxConfig = Field(default_factory=OkxConfig, description="OKX endpoint and credentials")
    capital: CapitalConfig = Field(default_factory=CapitalConfig, description="capital and its split")
    risk: RiskConfig = Field(default_factory=RiskConfig, description="pre-trade limits and kill switch")
    backtest: BacktestConfig = Field(default_factory=BacktestConfig, description="simulated exchange settings")
    strategies: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="raw settings per strategy name; each strategy validates its own section",
    )

    def redacted_dict(self) -> dict[str, Any]:
        """JSON-ready dump for run folders: secrets set are '**********', unset ones null."""
        return self.model_dump(mode="json")

    def secrets(self) -> list[str]:
        """The plain values of every secret set (for the log redaction registry)."""
        return [s.get_secret_value() for s in (self.okx.api_key, self.okx.api_secret, self.okx.api_passphrase) if s]
