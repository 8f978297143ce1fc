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
}


def test_starts_reports_healthy_and_stops_on_sigterm() -> None:
    env = {**ENV, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    with run_app(env) as worker:
        code, output = worker.stop()
    assert code == 0, output
    assert "stopped: SIGTERM" in output, output


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
