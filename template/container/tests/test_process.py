"""The real thing: `python -m app` (the container's command) starts, reports health, stops."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import ROOT, free_port, run_app

# No AWS: the endpoint refuses connections, so every receive fails and is retried.
ENV = {
    "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
    "JOBS_TABLE": "jobs",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_MAX_ATTEMPTS": "1",
    "WORKER_PROCESSES": "1",  # a lone worker; the pool test below asks for more
}


def test_starts_reports_healthy_and_stops_on_sigterm() -> None:
    env = {**ENV, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    with run_app(env) as worker:
        code, output = worker.stop()
    assert code == 0, output
    assert "stopped: SIGTERM" in output, output


def test_a_pool_runs_each_worker_in_a_process_of_its_own_and_stops_them_all() -> None:
    """WORKER_PROCESSES (the capacity plan's jobs per instance): one worker per process."""
    env = {**ENV, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "WORKER_PROCESSES": "3"}
    with run_app(env) as pool:
        started = pool.wait_for("polling ", count=3)  # every worker is up
        code, rest = pool.stop()
    output = started + rest
    assert code == 0, output
    assert "starting 3 worker processes" in output
    owners = {line.rsplit(" as ", 1)[1] for line in output.splitlines() if "polling " in line}
    assert len({owner.split(":")[1] for owner in owners}) == 3, output  # three process ids
    assert output.count("stopped: SIGTERM") == 3 + 1, output  # each worker, then the pool
    assert "all 3 workers stopped: SIGTERM" in output


def test_refuses_to_start_without_its_queue() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "app"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "QUEUE_URL and JOBS_TABLE must be set" in proc.stderr
