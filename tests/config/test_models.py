"""AthenaConfig and its sections: defaults, per-value checks, OKX URLs, secrets kept out of sight."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import SecretStr, ValidationError

from athena.config import (
    AthenaConfig,
    BacktestConfig,
    CapitalConfig,
    Environment,
    LatencyModel,
    OkxConfig,
    OkxEndpoint,
    QueueModel,
    RiskConfig,
)


def test_defaults_are_the_documented_ones():
    cfg = AthenaConfig()
    assert cfg.env is Environment.DEVELOPMENT
    assert str(cfg.catalog_root) == "data/catalog"
    assert str(cfg.sample_root) == "data/sample"
    assert cfg.symbols == ["BTC-USDT-SWAP"]
    assert cfg.okx.endpoint == "demo"
    assert cfg.capital.total_usdt == 10_000.0
    assert (cfg.risk.risk_per_trade, cfg.risk.max_leverage, cfg.risk.max_drawdown) == (0.01, 3.0, 0.2)
    assert cfg.risk.flatten_on_drawdown is False
    assert cfg.risk.price_band_pct == 0.05
    bt = cfg.backtest
    assert bt.queue_model is QueueModel.RISK_AVERSE and bt.latency_model is LatencyModel.CONSTANT
    assert (bt.seed, bt.queue_power, bt.entry_latency_ms, bt.response_latency_ms) == (0, 2, 10.0, 5.0)
    # OKX sign: negative = paid; regular tier for swaps is 0.02 % maker, 0.05 % taker
    assert (bt.maker_fee, bt.taker_fee, bt.leverage) == (-0.0002, -0.0005, 3.0)
    assert cfg.strategies == {}


def test_every_field_documents_its_meaning():
    undocumented = [
        f"{model.__name__}.{name}"
        for model in (AthenaConfig, OkxConfig, CapitalConfig, RiskConfig, BacktestConfig)
        for name, field in model.model_fields.items()
        if not field.description
    ]
    assert undocumented == []


def test_config_is_frozen():
    cfg = AthenaConfig()
    with pytest.raises(ValidationError):
        cfg.capital.total_usdt = 5.0  # type: ignore[misc]


def test_production_endpoint_uses_the_okx_production_hosts():
    okx = OkxConfig(endpoint="production")
    assert okx.venue is OkxEndpoint.PRODUCTION
    assert okx.rest_url == "https://www.okx.com"
    assert okx.ws_public_url == "wss://ws.okx.com:8443/ws/v5/public"
    assert okx.ws_private_url == "wss://ws.okx.com:8443/ws/v5/private"
    assert okx.ws_business_url == "wss://ws.okx.com:8443/ws/v5/business"
    assert okx.simulated_trading is False


def test_demo_endpoint_uses_wspap_and_the_simulated_trading_header():
    okx = OkxConfig(endpoint="DEMO")
    assert okx.endpoint == "demo"
    assert okx.rest_url == "https://www.okx.com"
    assert okx.ws_public_url == "wss://wspap.okx.com:8443/ws/v5/public"
    assert okx.ws_private_url == "wss://wspap.okx.com:8443/ws/v5/private"
    assert okx.ws_business_url == "wss://wspap.okx.com:8443/ws/v5/business"
    assert okx.simulated_trading is True


def test_url_endpoint_derives_rest_and_websocket_urls_on_the_same_port():
    okx = OkxConfig(endpoint="http://127.0.0.1:18443/")
    assert okx.venue is None
    assert okx.rest_url == "http://127.0.0.1:18443"
    assert okx.ws_public_url == "ws://127.0.0.1:18443/ws/v5/public"
    assert okx.ws_private_url == "ws://127.0.0.1:18443/ws/v5/private"
    assert okx.ws_business_url == "ws://127.0.0.1:18443/ws/v5/business"
    assert okx.simulated_trading is False


def test_https_endpoint_derives_wss():
    assert OkxConfig(endpoint="https://localhost:9443").ws_private_url == "wss://localhost:9443/ws/v5/private"


@pytest.mark.parametrize("endpoint", ["staging", "ftp://127.0.0.1:21", "http://"])
def test_other_endpoints_are_refused(endpoint: str):
    with pytest.raises(ValidationError, match="expected 'production', 'demo' or an http"):
        OkxConfig(endpoint=endpoint)


def test_allocations_summing_over_one_are_refused():
    with pytest.raises(ValidationError, match=r"allocations sum to 1\.1 \(a=0\.6, b=0\.5\)"):
        CapitalConfig(allocations={"a": 0.6, "b": 0.5})


def test_allocations_summing_to_exactly_one_pass():
    # ten tenths: 0.9999999999999999 with +, exactly 1 with fsum; both must pass
    shares = {f"s{i}": 0.1 for i in range(10)}
    assert len(CapitalConfig(allocations=shares).allocations) == 10


def test_symbols_are_upper_cased_and_a_comma_list_is_split():
    assert AthenaConfig(symbols="btc-usdt-swap, eth-usdt-swap").symbols == ["BTC-USDT-SWAP", "ETH-USDT-SWAP"]
    assert AthenaConfig(symbols='["SOL-USDT-SWAP"]').symbols == ["SOL-USDT-SWAP"]


def test_backtest_times_without_zone_are_utc_and_must_go_forward():
    bt = BacktestConfig(start="2024-05-01", end="2024-05-01T08:00:00+02:00")
    assert bt.start == datetime(2024, 5, 1, tzinfo=UTC)
    assert bt.end == datetime(2024, 5, 1, 6, tzinfo=UTC)
    with pytest.raises(ValidationError, match="is not after start"):
        BacktestConfig(start="2024-05-02", end="2024-05-01")


def test_repr_and_redacted_dict_hide_secrets():
    cfg = AthenaConfig(okx=OkxConfig(api_key=SecretStr("key-1234"), api_secret="secret-5678", api_passphrase="pass-9"))
    dumped = cfg.redacted_dict()
    for secret in ("key-1234", "secret-5678", "pass-9"):
        assert secret not in repr(cfg)
        assert secret not in str(cfg)
        assert secret not in str(dumped)
    assert dumped["okx"]["api_secret"] == "**********"
    assert AthenaConfig().redacted_dict()["okx"]["api_key"] is None
    assert sorted(cfg.secrets()) == ["key-1234", "pass-9", "secret-5678"]
    assert cfg.okx.has_credentials is True
