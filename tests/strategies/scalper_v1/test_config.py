from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from pydantic import ValidationError

from athena.errors import ConfigError
from athena.strategies.scalper_v1.config import (
    ExecutionConfig,
    OmsSettings,
    ScalperV1Config,
    exact_ratio,
    seconds_to_ns,
)

ROOT = Path(__file__).resolve().parents[3]


def test_defaults_are_the_documented_values():
    c = ScalperV1Config()
    assert (c.inst_id, c.ema_period, c.imbalance_ratio, c.min_flow_usdt) == ("BTC-USDT-SWAP", 50, 5.0, 5000.0)
    assert (c.flow_window_s, c.large_trade_usdt, c.spread_threshold_pct) == (5.0, 10_000.0, 0.0005)
    assert (c.cooldown_seconds, c.post_exit_lock_s) == (0.0, 10.0)  # DESIGN §6a: cooldown 0 (HFT)
    assert (c.trailing_activation_pct, c.trailing_callback_pct) == (0.001, 0.0005)
    assert (c.position_anomaly_limit, c.order_ttl_s, c.sync_interval_s, c.order_size) == (4.0, 10.0, 15.0, 1.0)
    e = c.execution
    assert (e.aggressive_maker_spread_ticks, e.aggressive_maker_price_offset, e.is_paper_trading) == (2.0, 1.0, False)
    assert (e.min_order_life_seconds, e.min_chasing_distance_pct) == (2.0, 0.0005)


def test_every_field_documents_itself():
    for model in (ScalperV1Config, ExecutionConfig):
        missing = [name for name, f in model.model_fields.items() if not f.description]
        assert missing == []


def test_config_is_frozen():
    c = ScalperV1Config()
    with pytest.raises(ValidationError):
        c.ema_period = 10  # type: ignore[misc]
    with pytest.raises(ValidationError):
        c.execution.is_paper_trading = True  # type: ignore[misc]


def test_loads_from_a_dict_with_nested_execution():
    c = ScalperV1Config.from_dict({"ema_period": 20, "execution": {"is_paper_trading": True}})
    assert c.ema_period == 20
    assert c.execution.is_paper_trading is True
    assert c.execution.min_order_life_seconds == 2.0


def test_bad_value_names_the_key_and_the_value():
    with pytest.raises(ConfigError) as exc:
        ScalperV1Config.from_dict({"ema_period": 0})
    msg = str(exc.value)
    assert msg.startswith("strategies.scalper_v1.ema_period = 0 — ")
    assert "greater than or equal to 1" in msg


def test_bad_nested_value_names_the_dotted_key():
    with pytest.raises(ConfigError) as exc:
        ScalperV1Config.from_dict({"execution": {"min_order_life_seconds": -1}})
    assert "strategies.scalper_v1.execution.min_order_life_seconds = -1" in str(exc.value)


def test_wrong_type_is_refused_with_the_key():
    with pytest.raises(ConfigError) as exc:
        ScalperV1Config.from_dict({"imbalance_ratio": "five"})
    assert "strategies.scalper_v1.imbalance_ratio = 'five'" in str(exc.value)


def test_unknown_key_lists_the_known_ones():
    with pytest.raises(ConfigError) as exc:
        ScalperV1Config.from_dict({"imbalance": 5})
    msg = str(exc.value)
    assert "strategies.scalper_v1.imbalance = 5 — unknown key; expected one of:" in msg
    assert "imbalance_ratio" in msg


def test_not_a_number_is_refused():
    with pytest.raises(ConfigError) as exc:
        ScalperV1Config.from_dict({"min_flow_usdt": math.nan})
    assert "strategies.scalper_v1.min_flow_usdt" in str(exc.value)


def test_order_size_beyond_the_anomaly_limit_is_refused():
    with pytest.raises(ConfigError) as exc:
        ScalperV1Config.from_dict({"order_size": 5, "position_anomaly_limit": 4})
    assert "order_size 5 exceeds position_anomaly_limit 4" in str(exc.value)


def test_section_that_is_not_an_object_is_refused():
    with pytest.raises(ConfigError) as exc:
        ScalperV1Config.from_dict([1, 2])  # type: ignore[arg-type]
    assert str(exc.value) == "strategies.scalper_v1: expected an object {...}, found list"


def test_every_repo_config_layer_section_validates():
    sections = 0
    for path in sorted((ROOT / "config").glob("*.json")):
        raw = json.loads(path.read_text()).get("strategies", {}).get("scalper_v1")
        if raw is not None:
            sections += 1
            assert isinstance(ScalperV1Config.from_dict(raw), ScalperV1Config)
    assert sections >= 1  # base.json has one


def test_oms_settings_carry_ttl_sync_and_stop():
    c = ScalperV1Config.from_dict({"order_ttl_s": 12, "sync_interval_s": 30, "stop_loss_pct": 0.002})
    assert c.oms_settings() == OmsSettings(order_ttl_s=12.0, position_sync_s=30.0, stop_loss_pct=0.002)


def test_exact_ratio_reads_the_decimal_as_written():
    assert exact_ratio(0.0005) == (1, 2000)
    assert exact_ratio(0.001) == (1, 1000)
    assert exact_ratio(5.0) == (5, 1)
    assert exact_ratio(4.9) == (49, 10)


def test_seconds_to_ns_is_whole_nanoseconds():
    assert seconds_to_ns(10.0) == 10_000_000_000
    assert seconds_to_ns(2.0) == 2_000_000_000
    assert seconds_to_ns(0.1) == 100_000_000
