from __future__ import annotations

from athena.core.bus import EventBus, Priority
from athena.core.events import ErrorEvent, EventType, TimerEvent


def timer(name: str, t: int = 0) -> TimerEvent:
    return TimerEvent(name, t, t)


def test_subscribers_run_in_priority_order_not_subscription_order():
    bus = EventBus()
    calls: list[str] = []
    bus.subscribe(EventType.TIMER, lambda e: calls.append("strategy"), Priority.STRATEGY)
    bus.subscribe(EventType.TIMER, lambda e: calls.append("observer"), Priority.OBSERVER)
    bus.subscribe(EventType.TIMER, lambda e: calls.append("oms"), Priority.OMS)
    bus.publish(timer("t"))
    assert calls == ["oms", "strategy", "observer"]


def test_equal_priority_keeps_subscription_order():
    bus = EventBus()
    calls: list[int] = []
    for i in range(4):
        bus.subscribe(EventType.TIMER, lambda e, i=i: calls.append(i), Priority.STRATEGY)
    bus.publish(timer("t"))
    assert calls == [0, 1, 2, 3]


def test_event_published_inside_a_handler_waits_until_all_subscribers_of_the_first_ran():
    bus = EventBus()
    calls: list[str] = []

    def first(e):
        calls.append(f"1:{e.name}")
        if e.name == "A":
            bus.publish(timer("B"))

    bus.subscribe(EventType.TIMER, first, Priority.OMS)
    bus.subscribe(EventType.TIMER, lambda e: calls.append(f"2:{e.name}"), Priority.STRATEGY)
    bus.publish(timer("A"))
    assert calls == ["1:A", "2:A", "1:B", "2:B"]


def test_failing_handler_is_isolated_and_reported_as_error_event():
    bus = EventBus(now=lambda: 42)
    calls: list[str] = []
    errors: list[ErrorEvent] = []

    def broken(e):
        raise RuntimeError("kaput")

    bus.subscribe(EventType.TIMER, broken, Priority.OMS)
    bus.subscribe(EventType.TIMER, lambda e: calls.append("after"), Priority.STRATEGY)
    bus.subscribe(EventType.ERROR, errors.append, Priority.OBSERVER)
    bus.publish(timer("x"))
    bus.publish(timer("y"))
    assert calls == ["after", "after"]
    assert len(errors) == 2
    assert "kaput" in errors[0].message and errors[0].ts_event == 42
    assert bus.errors == 2


def test_failing_error_handler_does_not_loop():
    bus = EventBus()

    def broken(e):
        raise RuntimeError("again")

    bus.subscribe(EventType.ERROR, broken)
    bus.publish(ErrorEvent("x", "m", 0, 0))
    assert bus.errors == 1


def test_tap_sees_non_market_events_in_dispatch_order():
    bus = EventBus()
    seen: list[str] = []
    bus.tap(lambda e: seen.append(e.name))
    bus.subscribe(EventType.TIMER, lambda e: bus.publish(timer("inner")) if e.name == "outer" else None)
    bus.publish(timer("outer"))
    assert seen == ["outer", "inner"]


def test_unsubscribe_removes_only_that_handler():
    bus = EventBus()
    calls: list[str] = []

    def a(e):
        calls.append("a")

    def b(e):
        calls.append("b")

    bus.subscribe(EventType.TIMER, a)
    bus.subscribe(EventType.TIMER, b)
    bus.unsubscribe(EventType.TIMER, a)
    bus.publish(timer("t"))
    assert calls == ["b"]
    assert bus.subscribers(EventType.TIMER) == (b,)
