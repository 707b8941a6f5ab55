from __future__ import annotations

import json
from decimal import Decimal

import pytest

from athena.errors import InstrumentError
from athena.model.instrument import BTC_USDT_SWAP, InstrumentSpec, format_decimal
from tests.conftest import FIXTURES, NO_SHARED


def instrument_records() -> list[dict]:
    recs: list[dict] = []
    for name in ("rest_instruments_swap.json", "rest_instruments_swap_2022.json"):
        path = FIXTURES / name
        if path.exists():
            recs.extend(json.loads(path.read_text())["data"])
    return recs


def test_every_fixture_instrument_round_trips_its_tick_and_lot_sizes():
    recs = instrument_records()
    if not recs:
        pytest.skip(NO_SHARED)
    assert len(recs) == 3 + 166
    for rec in recs:
        spec = InstrumentSpec.from_okx(rec)
        # one tick and one lot format back to exactly OKX's own strings (no trailing zeros there)
        assert spec.format_price(1) == format_decimal(Decimal(rec["tickSz"]))
        assert spec.format_size(1) == format_decimal(Decimal(rec["lotSz"]))
        for ticks in (1, 7, 123_456_789, 10**12 + 3):
            assert spec.price_to_ticks(spec.format_price(ticks)) == ticks
        for lots in (1, 9, 1_000_003):
            assert spec.size_to_lots(spec.format_size(lots)) == lots
        assert spec.size_to_lots(rec["minSz"]) * spec.lot_sz == Decimal(rec["minSz"])


def test_btc_usdt_swap_from_fixture_matches_the_builtin_spec(okx_fixtures):
    rec = next(r for r in json.loads((okx_fixtures / "rest_instruments_swap.json").read_text())["data"]
               if r["instId"] == "BTC-USDT-SWAP")
    spec = InstrumentSpec.from_okx(rec)
    assert (spec.tick_sz, spec.lot_sz, spec.ct_val, spec.inst_id_code) == (
        BTC_USDT_SWAP.tick_sz, BTC_USDT_SWAP.lot_sz, BTC_USDT_SWAP.ct_val, BTC_USDT_SWAP.inst_id_code)


def test_formatting_has_no_float_artefacts_or_exponents():
    s = BTC_USDT_SWAP
    assert s.format_price(601234) == "60123.4"
    assert s.format_price(300000) == "30000"
    assert s.format_price(0) == "0"
    assert s.format_size(1) == "0.01"
    assert s.format_size(100) == "1"
    assert format_decimal(Decimal("8470")) == "8470"
    assert format_decimal(Decimal("30236.0")) == "30236"


def test_off_grid_values_raise_with_the_step_in_the_message():
    with pytest.raises(InstrumentError, match=r"tickSz 0\.1"):
        BTC_USDT_SWAP.price_to_ticks("60123.45")
    with pytest.raises(InstrumentError, match=r"lotSz 0\.01"):
        BTC_USDT_SWAP.size_to_lots("0.001")
    with pytest.raises(InstrumentError, match="float"):
        BTC_USDT_SWAP.price_to_ticks(1.5)  # type: ignore[arg-type]
    with pytest.raises(InstrumentError, match="not a decimal"):
        BTC_USDT_SWAP.size_to_lots("abc")


def test_notional_is_contracts_times_ctval_times_price():
    # 1 contract (100 lots) at 60123.4: 1 * 0.01 BTC * 60123.4 = 601.234 USDT
    assert BTC_USDT_SWAP.notional(601234, 100) == pytest.approx(601.234, abs=1e-9)
    assert BTC_USDT_SWAP.min_lots == 1
