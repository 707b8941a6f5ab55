"""Queue models: the formula each states, computed by hand."""

from __future__ import annotations

import math

import pytest

from athena.sim.queue import LogProbQueue, PowerProbQueue, RiskAverseQueue


def test_risk_averse_queue_ignores_a_shrink_no_trade_explains():
    assert RiskAverseQueue().after_shrink(10, 6, 4) == 10


def test_power_prob_queue_advances_by_the_expected_share_of_a_shrink_from_ahead():
    # front 10, back 6, shrink 4: p = 6²/(6²+10²) = 36/136, advance = 4 × 100/136
    assert PowerProbQueue(2).after_shrink(10, 6, 4) == pytest.approx(10 - 400 / 136, abs=1e-12)
    # n = 3: p = 216/(216+1000), advance = 4 × 1000/1216
    assert PowerProbQueue(3).after_shrink(10, 6, 4) == pytest.approx(10 - 4000 / 1216, abs=1e-12)


def test_power_prob_queue_with_nothing_behind_takes_the_whole_shrink_from_ahead():
    assert PowerProbQueue(2).after_shrink(10, 0, 4) == 6


def test_power_prob_queue_never_goes_below_zero_and_front_zero_stays_zero():
    assert PowerProbQueue(2).after_shrink(3, 0, 10) == 0
    assert PowerProbQueue(2).after_shrink(0, 5, 4) == 0


def test_log_prob_queue_uses_log1p_of_the_sizes():
    expected = 10 - 4 * math.log1p(10) / (math.log1p(6) + math.log1p(10))
    assert LogProbQueue().after_shrink(10, 6, 4) == pytest.approx(expected, abs=1e-12)


def test_power_prob_queue_refuses_a_non_positive_exponent():
    with pytest.raises(ValueError, match="positive integer"):
        PowerProbQueue(0)


def test_each_model_describes_its_formula_and_the_log_one_disclaims_cross_machine_identity():
    assert "nothing else advances us" in RiskAverseQueue().describe()
    assert "back^2/(back^2+front^2)" in PowerProbQueue(2).describe()
    assert "cross-machine identity is not promised" in LogProbQueue().describe()
    assert RiskAverseQueue.__doc__ == (
        "Trades at our price advance us: ahead -= traded; ahead = min(ahead, level size); nothing else does."
    )
