from __future__ import annotations

from athena.errors import AthenaError, BookChecksumError, BookError, BookSequenceError, OkxApiError


def test_every_user_facing_error_is_an_athena_error_and_exits_1():
    for cls in (BookError, BookChecksumError, BookSequenceError, OkxApiError):
        assert issubclass(cls, AthenaError)
    assert AthenaError.exit_code == 1


def test_okx_api_error_keeps_okx_code_and_message_and_says_the_http_status():
    err = OkxApiError("51008", "Order failed. Insufficient USDT margin in account", http_status=200)
    assert (err.code, err.http_status) == ("51008", 200)
    assert str(err) == "OKX error 51008 (HTTP 200): Order failed. Insufficient USDT margin in account"
    assert str(OkxApiError("50011", "Too Many Requests")) == "OKX error 50011: Too Many Requests"
