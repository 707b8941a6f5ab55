"""load_config: the layer order, errors that name their file/variable and key, secrets registered."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from athena.config import Environment, load_config
from athena.core.logs import redact
from athena.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ATHENA_* / OKX_* variable of the machine leaks in; the cwd holds no .env."""
    for name in list(os.environ):
        if name.upper().startswith(("ATHENA_", "OKX_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write(root: Path, name: str, data: dict[str, Any] | str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2), encoding="utf-8")
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    write(
        tmp_path,
        "config/base.json",
        {
            "capital": {"total_usdt": 1000},
            "risk": {"max_leverage": 2.0, "risk_per_trade": 0.02},
            "backtest": {"queue_power": 3},
        },
    )
    write(tmp_path, "config/development.json", {"capital": {"total_usdt": 2000}, "risk": {"max_leverage": 2.5}})
    write(tmp_path, "config/production.json", {"okx": {"endpoint": "production"}})
    write(tmp_path, "config/test.json", {"okx": {"endpoint": "http://127.0.0.1:9999"}})
    return tmp_path


def test_each_layer_overrides_the_one_below(root: Path, monkeypatch: pytest.MonkeyPatch):
    assert load_config(root).capital.total_usdt == 2000  # development over base
    write(root, "config/local.json", {"capital": {"total_usdt": 3000}})
    assert load_config(root).capital.total_usdt == 3000  # local over development
    monkeypatch.setenv("ATHENA_CAPITAL__TOTAL_USDT", "4000")
    cfg = load_config(root)
    assert cfg.capital.total_usdt == 4000  # environment over local
    # keys no upper layer touched keep the lower layer's value (a deep merge, not a replace)
    assert (cfg.risk.max_leverage, cfg.risk.risk_per_trade, cfg.backtest.queue_power) == (2.5, 0.02, 3)
    assert cfg.risk.max_drawdown == 0.2  # the model default under every layer
    assert load_config(root, overrides={"capital": {"total_usdt": 5000}}).capital.total_usdt == 5000


def test_extra_config_file_sits_between_local_and_the_environment(root: Path, monkeypatch: pytest.MonkeyPatch):
    write(root, "config/local.json", {"capital": {"total_usdt": 3000}, "risk": {"max_leverage": 1.5}})
    extra = write(root, "run.json", {"capital": {"total_usdt": 3500}, "risk": {"max_leverage": 1.25}})
    monkeypatch.setenv("ATHENA_CAPITAL__TOTAL_USDT", "4000")
    cfg = load_config(root, files=[extra])
    assert (cfg.capital.total_usdt, cfg.risk.max_leverage) == (4000, 1.25)


def test_athena_env_picks_the_environment_layer_and_the_argument_wins(root: Path, monkeypatch: pytest.MonkeyPatch):
    assert load_config(root).env is Environment.DEVELOPMENT
    monkeypatch.setenv("ATHENA_ENV", "production")
    cfg = load_config(root)
    assert cfg.env is Environment.PRODUCTION
    assert cfg.okx.endpoint == "production"
    assert cfg.capital.total_usdt == 1000  # development.json not applied
    cfg = load_config(root, env="test")
    assert (cfg.env, cfg.okx.ws_public_url) == (Environment.TEST, "ws://127.0.0.1:9999/ws/v5/public")


def test_dotenv_is_read_and_the_process_environment_beats_it(root: Path, monkeypatch: pytest.MonkeyPatch):
    write(root, ".env", "ATHENA_CAPITAL__TOTAL_USDT=6000\nATHENA_RISK__MAX_DRAWDOWN=0.1\nATHENA_ENV=test\n")
    monkeypatch.setenv("ATHENA_RISK__MAX_DRAWDOWN", "0.3")
    cfg = load_config(root)
    assert (cfg.capital.total_usdt, cfg.risk.max_drawdown, cfg.env) == (6000, 0.3, Environment.TEST)


def test_symbols_from_the_environment_as_comma_list_or_json(root: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ATHENA_SYMBOLS", "btc-usdt-swap,ETH-USDT-SWAP")
    assert load_config(root).symbols == ["BTC-USDT-SWAP", "ETH-USDT-SWAP"]
    monkeypatch.setenv("ATHENA_SYMBOLS", '["SOL-USDT-SWAP"]')
    assert load_config(root).symbols == ["SOL-USDT-SWAP"]


def test_okx_credentials_come_from_okx_api_variables_and_are_registered_for_redaction(
    root: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("OKX_API_KEY", "fake-key-7f3a")
    monkeypatch.setenv("OKX_API_PASSPHRASE", "fake-pass-19c2")
    write(root, ".env", "OKX_API_SECRET=fake-secret-d41d\n")
    cfg = load_config(root)
    assert cfg.okx.api_key is not None and cfg.okx.api_key.get_secret_value() == "fake-key-7f3a"
    assert cfg.okx.api_secret is not None and cfg.okx.api_secret.get_secret_value() == "fake-secret-d41d"
    assert cfg.okx.has_credentials
    assert redact("login key=fake-key-7f3a secret fake-secret-d41d") == "login key=*** secret ***"
    assert "fake" not in repr(cfg) and "fake" not in json.dumps(cfg.redacted_dict())


def test_wrong_type_in_development_json_names_the_file_key_value_and_expectation(root: Path):
    write(root, "config/development.json", {"capital": {"total_usdt": "lots"}})
    with pytest.raises(ConfigError) as err:
        load_config(root)
    assert str(err.value) == "config/development.json: capital.total_usdt = 'lots' — expected a number"


def test_malformed_json_names_the_file_line_and_column(root: Path):
    write(root, "config/local.json", '{\n  "capital": {\n    "total_usdt": 5,\n  }\n}\n')
    with pytest.raises(ConfigError) as err:
        load_config(root)
    assert str(err.value) == (
        "config/local.json, line 4, column 3: invalid JSON: Expecting property name enclosed in double quotes"
    )


def test_unknown_key_lists_the_known_ones(root: Path):
    write(root, "config/base.json", {"risk": {"max_levrage": 3}})
    with pytest.raises(ConfigError) as err:
        load_config(root)
    message = str(err.value)
    assert message.startswith("config/base.json: risk.max_levrage = 3 — unknown key; expected one of: ")
    assert "max_leverage" in message


def test_out_of_range_value_says_the_bound(root: Path):
    write(root, "config/local.json", {"risk": {"max_leverage": -1}, "backtest": {"queue_model": "fifo"}})
    with pytest.raises(ConfigError) as err:
        load_config(root)
    assert str(err.value) == (
        "config/local.json: risk.max_leverage = -1 — expected a number > 0.0; "
        "config/local.json: backtest.queue_model = 'fifo' — expected one of 'risk_averse' or 'probabilistic'"
    )


def test_bad_environment_variable_is_named(root: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ATHENA_RISK__MAX_DRAWDOWN", "most")
    with pytest.raises(ConfigError) as err:
        load_config(root)
    assert str(err.value) == (
        "environment variable ATHENA_RISK__MAX_DRAWDOWN: risk.max_drawdown = 'most' — expected a number"
    )


def test_unknown_athena_env_is_refused_with_the_choices(root: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ATHENA_ENV", "staging")
    with pytest.raises(ConfigError, match="expected one of 'development', 'production' or 'test'"):
        load_config(root)


def test_a_rule_across_keys_blames_the_layer_that_broke_it(root: Path):
    write(root, "config/base.json", {"capital": {"allocations": {"scalper_v1": 0.7}}})
    write(root, "config/local.json", {"capital": {"allocations": {"other": 0.5}}})
    with pytest.raises(ConfigError) as err:
        load_config(root)
    assert str(err.value) == (
        "config/local.json: capital — allocations sum to 1.2 (other=0.5, scalper_v1=0.7); expected at most 1"
    )


def test_secret_of_a_wrong_type_is_not_echoed(root: Path):
    write(root, "config/local.json", {"okx": {"api_key": 73917391}})
    with pytest.raises(ConfigError) as err:
        load_config(root)
    assert str(err.value) == "config/local.json: okx.api_key = '***' — expected a string"


def test_env_file_missing_beside_base_is_an_error(root: Path):
    (root / "config/test.json").unlink()
    with pytest.raises(ConfigError, match=r"config/test.json: not found"):
        load_config(root, env="test")


def test_without_a_config_folder_the_model_defaults_apply(tmp_path: Path):
    cfg = load_config(tmp_path / "nowhere")
    assert (cfg.capital.total_usdt, cfg.okx.endpoint, cfg.env) == (10_000.0, "demo", Environment.DEVELOPMENT)


@pytest.mark.parametrize(
    ("env", "endpoint", "level"),
    [
        ("development", "demo", "DEBUG"),
        ("production", "production", "INFO"),
        ("test", "http://127.0.0.1:8443", "WARNING"),
    ],
)
def test_the_projects_own_config_files_load(env: str, endpoint: str, level: str, tmp_path: Path):
    # copied, so that a developer's config/local.json does not change what is tested
    for name in ("base", "development", "production", "test"):
        write(tmp_path, f"config/{name}.json", (ROOT / "config" / f"{name}.json").read_text(encoding="utf-8"))
    cfg = load_config(tmp_path, env=env)
    assert (cfg.okx.endpoint, cfg.log_level.value) == (endpoint, level)
    assert cfg.capital.allocations == {"scalper_v1": 1.0}
    assert cfg.symbols == ["BTC-USDT-SWAP"]


def test_strategy_settings_from_the_environment_merge_into_their_section(root: Path, monkeypatch: pytest.MonkeyPatch):
    write(root, "config/local.json", {"strategies": {"scalper_v1": {"flow_window_s": 3, "min_flow_usdt": 1000}}})
    monkeypatch.setenv("ATHENA_STRATEGIES__SCALPER_V1__FLOW_WINDOW_S", "5")
    monkeypatch.setenv("ATHENA_LOG_LEVEL", "debug")
    cfg = load_config(root)
    # raw values: the strategy validates (and converts) its own section
    assert cfg.strategies == {"scalper_v1": {"flow_window_s": "5", "min_flow_usdt": 1000}}
    assert cfg.log_level.value == "DEBUG"
