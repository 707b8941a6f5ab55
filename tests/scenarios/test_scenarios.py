"""Every scenario under scenarios/ replays its captured incident and its invariants hold; each run is
deterministic (the same fingerprint twice); each data slice is small and is exactly what
scripts/make_scenarios.py generates."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import polars as pl
import pytest

from athena.app.scenarios import list_scenarios, run_scenarios
from tests.conftest import ROOT

SCENARIOS = ROOT / "scenarios"
NAMES = [p.name for p in sorted(SCENARIOS.iterdir()) if (p / "scenario.toml").is_file()]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_scenarios", ROOT / "scripts" / "make_scenarios.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(mod)
    return mod


def test_the_three_required_scenarios_are_there():
    assert {"ghost_order", "lost_ack_and_duplicate_fill", "disconnect"} <= set(NAMES)
    assert [i.name for i in list_scenarios(SCENARIOS)] == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_every_invariant_of_the_scenario_holds(name):
    (res,) = run_scenarios(SCENARIOS, [name])
    failed = [f"{i.name}: {i.detail}" for i in res.invariants if not i.passed]
    assert res.passed and not failed, "\n".join(failed + res.messages)
    assert len(res.invariants) >= 5
    assert len(res.fingerprint) == 64


@pytest.mark.parametrize("name", NAMES)
def test_a_scenario_run_is_deterministic(name):
    a, b = run_scenarios(SCENARIOS, [name, name])
    assert a.fingerprint == b.fingerprint
    assert a.messages == b.messages


def test_the_ghost_is_planted_reported_and_canceled():
    (res,) = run_scenarios(SCENARIOS, ["ghost_order"])
    inv = {i.name: i for i in res.invariants}
    assert inv["ghost_orders_canceled"].detail == "1 planted, 1 reported as ghost_order, still resting none"


def test_the_disconnect_follows_the_captured_sessions_rows():
    (res,) = run_scenarios(SCENARIOS, ["disconnect"])
    conn = next(m for m in res.messages if m.startswith("connection: "))
    # The range starts at the first book row (6 ms after the slice's T0); the outage is 30 s .. 52 s.
    assert conn == "connection: disconnect at +29.994 s, reconnect at +51.994 s, gap at +51.994 s, resync at +51.994 s"
    errors = next(m for m in res.messages if m.startswith("errors by code: "))
    assert "'sync_failed': 5" in errors  # refused at 30, 31, 33, 37, 45 s (backoff 1, 2, 4, 8 s); 61 s answered


@pytest.mark.parametrize("name", NAMES)
def test_each_data_slice_is_well_under_a_megabyte(name):
    data = SCENARIOS / name / "data"
    size = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
    assert 0 < size < 256 * 1024


def test_the_committed_slices_are_what_the_generator_makes(tmp_path):
    gen = _generator()
    gen.generate(None, base=tmp_path)
    for name in gen.SLICES:
        ours = sorted(p.relative_to(tmp_path / name) for p in (tmp_path / name / "data").rglob("*") if p.is_file())
        committed = sorted(p.relative_to(SCENARIOS / name) for p in (SCENARIOS / name / "data").rglob("*")
                           if p.is_file())
        assert [str(p) for p in ours] == [str(p) for p in committed], name
        for rel in ours:
            if rel.suffix == ".parquet":
                assert pl.read_parquet(tmp_path / name / rel).equals(pl.read_parquet(SCENARIOS / name / rel)), rel
            else:
                assert (tmp_path / name / rel).read_bytes() == (SCENARIOS / name / rel).read_bytes(), rel
