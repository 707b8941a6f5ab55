from __future__ import annotations

from athena.oms.ids import ClOrdIdFactory, is_valid_cl_ord_id


def test_ids_are_okx_valid_unique_and_deterministic():
    a, b = ClOrdIdFactory("run1"), ClOrdIdFactory("run1")
    ids = [a.new("scalper_v1") for _ in range(1000)] + [a.new("maker-2") for _ in range(10)]
    assert len(set(ids)) == 1010
    assert all(is_valid_cl_ord_id(i) and 1 <= len(i) <= 32 and i.isalnum() for i in ids)
    assert ids[:3] == [b.new("scalper_v1") for _ in range(3)]  # no clock, no randomness


def test_a_long_strategy_name_is_cut_but_the_counter_keeps_ids_apart():
    f = ClOrdIdFactory()
    x, y = f.new("a_strategy_with_a_very_long_name_indeed"), f.new("a_strategy_with_a_very_long_name_indeed")
    assert x != y and len(x) <= 32 and len(y) <= 32


def test_validity_rule_is_okx_s():
    assert is_valid_cl_ord_id("abc123")
    assert not is_valid_cl_ord_id("")
    assert not is_valid_cl_ord_id("has-dash")
    assert not is_valid_cl_ord_id("x" * 33)
