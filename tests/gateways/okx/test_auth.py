"""OKX signing matches OKX's recipe byte for byte and never lets a credential out."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from pydantic import SecretStr, ValidationError

from athena.gateways.okx.auth import (
    OkxAuthError,
    OkxCredentials,
    prehash,
    rest_headers,
    rest_timestamp,
    sign,
    verify_signature,
    verify_ws_login,
    ws_login_args,
    ws_login_request,
    ws_timestamp,
)

DOC_SECRET = "22582BD0CFF14C41EDBF1AB98506286D"  # OKX docs' sample secret (reference §2.1)
FAKE_SECRET = "FAKESECRETd41d8cd98f00b204e9800998"
FAKE_KEY = "FAKEKEY-5f1c0b2e-aaaa-bbbb-cccc"
FAKE_PASSPHRASE = "FakePassphrase!42"

# 2020-12-08T09:08:57.715Z in ms since the epoch
NOW_MS = 1607418537715
ORDER_BODY = (
    '{"instId":"BTC-USDT-SWAP","tdMode":"cross","side":"buy","ordType":"limit",'
    '"px":"60000.1","sz":"0.01","clOrdId":"athena0001"}'
)


def okx_recipe(secret: str, message: str) -> str:
    """OKX's documented recipe, written out independently of the module under test."""
    return base64.b64encode(hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()).decode()


@pytest.fixture
def creds() -> OkxCredentials:
    return OkxCredentials(api_key=FAKE_KEY, secret_key=FAKE_SECRET, passphrase=FAKE_PASSPHRASE)


@pytest.fixture
def doc_creds() -> OkxCredentials:
    return OkxCredentials(api_key="k", secret_key=DOC_SECRET, passphrase="p")


def test_rest_timestamp_is_iso_utc_with_milliseconds():
    assert rest_timestamp(NOW_MS) == "2020-12-08T09:08:57.715Z"
    assert rest_timestamp(1607418537005) == "2020-12-08T09:08:57.005Z"  # ms zero-padded
    assert rest_timestamp(0) == "1970-01-01T00:00:00.000Z"


def test_ws_timestamp_is_whole_seconds():
    assert ws_timestamp(1538054050999) == "1538054050"


def test_get_with_query_matches_the_reference_vector(doc_creds: OkxCredentials):
    headers = rest_headers(doc_creds, "GET", "/api/v5/account/balance?ccy=BTC", now_ms=NOW_MS)
    assert headers["OK-ACCESS-SIGN"] == "HiZhvSfMtWJA3uUIVXV3a/bSXNPCWvYFXoGCVS8V4zY="
    assert headers["OK-ACCESS-SIGN"] == okx_recipe(
        DOC_SECRET, "2020-12-08T09:08:57.715ZGET/api/v5/account/balance?ccy=BTC"
    )


def test_post_with_body_matches_the_reference_vector(doc_creds: OkxCredentials):
    headers = rest_headers(doc_creds, "POST", "/api/v5/trade/order", ORDER_BODY, now_ms=NOW_MS)
    assert headers["OK-ACCESS-SIGN"] == "If1oDP1qWGAI+43sp7XTVS2Ny+k1XagSblntn7iz4AE="
    assert headers["OK-ACCESS-SIGN"] == okx_recipe(
        DOC_SECRET, "2020-12-08T09:08:57.715ZPOST/api/v5/trade/order" + ORDER_BODY
    )


def test_body_as_bytes_signs_the_same_as_text(doc_creds: OkxCredentials):
    as_text = rest_headers(doc_creds, "POST", "/api/v5/trade/order", ORDER_BODY, now_ms=NOW_MS)
    as_bytes = rest_headers(doc_creds, "POST", "/api/v5/trade/order", ORDER_BODY.encode(), now_ms=NOW_MS)
    assert as_text["OK-ACCESS-SIGN"] == as_bytes["OK-ACCESS-SIGN"]


def test_lower_case_method_is_signed_upper_case(doc_creds: OkxCredentials):
    lower = rest_headers(doc_creds, "get", "/api/v5/account/balance?ccy=BTC", now_ms=NOW_MS)
    assert lower["OK-ACCESS-SIGN"] == "HiZhvSfMtWJA3uUIVXV3a/bSXNPCWvYFXoGCVS8V4zY="


def test_rest_headers_carry_key_timestamp_passphrase_and_json_content_type(creds: OkxCredentials):
    headers = rest_headers(creds, "GET", "/api/v5/account/positions?instType=SWAP", now_ms=NOW_MS)
    assert headers == {
        "OK-ACCESS-KEY": FAKE_KEY,
        "OK-ACCESS-SIGN": okx_recipe(FAKE_SECRET, "2020-12-08T09:08:57.715ZGET/api/v5/account/positions?instType=SWAP"),
        "OK-ACCESS-TIMESTAMP": "2020-12-08T09:08:57.715Z",
        "OK-ACCESS-PASSPHRASE": FAKE_PASSPHRASE,
        "Content-Type": "application/json",
    }


def test_demo_adds_simulated_trading_header(creds: OkxCredentials):
    headers = rest_headers(creds, "GET", "/api/v5/account/balance", now_ms=NOW_MS, demo=True)
    assert headers["x-simulated-trading"] == "1"
    assert "x-simulated-trading" not in rest_headers(creds, "GET", "/api/v5/account/balance", now_ms=NOW_MS)


def test_ws_login_matches_the_reference_vector(doc_creds: OkxCredentials):
    args = ws_login_args(doc_creds, now_ms=1538054050000)
    assert args == {
        "apiKey": "k",
        "passphrase": "p",
        "timestamp": "1538054050",
        "sign": "+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M=",
    }
    assert args["sign"] == okx_recipe(DOC_SECRET, "1538054050GET/users/self/verify")
    assert ws_login_request(doc_creds, now_ms=1538054050000) == {"op": "login", "args": [args]}


def test_verify_signature_accepts_the_right_one_and_rejects_tampering():
    good = "If1oDP1qWGAI+43sp7XTVS2Ny+k1XagSblntn7iz4AE="
    ts = "2020-12-08T09:08:57.715Z"
    assert verify_signature(DOC_SECRET, ts, "POST", "/api/v5/trade/order", ORDER_BODY, good)
    assert verify_signature(SecretStr(DOC_SECRET), ts, "POST", "/api/v5/trade/order", ORDER_BODY.encode(), good)
    tampered_body = ORDER_BODY.replace('"sz":"0.01"', '"sz":"0.02"')
    assert not verify_signature(DOC_SECRET, ts, "POST", "/api/v5/trade/order", tampered_body, good)
    assert not verify_signature(DOC_SECRET, "2020-12-08T09:08:57.716Z", "POST", "/api/v5/trade/order", ORDER_BODY, good)
    assert not verify_signature("other-secret", ts, "POST", "/api/v5/trade/order", ORDER_BODY, good)
    assert not verify_signature(DOC_SECRET, ts, "POST", "/api/v5/trade/order", ORDER_BODY, "garbage")


def test_verify_ws_login():
    assert verify_ws_login(DOC_SECRET, "1538054050", "+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M=")
    assert not verify_ws_login(DOC_SECRET, "1538054051", "+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M=")


def test_prehash_is_timestamp_method_path_body():
    assert prehash("T", "post", "/p?q=1", '{"a":1}') == b'TPOST/p?q=1{"a":1}'


def test_request_path_without_leading_slash_is_refused(creds: OkxCredentials):
    with pytest.raises(OkxAuthError, match="must start with '/'"):
        rest_headers(creds, "GET", "https://www.okx.com/api/v5/account/balance", now_ms=NOW_MS)


def test_unknown_method_is_refused(creds: OkxCredentials):
    with pytest.raises(OkxAuthError, match="HTTP method 'PATCH'"):
        rest_headers(creds, "PATCH", "/api/v5/x", now_ms=NOW_MS)


def test_negative_time_is_refused(creds: OkxCredentials):
    with pytest.raises(OkxAuthError, match="milliseconds since the epoch"):
        rest_headers(creds, "GET", "/api/v5/x", now_ms=-1)


# --------------------------------------------------------------------------------------------
# No credential ever shows
# --------------------------------------------------------------------------------------------


def _shows_a_secret(text: str) -> bool:
    return any(s in text for s in (FAKE_SECRET, FAKE_KEY, FAKE_PASSPHRASE))


def test_repr_and_str_of_credentials_hide_every_field(creds: OkxCredentials):
    assert not _shows_a_secret(repr(creds))
    assert not _shows_a_secret(str(creds))
    assert not _shows_a_secret(creds.model_dump_json())
    assert "**********" in repr(creds)
    assert creds.secret_key.get_secret_value() == FAKE_SECRET  # still usable by the signer


def test_assigning_to_credentials_raises_without_the_value(creds: OkxCredentials):
    with pytest.raises(OkxAuthError) as info:
        creds.secret_key = FAKE_SECRET  # type: ignore[misc]
    assert "immutable" in str(info.value)
    assert not _shows_a_secret(str(info.value)) and not _shows_a_secret(repr(info.value))


def test_invalid_credentials_error_does_not_quote_the_input():
    with pytest.raises(ValidationError) as info:
        OkxCredentials(api_key=FAKE_KEY, secret_key=FAKE_SECRET, passphrase=12345, extra=FAKE_SECRET)  # type: ignore[arg-type]
    text = str(info.value) + repr(info.value)
    assert "passphrase" in text and "extra" in text  # names the fields...
    assert not _shows_a_secret(text)  # ...never the values


def test_auth_errors_never_contain_a_credential():
    empty_secret = OkxCredentials(api_key=FAKE_KEY, secret_key="", passphrase=FAKE_PASSPHRASE)
    with pytest.raises(OkxAuthError) as info:
        rest_headers(empty_secret, "GET", "/api/v5/account/balance", now_ms=NOW_MS)
    assert "secret key is empty" in str(info.value)
    assert not _shows_a_secret(str(info.value)) and not _shows_a_secret(repr(info.value))
    empty_passphrase = OkxCredentials(api_key=FAKE_KEY, secret_key=FAKE_SECRET, passphrase="")
    with pytest.raises(OkxAuthError) as info:
        ws_login_args(empty_passphrase, now_ms=NOW_MS)
    assert "passphrase is empty" in str(info.value)
    assert not _shows_a_secret(str(info.value)) and not _shows_a_secret(repr(info.value))


def test_sign_with_an_empty_secret_is_refused():
    with pytest.raises(OkxAuthError, match="secret key is empty"):
        sign("", b"x")
