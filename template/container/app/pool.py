"""Several jobs at once on one instance: a pool of worker processes.

The capacity plan fits `worker_processes` jobs on one instance (its memory after the
OS, and its vCPUs); user data passes the number in as WORKER_PROCESSES. With more
than one, `python -m app` runs this pool, which starts that many workers
(app/worker.py, one job at a time each, in a process of its own so that jobs use
every vCPU) and looks after them:

- a worker that exits on its own (its watchdog ended a stalled loop or an overrun
  job) is started again after RESTART_SECONDS, as systemd restarts a lone worker;
- SIGTERM (docker stop) reaches every worker: each finishes its running job and exits;
- the pool, not its workers, follows the instance's Auto Scaling lifecycle: on
  scale-in it stops every worker, records lifecycle heartbeats while their jobs
  finish, and completes the lifecycle action only once the last one has, so no
  running job loses its instance; it then idles until the instance shuts down;
- the pool serves the health endpoint (Docker's HEALTHCHECK): it is healthy while its
  loop runs, and each worker's own watchdog ends a worker that is not.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable
from typing import Protocol

from app.config import Settings
from app.worker import (
    HealthServer,
    Lifecycle,
    aws_session,
    configure_logging,
    install_signal_handlers,
    instance_lifecycle,
    serve,
)

log = logging.getLogger(__name__)

#: Seconds between two looks at the workers.
TICK_SECONDS = 1.0
#: Seconds between two looks at the instance's lifecycle state (the metadata service).
LIFECYCLE_SECONDS = 5.0
#: A worker that exited on its own is started again after this long.
RESTART_SECONDS = 5.0
#: The pool is unhealthy when its loop has not run for this long.
STALE_SECONDS = 60.0


class Process(Protocol):
    """What the pool needs of a worker process (multiprocessing.Process has it)."""

    @property
    def exitcode(self) -> int | None: ...

    def is_alive(self) -> bool: ...

    def terminate(self) -> None: ...

    def join(self, timeout: float | None = None) -> None: ...


def _work(settings: Settings) -> None:
    """A worker process: one worker, without the instance's health endpoint or lifecycle."""
    configure_logging(settings)
    raise SystemExit(serve(settings, whole_instance=False))


def start_worker(index: int, settings: Settings) -> Process:
    """Start worker ``index`` in a process of its own."""
    # A fresh interpreter (spawn), not a fork of a process whose threads may hold locks.
    context = multiprocessing.get_context("spawn")
    process = context.Process(target=_work, args=(settings,), name=f"worker-{index}")
    process.start()
    return process


class Pool:
    """Runs ``settings.worker_processes`` workers until asked to stop."""

    def __init__(
        self,
        settings: Settings,
        *,
        lifecycle: Lifecycle | None = None,
        start: Callable[[int, Settings], Process] = start_worker,
        clock: Callable[[], float] = time.monotonic,
        pause: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.size = settings.worker_processes
        self.lifecycle = lifecycle
        self.start = start
        self.clock = clock
        self.pause = pause
        self.heartbeat_seconds = settings.visibility_timeout_seconds / 3
        self.workers: dict[int, Process] = {}
        self.stop_reason: str | None = None
        self.draining = False
        self.signalled = False
        self._exited: dict[int, float] = {}
        self._told = False
        self._last_beat = clock()
        self._last_lifecycle = float("-inf")
        self._last_heartbeat = float("-inf")

    # --- state -------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self.stop_reason is not None

    def request_stop(self, reason: str) -> None:
        """Stop every worker after its running job. Safe in a signal handler."""
        if self.stop_reason is None:
            self.stop_reason = reason

    def beat(self) -> None:
        self._last_beat = self.clock()

    def healthy(self) -> bool:
        return self.clock() - self._last_beat <= STALE_SECONDS

    def running(self) -> list[int]:
        """The workers whose process is alive."""
        return [index for index, process in self.workers.items() if process.is_alive()]

    # --- the loop ----------------------------------------------------------------

    def run(self) -> None:
        """Start the workers and look after them until they have all stopped."""
        log.info("starting %d worker processes", self.size)
        for index in range(self.size):
            self.workers[index] = self.start(index, self.settings)
        while True:
            self.beat()
            self.check_lifecycle()
            if self.stopping:
                self._stop_workers()
                if not self.running():
                    break
                self._heartbeat()
            else:
                self._restart_exited()
            self.pause(TICK_SECONDS)
        log.info("all %d workers stopped: %s", self.size, self.stop_reason)
        if self.draining and self.lifecycle is not None:
            try:
                self.lifecycle.complete()
            except Exception:  # already completed (a restart), or timed out
                log.exception("could not complete the lifecycle action")

    def check_lifecycle(self) -> None:
        """Start draining when Auto Scaling is terminating this instance."""
        now = self.clock()
        if self.lifecycle is None or self.draining:
            return
        if now - self._last_lifecycle < LIFECYCLE_SECONDS:
            return
        self._last_lifecycle = now
        if self.lifecycle.terminating():
            log.info("the instance is being scaled in: draining every worker")
            self.draining = True
            self.request_stop("scale-in")

    def wait_for_shutdown(self) -> None:
        """After draining, idle until SIGTERM (as a lone worker does, app/worker.py)."""
        log.info("drained: idle until the instance shuts down")
        while not self.signalled:
            self.beat()
            self.pause(1)

    def _stop_workers(self) -> None:
        if self._told:
            return
        self._told = True
        for index in self.running():
            self.workers[index].terminate()  # SIGTERM: the running job finishes first

    def _heartbeat(self) -> None:
        """Auto Scaling waits while jobs finish, as long as it hears from us."""
        now = self.clock()
        if not self.draining or self.lifecycle is None:
            return
        if now - self._last_heartbeat < self.heartbeat_seconds:
            return
        self._last_heartbeat = now
        try:
            self.lifecycle.heartbeat()
        except Exception:
            log.exception("lifecycle heartbeat failed")

    def _restart_exited(self) -> None:
        now = self.clock()
        for index, process in self.workers.items():
            if process.is_alive():
                continue
            if index not in self._exited:
                self._exited[index] = now
                log.error("worker %d exited (status %s): restarting it", index, process.exitcode)
            elif now - self._exited[index] >= RESTART_SECONDS:
                del self._exited[index]
                self.workers[index] = self.start(index, self.settings)


def supervise(settings: Settings) -> int:
    """Run the pool for the instance (`python -m app` with WORKER_PROCESSES above 1)."""
    pool = Pool(settings, lifecycle=instance_lifecycle(aws_session(settings), settings))
    install_signal_handlers(pool)
    with HealthServer(pool, settings.host, settings.port):
        pool.run()
        if pool.draining:
            pool.wait_for_shutdown()
    return 0
