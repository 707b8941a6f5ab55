"""Structured log lines (key=value and JSON) and the redaction of secrets and OKX credentials."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from athena.config import load_config
from athena.core.logs import (
    JsonLinesFormatter,
    KeyValueFormatter,
    RedactingFilter,
    redact,
    register_secret,
    setup_logging,
)

# 2024-05-01T08:00:00.123Z
CREATED = 1714550400.123


def record(
    msg: str, *args: object, extra: dict[str, object] | None = None, level: int = logging.INFO
) -> logging.LogRecord:
    rec = logging.LogRecord("athena.oms.orders", level, __file__, 10, msg, args or None, None)
    rec.created = CREATED
    for key, value in (extra or {}).items():
        setattr(rec, key, value)
    return rec


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = setup_logging("DEBUG", json=False, stream=out)
    yield out
    logging.getLogger().removeHandler(handler)


def test_key_value_line_has_time_level_logger_message_then_sorted_extras():
    line = KeyValueFormatter().format(record("order %s sent", "A1", extra={"lots": 3, "inst": "BTC-USDT-SWAP"}))
    assert line == "2024-05-01T08:00:00.123Z INFO athena.oms.orders order A1 sent inst=BTC-USDT-SWAP lots=3"


def test_key_value_quotes_values_with_spaces():
    line = KeyValueFormatter().format(record("rejected", extra={"reason": "insufficient margin", "code": "51008"}))
    assert line.endswith('rejected code=51008 reason="insufficient margin"')


def test_json_line_carries_the_same_fields():
    line = JsonLinesFormatter().format(record("order %s sent", "A1", extra={"lots": 3}))
    assert json.loads(line) == {
        "ts": "2024-05-01T08:00:00.123Z",
        "level": "INFO",
        "logger": "athena.oms.orders",
        "msg": "order A1 sent",
        "lots": 3,
    }


def test_registered_secret_is_masked_in_message_args_and_extras():
    register_secret("fake-secret-0b7e41")
    rec = record("signing with %s", "fake-secret-0b7e41", extra={"detail": "key fake-secret-0b7e41 used"})
    RedactingFilter().filter(rec)
    assert rec.getMessage() == "signing with ***"
    assert rec.detail == "key *** used"  # type: ignore[attr-defined]


def test_okx_signature_and_passphrase_headers_are_masked():
    headers = {
        "OK-ACCESS-KEY": "k",
        "OK-ACCESS-SIGN": "HiZhvSfMtWJA3uUIVXV3a/bSXNPCWvYFXoGCVS8V4zY=",
        "OK-ACCESS-PASSPHRASE": "my-phrase",
        "OK-ACCESS-TIMESTAMP": "2020-12-08T09:08:57.715Z",
    }
    text = redact(f"POST /api/v5/trade/order headers={headers}")
    assert "HiZhvSfMtWJA3uUIVXV3a" not in text and "my-phrase" not in text
    assert "'OK-ACCESS-SIGN': '***'" in text and "'OK-ACCESS-PASSPHRASE': '***'" in text
    assert "'OK-ACCESS-TIMESTAMP': '2020-12-08T09:08:57.715Z'" in text


def test_websocket_login_sign_and_passphrase_are_masked():
    frame = (
        '{"op":"login","args":[{"apiKey":"k1","passphrase":"pp-42","timestamp":"1538054050",'
        '"sign":"+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M="}]}'
    )
    assert redact(frame) == (
        '{"op":"login","args":[{"apiKey":"k1","passphrase":"***","timestamp":"1538054050","sign":"***"}]}'
    )


def test_words_that_merely_contain_sign_are_left_alone():
    assert redact("design=v2 assign: x") == "design=v2 assign: x"


def test_secret_loaded_from_the_environment_never_reaches_the_log_output(
    stream: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    for name in list(os.environ):
        if name.upper().startswith(("ATHENA_", "OKX_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OKX_API_SECRET", "FAKE-SECRET-9d2c51")
    cfg = load_config(tmp_path)
    log = logging.getLogger("athena.gateways.okx.auth")
    secret = cfg.okx.api_secret.get_secret_value()  # type: ignore[union-attr]
    log.info("logging in with secret %s", secret, extra={"raw": secret})
    log.warning("config %r", cfg)
    try:
        raise RuntimeError(f"signing failed for {secret}")
    except RuntimeError:
        log.exception("login failed")
    output = stream.getvalue()
    assert output.count("\n") == 3
    assert "FAKE-SECRET-9d2c51" not in output
    assert "logging in with secret *** raw=***" in output


def test_json_logs_are_redacted_too(monkeypatch: pytest.MonkeyPatch):
    out = io.StringIO()
    handler = setup_logging("info", json=True, stream=out)
    try:
        register_secret("fake-passphrase-77aa")
        logging.getLogger("athena.test").info("pp=%s", "fake-passphrase-77aa")
        logging.getLogger("athena.test").debug("below the threshold")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["msg"] == "pp=***"


def test_setup_logging_replaces_its_own_handler_instead_of_stacking():
    root = logging.getLogger()
    first = setup_logging("INFO")
    second = setup_logging("DEBUG")
    try:
        ours = [h for h in root.handlers if h.get_name() == "athena"]
        assert ours == [second] and first not in root.handlers
        assert root.level == logging.DEBUG
    finally:
        root.removeHandler(second)


def test_unknown_level_is_refused():
    with pytest.raises(ValueError, match="unknown log level 'loud'"):
        setup_logging("loud")
