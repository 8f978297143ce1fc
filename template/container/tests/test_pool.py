"""The pool of worker processes: starts them, restarts the ones that die, drains on scale-in."""

from __future__ import annotations

from collections.abc import Callable

from app.config import Settings
from app.pool import LIFECYCLE_SECONDS, RESTART_SECONDS, STALE_SECONDS, Pool

SETTINGS = Settings(queue_url="q", jobs_table="t", worker_processes=3)


class FakeProcess:
    """A worker process that runs until told to stop, then finishes its job."""

    def __init__(self, harness: Harness, index: int) -> None:
        self.harness = harness
        self.index = index
        self.terminated = False
        self.stops_at = float("inf")
        self.exitcode: int | None = None

    def is_alive(self) -> bool:
        if self.exitcode is None and self.harness.now >= self.stops_at:
            self.exitcode = 0
        return self.exitcode is None

    def terminate(self) -> None:
        self.terminated = True
        self.stops_at = self.harness.now + self.harness.finishing

    def join(self, timeout: float | None = None) -> None:
        return None

    def crash(self, code: int = 70) -> None:
        self.exitcode = code


class FakeLifecycle:
    def __init__(self) -> None:
        self.state = "InService"
        self.heartbeats = 0
        self.completed = 0

    def terminating(self) -> bool:
        return self.state == "Terminated"

    def heartbeat(self) -> None:
        self.heartbeats += 1

    def complete(self) -> None:
        self.completed += 1


class Harness:
    """A pool on a fake clock whose every tick runs ``on_tick``."""

    def __init__(self, finishing: float = 0, lifecycle: FakeLifecycle | None = None) -> None:
        self.now = 0.0
        self.started: list[FakeProcess] = []
        self.ticks = 0
        self.on_tick: Callable[[Harness], None] = lambda harness: None
        self.finishing = finishing
        self.pool = Pool(
            SETTINGS, lifecycle=lifecycle, start=self.start, clock=self.clock, pause=self.pause
        )

    def start(self, index: int, settings: Settings) -> FakeProcess:
        assert settings is SETTINGS
        process = FakeProcess(self, index)
        self.started.append(process)
        return process

    def clock(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        self.now += seconds
        self.ticks += 1
        self.on_tick(self)
        assert self.ticks < 10_000, "the pool never stopped"


def test_the_pool_runs_one_worker_per_process_and_sigterm_stops_them_all() -> None:
    harness = Harness(finishing=3)  # each worker takes three seconds to finish its job

    def sigterm_after_a_while(h: Harness) -> None:
        if h.ticks == 5:
            h.pool.request_stop("SIGTERM")

    harness.on_tick = sigterm_after_a_while
    harness.pool.run()
    assert [p.index for p in harness.started] == [0, 1, 2]
    assert all(p.terminated and p.exitcode == 0 for p in harness.started)
    assert harness.ticks >= 5 + 3  # it waited for the running jobs


def test_a_worker_that_dies_is_started_again() -> None:
    harness = Harness()

    def crash_then_stop(h: Harness) -> None:
        if h.ticks == 2:
            h.started[1].crash(70)  # its watchdog ended a stalled loop
        if h.ticks == 2 + RESTART_SECONDS + 2:
            h.pool.request_stop("SIGTERM")

    harness.on_tick = crash_then_stop
    harness.pool.run()
    assert [p.index for p in harness.started] == [0, 1, 2, 1]
    assert harness.started[1].exitcode == 70
    assert harness.started[3].terminated


def test_no_worker_is_started_again_once_the_pool_stops() -> None:
    harness = Harness()

    def crash_while_stopping(h: Harness) -> None:
        if h.ticks == 1:
            h.started[0].crash(1)
            h.pool.request_stop("SIGTERM")

    harness.on_tick = crash_while_stopping
    harness.pool.run()
    assert len(harness.started) == 3


def test_scale_in_drains_every_worker_before_completing_the_lifecycle_action() -> None:
    lifecycle = FakeLifecycle()
    harness = Harness(finishing=200, lifecycle=lifecycle)  # long jobs are still running
    harness.pool.heartbeat_seconds = 10

    def scale_in(h: Harness) -> None:
        if h.ticks == 3:
            lifecycle.state = "Terminated"
        if any(p.exitcode is None for p in h.started):
            assert lifecycle.completed == 0  # never while a job runs

    harness.on_tick = scale_in
    harness.pool.run()
    assert harness.pool.stop_reason == "scale-in"
    assert harness.pool.draining
    assert all(p.terminated for p in harness.started)
    assert len(harness.started) == 3  # none restarted while draining
    assert lifecycle.heartbeats >= 200 // 10 - 1
    assert lifecycle.completed == 1


def test_the_pool_reads_the_lifecycle_state_only_every_few_seconds() -> None:
    lifecycle = FakeLifecycle()
    reads: list[float] = []
    harness = Harness(lifecycle=lifecycle)

    def terminating() -> bool:
        reads.append(harness.now)
        return False

    lifecycle.terminating = terminating  # type: ignore[method-assign]

    def stop(h: Harness) -> None:
        if h.ticks == 20:
            h.pool.request_stop("SIGTERM")

    harness.on_tick = stop
    harness.pool.run()
    assert reads == [n * LIFECYCLE_SECONDS for n in range(5)]  # 0 s to 20 s


def test_after_draining_the_pool_idles_healthy_until_sigterm() -> None:
    harness = Harness()

    def sigterm_later(h: Harness) -> None:
        assert h.pool.healthy()
        h.pool.signalled = h.ticks == 10

    harness.on_tick = sigterm_later
    harness.now = 1000.0
    harness.pool.wait_for_shutdown()
    assert harness.ticks == 10


def test_a_pool_whose_loop_stopped_is_unhealthy() -> None:
    harness = Harness()
    harness.pool.beat()
    assert harness.pool.healthy()
    harness.now += STALE_SECONDS + 1
    assert not harness.pool.healthy()
