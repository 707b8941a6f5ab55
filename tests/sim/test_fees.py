"""Fees: OKX's sign (negative = paid), rates on the fill's notional."""

from __future__ import annotations

from decimal import Decimal

import pytest

from athena.model.enums import Liquidity
from athena.model.instrument import BTC_USDT_SWAP
from athena.sim.fees import FeeModel


def test_one_btc_swap_contract_at_60000_taker_costs_30_cents():
    notional = BTC_USDT_SWAP.notional(600_000, 100)  # 1 contract × 0.01 BTC × 60000.0
    assert notional == pytest.approx(600.0, abs=1e-9)
    assert round(FeeModel().fee(notional, Liquidity.TAKER), 2) == -0.30


def test_regular_tier_maker_rate_is_two_basis_points():
    assert FeeModel().fee(600.0, Liquidity.MAKER) == pytest.approx(-0.12, abs=1e-12)


def test_a_negative_maker_rate_is_a_rebate_with_a_positive_fee():
    assert FeeModel(maker=-0.00005, taker=0.0005).fee(600.0, Liquidity.MAKER) == pytest.approx(0.03, abs=1e-12)


def test_okx_verified_taker_fill_fee_is_reproduced():
    # okx-v5-reference §7: 0.03 ct × 0.01 × 103698.9 = 31.10967 USDT at 0.07 % -> fee "-0.021776769"
    spec = BTC_USDT_SWAP
    notional = spec.notional(spec.price_to_ticks(Decimal("103698.9")), spec.size_to_lots(Decimal("0.03")))
    assert FeeModel(maker=0.0005, taker=0.0007).fee(notional, Liquidity.TAKER) == pytest.approx(-0.021776769, abs=1e-12)


def test_fee_model_describes_rates_and_sign():
    assert FeeModel().describe() == (
        "fees maker 0.02 % / taker 0.05 % of notional (contracts × ctVal × fill price); OKX sign: negative = paid"
    )
