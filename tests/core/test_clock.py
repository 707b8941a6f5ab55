from __future__ import annotations

import pytest

from athena.core.clock import ClockError, SimClock, TimerFired


def test_timers_fire_in_time_order_whatever_order_they_were_set():
    clock = SimClock(0)
    fired: list[str] = []
    clock.set_timer("late", lambda t: fired.append(t.name), at_ns=300)
    clock.set_timer("early", lambda t: fired.append(t.name), at_ns=100)
    clock.set_timer("mid", lambda t: fired.append(t.name), at_ns=200)
    clock.run_due(1_000)
    assert fired == ["early", "mid", "late"]


def test_equal_times_break_ties_in_scheduling_order():
    clock = SimClock(0)
    order: list[int] = []
    for i in range(5):
        clock.schedule(50, order.append, i)
    clock.run_due(50)
    assert order == [0, 1, 2, 3, 4]


def test_clock_shows_each_items_own_time_while_it_runs():
    clock = SimClock(0)
    seen: list[int] = []
    clock.schedule(10, lambda _: seen.append(clock.now_ns()))
    clock.schedule(25, lambda _: seen.append(clock.now_ns()))
    clock.run_due(40)
    assert seen == [10, 25]
    assert clock.now_ns() == 40


def test_moving_backwards_raises():
    clock = SimClock(100)
    clock.advance_to(150)
    with pytest.raises(ClockError, match="backwards"):
        clock.advance_to(149)
    assert clock.now_ns() == 150


def test_interval_timer_repeats_without_drift():
    clock = SimClock(1_000)
    times: list[int] = []
    clock.set_timer("sync", lambda t: times.append(t.at_ns), interval_ns=15)
    clock.run_due(1_061)
    assert times == [1_015, 1_030, 1_045, 1_060]
    clock.cancel_timer("sync")
    clock.run_due(2_000)
    assert len(times) == 4


def test_setting_a_timer_again_replaces_it():
    clock = SimClock(0)
    got: list[TimerFired] = []
    clock.set_timer("ttl", got.append, at_ns=10)
    clock.set_timer("ttl", got.append, at_ns=20)
    clock.run_due(100)
    assert got == [TimerFired("ttl", 20)]


def test_item_scheduled_while_running_runs_in_the_same_pass_when_due():
    clock = SimClock(0)
    out: list[str] = []
    clock.schedule(5, lambda _: (out.append("a"), clock.schedule(7, lambda _: out.append("b"))))
    clock.run_due(10)
    assert out == ["a", "b"]


def test_failing_callback_is_isolated_and_reported():
    clock = SimClock(0)
    errors: list[str] = []
    clock.on_error = lambda where, exc: errors.append(str(exc))
    out: list[int] = []

    def boom(_):
        raise ValueError("bad")

    clock.schedule(1, boom)
    clock.schedule(2, out.append, 2)
    assert clock.run_due(5) == 2
    assert out == [2]
    assert errors == ["bad"]


def test_next_due_skips_canceled_items():
    clock = SimClock(0)
    h = clock.schedule(5, lambda _: None)
    clock.schedule(9, lambda _: None)
    clock.cancel(h)
    assert clock.next_due_ns() == 9


def test_set_timer_needs_exactly_one_of_at_and_interval():
    clock = SimClock(0)
    with pytest.raises(ValueError):
        clock.set_timer("x", lambda t: None)
    with pytest.raises(ValueError):
        clock.set_timer("x", lambda t: None, at_ns=1, interval_ns=1)
