"""The queue worker: SQS long polling, one job at a time, graceful stop, idempotent jobs.

The life of a message:

1. receive it (long polling: one call waits up to 20 s; one message at a time, so a
   stop never strands a batch);
2. claim its job id in the jobs table (app/store.py): a job that already finished is
   a duplicate delivery and is acknowledged without running again; a job another
   worker is running is left alone;
3. run `app.jobs.handle` while a keeper thread keeps the message hidden from other
   workers (ChangeMessageVisibility), keeps the health beat and enforces the job
   time limit;
4. record the job as done, then delete the message. A failed job releases its claim
   and its message comes back; after `max_receive_count` tries SQS moves it to the
   dead-letter queue.

Stopping: SIGTERM (docker stop) or the instance being scaled in (its Auto Scaling
target lifecycle state becomes "Terminated") stops the worker taking new messages;
the running job finishes first. On scale-in the worker then completes the lifecycle
action, and only then does Auto Scaling terminate the instance. On ECS (Fargate) the
task protects itself from scale-in and deployments while a job runs (task scale-in
protection, through the ECS agent's endpoint), so they stop only idle tasks.

Stuck: a watchdog thread exits the process when the worker stays unhealthy (its loop
stopped beating, or a job outlived its time limit). Docker only marks an unhealthy
container, and the Auto Scaling group checks the instance, not the container; the
exit makes systemd start a fresh container (Restart=always), or ECS a fresh task.

Several jobs at once: with WORKER_PROCESSES above 1, `python -m app` runs that many of
these workers, one process each, under app/pool.py, which then owns the health
endpoint and the instance's lifecycle (on ECS, each worker protects the task for its
own job, and the protection lapses after the last: none may lift another's).
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import os
import signal
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, Protocol

from app import jobs
from app.config import Settings
from app.jobs import InvalidJob, handle
from app.store import Claim, DynamoJobStore, JobStore, LostClaim

log = logging.getLogger(__name__)

Handler = Callable[[str, dict[str, Any]], dict[str, Any]]

#: A message whose job another worker holds comes back after this many seconds.
BUSY_RETRY_SECONDS = 60
#: Longest pause after a failed receive call.
MAX_BACKOFF_SECONDS = 30
#: Longest job id taken from a message (longer ones use the SQS message id).
MAX_JOB_ID_LENGTH = 512
#: The instance metadata service (IMDSv2, reachable with the host network).
IMDS_HOST = "169.254.169.254"
#: How often the watchdog checks the worker's health.
WATCHDOG_SECONDS = 15
#: Exit status of a worker the watchdog stopped (EX_SOFTWARE): systemd restarts it.
EXIT_STALLED = 70
#: Where the ECS agent (at $ECS_AGENT_URI) sets and reads the task's scale-in protection.
TASK_PROTECTION_PATH = "/task-protection/v1/state"
#: The longest ECS protects a task at once (48 hours).
MAX_PROTECTION_MINUTES = 2880


def instance_metadata(path: str, timeout: float = 2.0) -> str | None:
    """One instance metadata item (IMDSv2), or None off EC2 or when it is absent."""
    connection = http.client.HTTPConnection(IMDS_HOST, 80, timeout=timeout)
    try:
        connection.request(
            "PUT", "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}
        )
        response = connection.getresponse()
        token = response.read().decode()
        if response.status != HTTPStatus.OK:
            return None
        connection.request(
            "GET", f"/latest/meta-data/{path}", headers={"X-aws-ec2-metadata-token": token}
        )
        response = connection.getresponse()
        body = response.read().decode()
        return body if response.status == HTTPStatus.OK else None
    except OSError:
        return None
    finally:
        connection.close()


class Lifecycle:
    """This instance's Auto Scaling lifecycle: is it being scaled in, and "done draining"."""

    def __init__(
        self,
        autoscaling: Any,
        hook_name: str,
        group_name: str,
        metadata: Callable[[str], str | None] = instance_metadata,
    ) -> None:
        self._autoscaling = autoscaling
        self._hook = hook_name
        self._group = group_name
        self._metadata = metadata

    def terminating(self) -> bool:
        """True once Auto Scaling has chosen this instance for termination."""
        return self._metadata("autoscaling/target-lifecycle-state") == "Terminated"

    def _action(self) -> dict[str, str] | None:
        instance_id = self._metadata("instance-id")
        if instance_id is None:
            log.warning("instance id unknown: not on EC2?")
            return None
        return {
            "LifecycleHookName": self._hook,
            "AutoScalingGroupName": self._group,
            "InstanceId": instance_id,
        }

    def heartbeat(self) -> None:
        """Ask Auto Scaling to wait longer (a job is still running)."""
        action = self._action()
        if action:
            self._autoscaling.record_lifecycle_action_heartbeat(**action)

    def complete(self) -> None:
        """Let Auto Scaling terminate the instance now."""
        action = self._action()
        if action:
            self._autoscaling.complete_lifecycle_action(**action, LifecycleActionResult="CONTINUE")
            log.info("lifecycle action completed: the instance may terminate")


class ProtectionError(RuntimeError):
    """The ECS agent did not set the task's scale-in protection."""


class TaskProtection:
    """ECS task scale-in protection: while it is on, neither scale-in nor a deployment
    stops this task. ECS sets ECS_AGENT_URI in every container of a task; the task role
    needs ecs:UpdateTaskProtection. Off ECS there is none (no ECS_AGENT_URI).
    """

    def __init__(self, agent_uri: str, timeout: float = 5.0, *, releases: bool = True) -> None:
        parts = urllib.parse.urlsplit(agent_uri)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"ECS_AGENT_URI is not an http URL: {agent_uri!r}")
        self._host = parts.hostname
        self._port = parts.port or 80
        self._path = parts.path.rstrip("/") + TASK_PROTECTION_PATH
        self._timeout = timeout
        self._releases = releases

    def protect(self, minutes: int) -> None:
        """Protect the task for ``minutes`` (1 to 2,880), from now."""
        minutes = max(1, min(MAX_PROTECTION_MINUTES, minutes))
        self._put({"ProtectionEnabled": True, "ExpiresInMinutes": minutes})

    def release(self) -> None:
        """Let scale-in and deployments stop the task again (unless the task's other
        workers may still run jobs: then the protection expires by itself)."""
        if not self._releases:
            return
        self._put({"ProtectionEnabled": False})

    def _put(self, state: dict[str, Any]) -> None:
        connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        try:
            connection.request(
                "PUT",
                self._path,
                body=json.dumps(state),
                headers={"Content-Type": "application/json"},
            )
            response = connection.getresponse()
            body = response.read().decode(errors="replace")
        except OSError as error:
            raise ProtectionError(f"the ECS agent cannot be reached: {error}") from None
        finally:
            connection.close()
        try:
            answer = json.loads(body) if body else {}
        except json.JSONDecodeError:
            answer = {}
        if response.status != HTTPStatus.OK or "protection" not in answer:
            reason = answer.get("failure") or answer.get("error") or body[:200]
            raise ProtectionError(f"task protection refused ({response.status}): {reason}")


class Supervised(Protocol):
    """What the health endpoint and the signal handlers need: a worker, or a pool of them."""

    signalled: bool

    @property
    def stopping(self) -> bool: ...

    def healthy(self) -> bool: ...

    def request_stop(self, reason: str) -> None: ...


def parse_message(message: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The job id and payload of an SQS message (InvalidJob when it has none)."""
    try:
        payload = json.loads(message["Body"])
    except (KeyError, TypeError, json.JSONDecodeError):
        raise InvalidJob("the message body is not JSON") from None
    if not isinstance(payload, dict):
        raise InvalidJob("the message body is not a JSON object")
    job_id = payload.get("job_id")
    # app/jobs.py is the project's own code: one written before template 0.2.0 has
    # no job_id function, and the message id then names the job, as it did.
    derive = getattr(jobs, "job_id", None)
    if (not isinstance(job_id, str) or not job_id) and derive is not None:
        job_id = derive(payload)
    if not isinstance(job_id, str) or not job_id or len(job_id) > MAX_JOB_ID_LENGTH:
        job_id = str(message["MessageId"])
    return job_id, payload


class Worker:
    """Polls one queue and runs one job at a time until asked to stop."""

    def __init__(
        self,
        sqs: Any,
        settings: Settings,
        store: JobStore,
        handler: Handler = handle,
        *,
        lifecycle: Lifecycle | None = None,
        protection: TaskProtection | None = None,
        keepalive_seconds: float | None = None,
        on_timeout: Callable[[str], None] | None = None,
        pause: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sqs = sqs
        self.settings = settings
        self.store = store
        self.handler = handler
        self.lifecycle = lifecycle
        self.protection = protection
        self.keepalive_seconds = keepalive_seconds or settings.visibility_timeout_seconds / 3
        self.on_timeout = on_timeout or _exit_on_timeout
        self.pause = pause or self._sleep
        self.clock = clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stop_reason: str | None = None
        self.draining = False
        self.signalled = False
        self._last_beat = clock()
        self._job_started: float | None = None

    # --- state -------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self.stop_reason is not None

    def request_stop(self, reason: str) -> None:
        """Take no new message; the running job finishes. Safe in a signal handler."""
        if self.stop_reason is None:
            self.stop_reason = reason

    def beat(self) -> None:
        self._last_beat = self.clock()

    def healthy(self) -> bool:
        """The loop is alive and the running job is within its time limit."""
        now = self.clock()
        stale_after = max(60.0, 3 * self.settings.wait_seconds, 3 * self.keepalive_seconds)
        if now - self._last_beat > stale_after:
            return False
        started = self._job_started
        return started is None or now - started <= self.settings.job_timeout_seconds

    def check_lifecycle(self) -> None:
        """Start draining when Auto Scaling is terminating this instance."""
        if self.lifecycle is not None and not self.draining and self.lifecycle.terminating():
            log.info("the instance is being scaled in: draining")
            self.draining = True
            self.request_stop("scale-in")

    # --- the loop ----------------------------------------------------------------

    def run(self) -> None:
        """Poll until stopped, then complete the lifecycle action when scaled in."""
        log.info("polling %s as %s", self.settings.queue_url, self.owner)
        failures = 0
        while not self.stopping:
            self.beat()
            self.check_lifecycle()
            if self.stopping:
                break
            try:
                messages = self._receive()
            except Exception:
                failures += 1
                delay = min(MAX_BACKOFF_SECONDS, 2 ** min(failures, 5))
                log.exception("receive failed; retrying in %s s", delay)
                self.pause(delay)
                continue
            failures = 0
            for message in messages:
                if self.stopping:
                    self._change_visibility(message["ReceiptHandle"], 0)  # hand it back
                else:
                    self.process(message)
        log.info("stopped: %s", self.stop_reason)
        if self.draining and self.lifecycle is not None:
            try:
                self.lifecycle.complete()
            except Exception:  # already completed (a restart), or timed out
                log.exception("could not complete the lifecycle action")

    def wait_for_shutdown(self, pause: Callable[[float], None] = time.sleep) -> None:
        """After draining, idle until SIGTERM: exiting would make systemd start a new
        worker, which could take a job on an instance about to go away. Idling is
        healthy: the beat goes on, so the watchdog leaves the process alone."""
        log.info("drained: idle until the instance shuts down")
        while not self.signalled:
            self.beat()
            pause(1)

    def _receive(self) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.settings.queue_url,
            MaxNumberOfMessages=1,
            WaitTimeSeconds=self.settings.wait_seconds,
            VisibilityTimeout=self.settings.visibility_timeout_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        return list(response.get("Messages", []))

    def _sleep(self, seconds: float) -> None:
        deadline = self.clock() + seconds
        while not self.stopping and self.clock() < deadline:
            time.sleep(min(0.5, seconds))

    def _change_visibility(self, receipt: str, seconds: int) -> None:
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.settings.queue_url, ReceiptHandle=receipt, VisibilityTimeout=seconds
            )
        except Exception:
            log.exception("could not change the message's visibility")

    def _delete(self, receipt: str) -> None:
        self.sqs.delete_message(QueueUrl=self.settings.queue_url, ReceiptHandle=receipt)

    # --- one message ---------------------------------------------------------------

    def process(self, message: dict[str, Any]) -> str:
        """Run the message's job unless it already ran; returns what happened."""
        receipt = message["ReceiptHandle"]
        try:
            job_id, payload = parse_message(message)
        except InvalidJob as error:
            log.error("message %s rejected: %s", message.get("MessageId"), error)
            self._change_visibility(receipt, 0)  # to the dead-letter queue sooner
            return "invalid"
        lease = self.settings.job_timeout_seconds + self.settings.visibility_timeout_seconds
        claim = self.store.claim(job_id, self.owner, lease)
        if claim is Claim.DONE:
            log.info("job %s already done: duplicate delivery acknowledged", job_id)
            self._delete(receipt)
            return "duplicate"
        if claim is Claim.BUSY:
            log.info("job %s is running on another worker", job_id)
            self._change_visibility(receipt, BUSY_RETRY_SECONDS)
            return "busy"
        outcome = self._run(job_id, payload, receipt)
        if outcome == "done":
            self._delete(receipt)
        return outcome

    def _run(self, job_id: str, payload: dict[str, Any], receipt: str) -> str:
        self._job_started = self.clock()
        self._protect(job_id)
        keeper = _Keeper(self, job_id, receipt)
        keeper.start()
        try:
            result = self.handler(job_id, payload)
        except InvalidJob as error:
            log.error("job %s rejected: %s", job_id, error)
            self.store.release(job_id, self.owner)
            self._change_visibility(receipt, 0)
            return "invalid"
        except Exception:
            log.exception("job %s failed; it will be retried", job_id)
            self.store.release(job_id, self.owner)
            return "failed"
        finally:
            keeper.stop()
            self._job_started = None
            self._release()
        try:
            self.store.complete(job_id, self.owner, result)
        except LostClaim:
            log.warning("job %s: lease lost to another worker; leaving its message", job_id)
            return "lost"
        log.info("job %s done: %s", job_id, result)
        return "done"

    def _protect(self, job_id: str) -> None:
        """On ECS: no scale-in or deployment stops this task before the job can end.

        Protected for the job's time limit and one visibility timeout (its message
        would come back then anyway); the job runs unprotected if the agent refuses.
        """
        if self.protection is None:
            return
        lease = self.settings.job_timeout_seconds + self.settings.visibility_timeout_seconds
        try:
            self.protection.protect(math.ceil(lease / 60) + 1)
        except ProtectionError:
            log.exception("job %s runs without scale-in protection", job_id)

    def _release(self) -> None:
        if self.protection is None:
            return
        try:
            self.protection.release()
        except ProtectionError:
            log.exception("could not release the task's scale-in protection (it expires)")

    def keep_alive(self, job_id: str, receipt: str) -> bool:
        """One keeper tick; False once the job has run out of time."""
        started = self._job_started
        if started is not None and self.clock() - started > self.settings.job_timeout_seconds:
            self.on_timeout(job_id)
            return False
        self._change_visibility(receipt, self.settings.visibility_timeout_seconds)
        self.beat()
        self.check_lifecycle()
        if self.draining and self.lifecycle is not None:
            try:
                self.lifecycle.heartbeat()
            except Exception:
                log.exception("lifecycle heartbeat failed")
        return True


class _Keeper(threading.Thread):
    """While a job runs: its message stays hidden, the health beat goes on."""

    def __init__(self, worker: Worker, job_id: str, receipt: str) -> None:
        super().__init__(name=f"keeper-{job_id}", daemon=True)
        self._worker = worker
        self._job_id = job_id
        self._receipt = receipt
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self._worker.keepalive_seconds):
            if not self._worker.keep_alive(self._job_id, self._receipt):
                return

    def stop(self) -> None:
        self._done.set()
        self.join()


class Watchdog(threading.Thread):
    """Ends the process once the worker is unhealthy, so that it is restarted.

    The health endpoint only reports a stuck worker: Docker marks the container
    unhealthy and does nothing else, and the Auto Scaling group (EC2 health checks)
    sees a running instance. Exiting lets systemd start a fresh container (on ECS,
    the service starts a fresh task).
    """

    def __init__(
        self,
        worker: Worker,
        interval: float = WATCHDOG_SECONDS,
        on_unhealthy: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(name="watchdog", daemon=True)
        self._worker = worker
        self._interval = interval
        self._on_unhealthy = on_unhealthy or _exit_stalled
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self._interval):
            if not self._worker.healthy():
                self._on_unhealthy()
                return

    def stop(self) -> None:
        self._stopped.set()
        self.join()


def _exit_stalled() -> None:
    log.critical("the worker is stalled (see /health): exiting so that it is restarted")
    logging.shutdown()
    os._exit(EXIT_STALLED)


def _exit_on_timeout(job_id: str) -> None:
    """A job past its time limit is stuck: exit so the container restarts.

    Its message reappears once its visibility runs out and is retried (then moved to
    the dead-letter queue if it keeps failing).
    """
    log.critical("job %s exceeded its time limit: restarting the worker", job_id)
    logging.shutdown()
    os._exit(75)


class HealthServer:
    """GET /health on 127.0.0.1: 200 while the worker (or the pool) is healthy, else 503."""

    def __init__(self, worker: Supervised, host: str, port: int) -> None:
        class HealthHandler(BaseHTTPRequestHandler):
            server_version = "worker"
            sys_version = ""

            def do_GET(self) -> None:
                if self.path != "/health":
                    self._answer(404, {"error": "not found"})
                elif worker.healthy():
                    self._answer(200, {"status": "ok", "stopping": worker.stopping})
                else:
                    self._answer(503, {"status": "stalled"})

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return  # health probes would drown the job logs

        self._server = ThreadingHTTPServer((host, port), HealthHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def __enter__(self) -> HealthServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


def install_signal_handlers(worker: Supervised) -> None:
    """SIGTERM (docker stop) and SIGINT stop the worker after the running job."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        worker.signalled = True
        worker.request_stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


def aws_session(settings: Settings) -> Any:
    """The AWS SDK session of a running worker (or pool)."""
    import boto3  # noqa: PLC0415 - only the running worker needs the AWS SDK

    return boto3.session.Session(region_name=settings.aws_region or None)


def instance_lifecycle(session: Any, settings: Settings) -> Lifecycle | None:
    """This instance's Auto Scaling lifecycle, when user data named its hook and group."""
    if not (settings.lifecycle_hook_name and settings.autoscaling_group_name):
        return None
    return Lifecycle(
        session.client("autoscaling"),
        settings.lifecycle_hook_name,
        settings.autoscaling_group_name,
    )


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )


def task_protection(settings: Settings, *, whole_task: bool) -> TaskProtection | None:
    """This task's scale-in protection, on ECS (ECS_AGENT_URI set). A pool's workers share
    the task: none releases it, so one job's end never unprotects another's (each
    protects for its own job's limit, and the protection expires after the last)."""
    if not settings.ecs_agent_uri:
        return None
    return TaskProtection(settings.ecs_agent_uri, releases=whole_task)


def serve(settings: Settings, *, whole_instance: bool = True) -> int:
    """Run one worker until it stops.

    ``whole_instance``: it is the instance's only worker, so it also serves the health
    endpoint and follows the instance's lifecycle; a pool's workers leave both to the
    pool (app/pool.py).
    """
    session = aws_session(settings)
    worker = Worker(
        session.client("sqs"),
        settings,
        DynamoJobStore(session.client("dynamodb"), settings.jobs_table),
        lifecycle=instance_lifecycle(session, settings) if whole_instance else None,
        protection=task_protection(settings, whole_task=whole_instance),
    )
    install_signal_handlers(worker)
    watchdog = Watchdog(worker)
    watchdog.start()
    try:
        if not whole_instance:
            worker.run()
            return 0
        with HealthServer(worker, settings.host, settings.port):
            worker.run()
            if worker.draining:
                worker.wait_for_shutdown()
    finally:
        watchdog.stop()
    return 0


def main() -> int:
    """Run the worker, or a pool of them, with the settings from the environment
    (`python -m app`)."""
    settings = Settings.from_env()
    configure_logging(settings)
    if not settings.queue_url or not settings.jobs_table:
        log.error("QUEUE_URL and JOBS_TABLE must be set")
        return 2
    if settings.worker_processes > 1:
        from app.pool import supervise  # noqa: PLC0415 - app.pool imports this module

        return supervise(settings)
    return serve(settings)
