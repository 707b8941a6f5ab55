from __future__ import annotations

from athena.core.clock import SimClock
from athena.core.engine import Engine
from athena.core.events import EventType


class Recorder:
    def __init__(self, name: str, log: list[str], fail_stop: bool = False) -> None:
        self.name, self.log, self.fail_stop = name, log, fail_stop

    def start(self) -> None:
        self.log.append(f"start {self.name}")

    def stop(self) -> None:
        self.log.append(f"stop {self.name}")
        if self.fail_stop:
            raise RuntimeError("stuck")


def test_components_start_in_order_and_stop_in_reverse_even_if_one_fails():
    log: list[str] = []
    engine = Engine(SimClock(0))
    engine.add(Recorder("oms", log))
    engine.add(Recorder("strategy", log, fail_stop=True))
    engine.add(Recorder("report", log))
    engine.start()
    assert engine.running
    engine.stop()
    assert log == ["start oms", "start strategy", "start report", "stop report", "stop strategy", "stop oms"]
    assert not engine.running


def test_failing_clock_callback_becomes_an_error_event_at_its_time():
    clock = SimClock(0)
    engine = Engine(clock)
    errors = []
    engine.bus.subscribe(EventType.ERROR, errors.append)

    def boom(_):
        raise KeyError("missing")

    clock.schedule(7, boom)
    clock.run_due(10)
    assert len(errors) == 1
    assert errors[0].ts_event == 7
    assert "missing" in errors[0].message
