"""The worker loop against an in-memory queue: idempotency, failures, graceful stops."""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app.config import Settings
from app.jobs import InvalidJob, handle
from app.store import Claim, MemoryJobStore
from app.worker import (
    BUSY_RETRY_SECONDS,
    TASK_PROTECTION_PATH,
    HealthServer,
    Lifecycle,
    ProtectionError,
    TaskProtection,
    Watchdog,
    Worker,
    install_signal_handlers,
    main,
    parse_message,
    task_protection,
)
from tests.helpers import free_port

SETTINGS = Settings(queue_url="https://sqs.test/queue", jobs_table="jobs", wait_seconds=0)


def message(n: int, body: Any = None, job_id: str | None = None) -> dict[str, Any]:
    payload = body if body is not None else {"job_id": job_id or f"job-{n}", "text": "a b c"}
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return {"MessageId": f"m-{n}", "ReceiptHandle": f"r-{n}", "Body": text}


class FakeSQS:
    """Hands out its messages one by one, then asks the worker to stop."""

    def __init__(self, *messages: dict[str, Any]) -> None:
        self.messages = list(messages)
        self.receives = 0
        self.deleted: list[str] = []
        self.visibility: list[tuple[str, int]] = []
        self.worker: Worker | None = None
        self.fail_next = 0

    def receive_message(self, **request: Any) -> dict[str, Any]:
        assert request["MaxNumberOfMessages"] == 1
        self.receives += 1
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("network down")
        if not self.messages:
            assert self.worker is not None
            self.worker.request_stop("queue empty")
            return {}
        return {"Messages": [self.messages.pop(0)]}

    def delete_message(self, QueueUrl: str, ReceiptHandle: str) -> None:  # noqa: N803
        self.deleted.append(ReceiptHandle)

    def change_message_visibility(
        self,
        QueueUrl: str,  # noqa: N803
        ReceiptHandle: str,  # noqa: N803
        VisibilityTimeout: int,  # noqa: N803
    ) -> None:
        self.visibility.append((ReceiptHandle, VisibilityTimeout))


class Recorder:
    """A job handler that records its calls (and can fail or run code mid-job)."""

    def __init__(
        self, during: Callable[[], None] | None = None, fail: int = 0, reject: bool = False
    ) -> None:
        self.calls: list[str] = []
        self.during = during
        self.fail = fail
        self.reject = reject

    def __call__(self, job_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(job_id)
        if self.during:
            self.during()
        if self.fail:
            self.fail -= 1
            raise RuntimeError("boom")
        if self.reject:
            raise InvalidJob("never processable")
        return {"job_id": job_id}  # the job itself is tested in tests/test_jobs.py


def make_worker(
    sqs: FakeSQS, handler: Recorder, store: MemoryJobStore | None = None, **options: Any
) -> Worker:
    settings = options.pop("settings", SETTINGS)
    options.setdefault("pause", lambda seconds: None)
    worker = Worker(sqs, settings, store or MemoryJobStore(), handler, **options)
    sqs.worker = worker
    return worker


def test_a_job_runs_and_its_message_is_deleted() -> None:
    sqs, handler = FakeSQS(message(1)), Recorder()
    make_worker(sqs, handler).run()
    assert handler.calls == ["job-1"]
    assert sqs.deleted == ["r-1"]


def test_a_redelivered_job_does_not_run_twice() -> None:
    sqs, handler = FakeSQS(message(1, job_id="same"), message(2, job_id="same")), Recorder()
    make_worker(sqs, handler).run()
    assert handler.calls == ["same"]
    assert sqs.deleted == ["r-1", "r-2"]  # the duplicate is acknowledged


def test_the_message_id_is_the_job_id_by_default() -> None:
    sqs, handler = FakeSQS(message(7, body={"text": "x"})), Recorder()
    make_worker(sqs, handler).run()
    assert handler.calls == ["m-7"]


def test_a_failed_job_is_released_and_retried() -> None:
    store = MemoryJobStore()
    sqs, handler = FakeSQS(message(1, job_id="j"), message(2, job_id="j")), Recorder(fail=1)
    make_worker(sqs, handler, store).run()
    assert handler.calls == ["j", "j"]
    assert sqs.deleted == ["r-2"]  # the first delivery comes back after its visibility
    assert store.jobs["j"]["status"] == "done"


@pytest.mark.parametrize("body", ["not json", ["a", "list"], None])
def test_invalid_messages_go_back_quickly_towards_the_dead_letter_queue(body: Any) -> None:
    # None: a well-formed message whose job rejects it (InvalidJob from the handler).
    sqs = FakeSQS(message(1, body=body))
    make_worker(sqs, Recorder(reject=body is None)).run()
    assert sqs.deleted == []
    assert ("r-1", 0) in sqs.visibility


def test_a_job_running_elsewhere_is_left_alone() -> None:
    store = MemoryJobStore()
    assert store.claim("busy", "another-worker", 3600) is Claim.CLAIMED
    sqs, handler = FakeSQS(message(1, job_id="busy")), Recorder()
    make_worker(sqs, handler, store).run()
    assert handler.calls == []
    assert sqs.deleted == []
    assert sqs.visibility == [("r-1", BUSY_RETRY_SECONDS)]


def test_receive_errors_back_off_and_recover() -> None:
    pauses: list[float] = []
    sqs, handler = FakeSQS(message(1)), Recorder()
    sqs.fail_next = 2
    make_worker(sqs, handler, pause=pauses.append).run()
    assert pauses == [2, 4]
    assert sqs.deleted == ["r-1"]


@pytest.fixture
def restore_signals() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


@pytest.mark.usefixtures("restore_signals")
def test_sigterm_lets_the_running_job_finish_and_takes_no_new_one() -> None:
    sqs = FakeSQS(message(1), message(2))
    handler = Recorder(during=lambda: os.kill(os.getpid(), signal.SIGTERM))
    worker = make_worker(sqs, handler)
    install_signal_handlers(worker)
    worker.run()
    assert worker.stop_reason == "SIGTERM"
    assert handler.calls == ["job-1"]  # finished, not interrupted
    assert sqs.deleted == ["r-1"]
    assert sqs.receives == 1  # no message taken after the signal


def test_a_message_received_while_stopping_is_handed_back() -> None:
    sqs, handler = FakeSQS(message(1)), Recorder()
    worker = make_worker(sqs, handler)
    original = sqs.receive_message

    def receive_then_stop(**request: Any) -> dict[str, Any]:
        response = original(**request)
        worker.request_stop("SIGTERM")
        return response

    sqs.receive_message = receive_then_stop  # type: ignore[method-assign]
    worker.run()
    assert handler.calls == []
    assert sqs.visibility == [("r-1", 0)]


def test_a_long_job_keeps_its_message_hidden() -> None:
    sqs = FakeSQS(message(1))
    handler = Recorder(during=lambda: time.sleep(0.5))
    make_worker(sqs, handler, keepalive_seconds=0.05).run()
    extensions = [v for v in sqs.visibility if v == ("r-1", SETTINGS.visibility_timeout_seconds)]
    assert len(extensions) >= 3
    assert sqs.deleted == ["r-1"]


def test_a_job_over_its_time_limit_is_abandoned() -> None:
    timed_out = threading.Event()
    settings = Settings(queue_url="q", jobs_table="t", wait_seconds=0, job_timeout_seconds=1)
    sqs = FakeSQS(message(1))
    handler = Recorder(during=lambda: timed_out.wait(5))
    worker = make_worker(
        sqs,
        handler,
        settings=settings,
        keepalive_seconds=0.05,
        on_timeout=lambda _: timed_out.set(),
    )
    worker.run()
    assert timed_out.is_set()


class FakeLifecycle(Lifecycle):
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


def test_scale_in_drains_the_running_job_then_completes_the_lifecycle_action() -> None:
    lifecycle = FakeLifecycle()

    def scale_in_mid_job() -> None:
        lifecycle.state = "Terminated"
        time.sleep(0.3)  # the job goes on while Auto Scaling waits

    sqs, handler = FakeSQS(message(1), message(2)), Recorder(during=scale_in_mid_job)
    worker = make_worker(sqs, handler, lifecycle=lifecycle, keepalive_seconds=0.05)
    worker.run()
    assert handler.calls == ["job-1"]
    assert sqs.deleted == ["r-1"]
    assert worker.stop_reason == "scale-in"
    assert lifecycle.heartbeats >= 1
    assert lifecycle.completed == 1


def test_a_restarted_worker_on_a_terminating_instance_takes_no_job() -> None:
    lifecycle = FakeLifecycle()
    lifecycle.state = "Terminated"

    def already_completed() -> None:
        raise RuntimeError("No active Lifecycle Action found")

    lifecycle.complete = already_completed  # type: ignore[method-assign]
    sqs, handler = FakeSQS(message(1)), Recorder()
    worker = make_worker(sqs, handler, lifecycle=lifecycle)
    worker.run()  # logs the failed completion instead of crashing into a restart loop
    assert sqs.receives == 0
    assert handler.calls == []


def test_after_draining_the_worker_idles_until_sigterm() -> None:
    worker = make_worker(FakeSQS(), Recorder())
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 3:
            worker.signalled = True

    worker.wait_for_shutdown(pause)
    assert pauses == [1, 1, 1]


def test_a_drained_worker_stays_healthy_while_it_idles() -> None:
    now = [1000.0]
    worker = Worker(FakeSQS(), SETTINGS, MemoryJobStore(), handle, clock=lambda: now[0])

    health: list[bool] = []

    def pause(seconds: float) -> None:
        now[0] += 30
        health.append(worker.healthy())
        worker.signalled = len(health) == 10  # five minutes after the last job

    worker.wait_for_shutdown(pause)
    assert health == [True] * 10  # the watchdog must not restart it into taking jobs


def test_the_watchdog_ends_a_stalled_worker() -> None:
    now = [1000.0]
    worker = Worker(FakeSQS(), SETTINGS, MemoryJobStore(), handle, clock=lambda: now[0])
    stalled = threading.Event()
    watchdog = Watchdog(worker, interval=0.01, on_unhealthy=stalled.set)
    watchdog.start()
    try:
        assert not stalled.wait(0.2)  # healthy: left alone
        now[0] += 3600  # the loop stopped beating
        assert stalled.wait(5)
    finally:
        watchdog.stop()
    assert not watchdog.is_alive()


def test_the_watchdog_ends_a_worker_whose_job_outlived_its_limit() -> None:
    now = [1000.0]
    settings = Settings(queue_url="q", jobs_table="t", wait_seconds=0, job_timeout_seconds=30)
    worker = Worker(FakeSQS(), settings, MemoryJobStore(), handle, clock=lambda: now[0])
    worker._job_started = now[0]
    now[0] += 31
    worker.beat()
    stalled = threading.Event()
    watchdog = Watchdog(worker, interval=0.01, on_unhealthy=stalled.set)
    watchdog.start()
    assert stalled.wait(5)


@pytest.mark.usefixtures("restore_signals")
def test_the_running_worker_is_watched(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
        "JOBS_TABLE": "jobs",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "PORT": str(free_port()),
        "WORKER_PROCESSES": "1",  # one worker, this process (app/pool.py runs more)
    }.items():
        monkeypatch.setenv(name, value)
    watched: list[bool] = []

    def run(worker: Worker) -> None:
        watched.append(any(t.name == "watchdog" and t.is_alive() for t in threading.enumerate()))

    monkeypatch.setattr(Worker, "run", run)
    assert main() == 0
    assert watched == [True]
    assert not any(t.name == "watchdog" and t.is_alive() for t in threading.enumerate())


def test_lifecycle_reads_the_target_state_and_completes_the_action() -> None:
    metadata = {"autoscaling/target-lifecycle-state": "Terminated", "instance-id": "i-123"}
    calls: list[tuple[str, dict[str, str]]] = []

    class AutoScaling:
        def complete_lifecycle_action(self, **request: str) -> None:
            calls.append(("complete", request))

        def record_lifecycle_action_heartbeat(self, **request: str) -> None:
            calls.append(("heartbeat", request))

    lifecycle = Lifecycle(AutoScaling(), "drain", "group", metadata=metadata.get)
    assert lifecycle.terminating()
    lifecycle.heartbeat()
    lifecycle.complete()
    action = {"LifecycleHookName": "drain", "AutoScalingGroupName": "group", "InstanceId": "i-123"}
    assert calls == [
        ("heartbeat", action),
        ("complete", {**action, "LifecycleActionResult": "CONTINUE"}),
    ]


def test_off_ec2_there_is_no_lifecycle_to_complete() -> None:
    lifecycle = Lifecycle(object(), "drain", "group", metadata=lambda path: None)
    assert not lifecycle.terminating()
    lifecycle.complete()  # no instance id: nothing to call


class FakeAgent:
    """The ECS agent's task-protection endpoint on loopback: records each PUT."""

    def __init__(self, refuse: bool = False) -> None:
        self.states: list[dict[str, Any]] = []
        self.refuse = refuse
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                length = int(self.headers["Content-Length"])
                state = json.loads(self.rfile.read(length))
                agent.states.append({"path": self.path, **state})
                if agent.refuse:
                    body = {"failure": {"Reason": "TASK_NOT_VALID"}}
                else:
                    body = {"protection": {"ProtectionEnabled": state["ProtectionEnabled"]}}
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self._server.server_address[1]}/api/task-1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeAgent:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_on_ecs_a_running_job_protects_its_task_from_scale_in() -> None:
    """Scale-in and deployments stop only idle tasks: protected while the job runs."""
    with FakeAgent() as agent:
        seen: list[int] = []
        handler = Recorder(during=lambda: seen.append(len(agent.states)))
        sqs = FakeSQS(message(1), message(2))
        make_worker(sqs, handler, protection=TaskProtection(agent.uri)).run()
    assert seen == [1, 3]  # each job ran with its task protected
    path = "/api/task-1" + TASK_PROTECTION_PATH
    minutes = -(-(SETTINGS.job_timeout_seconds + SETTINGS.visibility_timeout_seconds) // 60) + 1
    protect = {"path": path, "ProtectionEnabled": True, "ExpiresInMinutes": minutes}
    release = {"path": path, "ProtectionEnabled": False}
    assert agent.states == [protect, release, protect, release]
    assert sqs.deleted == ["r-1", "r-2"]


def test_a_job_runs_even_when_the_agent_refuses_protection() -> None:
    with FakeAgent(refuse=True) as agent:
        sqs, handler = FakeSQS(message(1)), Recorder()
        make_worker(sqs, handler, protection=TaskProtection(agent.uri)).run()
        with pytest.raises(ProtectionError, match="TASK_NOT_VALID"):
            TaskProtection(agent.uri).release()
    assert handler.calls == ["job-1"]
    assert sqs.deleted == ["r-1"]


def test_protection_is_at_most_two_days_and_needs_the_agent() -> None:
    with FakeAgent() as agent:
        TaskProtection(agent.uri).protect(10_000)
    assert agent.states[0]["ExpiresInMinutes"] == 2880
    with pytest.raises(ProtectionError, match="cannot be reached"):
        TaskProtection(f"http://127.0.0.1:{free_port()}/api", timeout=1).protect(5)
    with pytest.raises(ValueError, match="not an http URL"):
        TaskProtection("file:///etc/passwd")


def test_parse_message() -> None:
    assert parse_message(message(1)) == ("job-1", {"job_id": "job-1", "text": "a b c"})
    assert parse_message(message(2, body={"job_id": ""}))[0] == "m-2"
    with pytest.raises(InvalidJob):
        parse_message(message(3, body="[]"))


def test_a_jobs_module_without_job_id_still_works(monkeypatch: pytest.MonkeyPatch) -> None:
    """app/jobs.py written before template 0.2.0 has no job_id: message ids name jobs."""
    monkeypatch.delattr("app.jobs.job_id", raising=False)  # absent in a 0.1.0 jobs.py
    assert parse_message(message(4, body={"text": "x"}))[0] == "m-4"
    assert parse_message(message(5, job_id="named"))[0] == "named"


def get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def test_health_endpoint_reports_a_stalled_loop() -> None:
    now = [1000.0]
    worker = Worker(FakeSQS(), SETTINGS, MemoryJobStore(), handle, clock=lambda: now[0])
    with HealthServer(worker, "127.0.0.1", 0) as server:
        assert get(server.port, "/health") == 200
        assert get(server.port, "/other") == 404
        now[0] += 3600
        assert get(server.port, "/health") == 503
        worker.beat()
        assert get(server.port, "/health") == 200


def test_a_pool_s_workers_never_lift_the_task_s_protection() -> None:
    """Workers sharing a task: one job's end must not unprotect another's running job."""
    with FakeAgent() as agent:
        settings = dataclasses.replace(SETTINGS, ecs_agent_uri=agent.uri)
        shared = task_protection(settings, whole_task=False)
        alone = task_protection(settings, whole_task=True)
        assert shared is not None
        assert alone is not None
        shared.protect(5)
        shared.release()
        alone.release()
    assert [state["ProtectionEnabled"] for state in agent.states] == [True, False]
    assert task_protection(SETTINGS, whole_task=True) is None  # off ECS: nothing to protect
