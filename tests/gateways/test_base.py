"""BaseGateway: the core's command port plus lifecycle, and OKX's clOrdId rule."""

from __future__ import annotations

import inspect

import pytest

from athena.core.ports import CommandPort
from athena.gateways.base import BaseGateway, valid_cl_ord_id


@pytest.mark.parametrize(
    ("cl", "ok"),
    [
        ("a", True),
        ("athena0001", True),
        ("A" * 32, True),
        ("", False),
        ("A" * 33, False),
        ("ath-1", False),
        ("ath_1", False),
        ("é1", False),
    ],
)
def test_cl_ord_id_is_one_to_32_ascii_letters_and_digits(cl: str, ok: bool):
    assert valid_cl_ord_id(cl) is ok


def _protocol_methods(proto: type) -> set[str]:
    return {n for n, v in vars(proto).items() if callable(v) and not n.startswith("_")}


def test_base_gateway_declares_every_command_of_the_core_command_port_with_the_same_parameters():
    for name in sorted(_protocol_methods(CommandPort)):
        mine = inspect.signature(getattr(BaseGateway, name))
        theirs = inspect.signature(getattr(CommandPort, name))
        assert list(mine.parameters) == list(theirs.parameters), name
    assert {"start", "stop", "subscribe", "instruments"} <= BaseGateway.__abstractmethods__


def test_a_gateway_missing_a_command_cannot_be_built():
    class Half(BaseGateway):
        def start(self) -> None: ...
        def stop(self) -> None: ...

    with pytest.raises(TypeError, match="submit_order"):
        Half()  # type: ignore[abstract]
