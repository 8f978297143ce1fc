"""What a Lambda start costs each generated handler: initialisation, then its first call.

Renders the Lambda project of every workload into a temporary folder and, in a fresh
interpreter per run (no bytecode cache: /var/task is read-only), measures

- **init**: ``import app``, which is the execution environment's initialisation:
  boto3's import, the SDK clients, the webhook's secret fetch;
- **first call**: the first invocation after initialisation, with the workload's
  sample event. This is what the first caller of a *provisioned* environment waits
  for: provisioned concurrency (and SnapStart) run the initialisation beforehand;
- **cold total**: init + first call, what an on-demand cold start adds in code;
- **warm call**: the second invocation, for comparison.

AWS calls go to a local stub on 127.0.0.1 (DynamoDB, SSM and S3 answers), through
the real boto3 of this environment (the Lambda runtime brings its own). Exits
non-zero if a project does not render, a handler fails, or a handler creates an SDK
client during an invocation instead of at initialisation.

    python benchmarks/lambda_start.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.render import plain_template, render  # noqa: E402 - needs the path above

#: Each workload and the sample event (events/) its first invocation gets.
WORKLOADS = {
    "http_api": "hello.json",
    "webhook": "delivery.json",
    "s3_events": "object_created.json",
    "sqs_consumer": "messages.json",
    "dynamodb_stream": "changes.json",
    "scheduled_job": "scheduled_run.json",
}
SECRET = "bench-secret"  # noqa: S105 - what the local stub answers

# Runs in the fresh interpreter, in the rendered project. Counts the SDK clients
# created in each phase, times the phases, prints JSON.
PROBE = """
import importlib.abc, json, sys, time
sys.path.insert(0, "src")
created = {"init": 0, "calls": 0}
phase = ["init"]

class CountClients(importlib.abc.MetaPathFinder):
    # Wraps boto3.client when (and only if) the handler imports boto3.
    def find_spec(self, name, path, target=None):
        if name != "boto3":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module
        def exec_module(module):
            run(module)
            real = module.client
            def client(*args, **kwargs):
                created[phase[0]] += 1
                return real(*args, **kwargs)
            module.client = client
        spec.loader.exec_module = exec_module
        return spec

import importlib.util
sys.meta_path.insert(0, CountClients())
start = time.perf_counter()
import app
init = time.perf_counter() - start
event = json.load(open(sys.argv[1]))
if sys.argv[2] == "webhook":
    from signature import sign
    now = int(time.time())
    headers = event["headers"]
    headers["x-signature-timestamp"] = str(now)
    body = (event.get("body") or "").encode()
    headers["x-signature"] = sign(sys.argv[3].encode(), now, headers["x-delivery-id"], body)

class Context:
    aws_request_id = "bench"
    def get_remaining_time_in_millis(self):
        return 30000

phase[0] = "calls"
timings = []
for attempt in range(2):
    if attempt and sys.argv[2] == "webhook":
        headers["x-delivery-id"] += "-2"  # a new delivery, not a duplicate
        headers["x-signature"] = sign(sys.argv[3].encode(), now, headers["x-delivery-id"], body)
    begin = time.perf_counter()
    result = app.handler(event, Context())
    timings.append(time.perf_counter() - begin)
status = result.get("statusCode", 200) if isinstance(result, dict) else 200
print(json.dumps({"init": init, "first": timings[0], "warm": timings[1],
                  "clients_at_init": created["init"], "clients_in_calls": created["calls"],
                  "status": status}))
"""


class BenchmarkError(Exception):
    """A project did not render, a handler failed, or it set up clients too late."""


class StubAWS(BaseHTTPRequestHandler):
    """Answers the calls the handlers make, as the services would (minimal bodies)."""

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        target = self.headers.get("X-Amz-Target", "")
        answer: dict[str, Any] = {}
        if target.endswith("GetParameter"):
            answer = {"Parameter": {"Name": "secret", "Value": SECRET, "Type": "SecureString"}}
        self._answer(200, json.dumps(answer).encode(), "application/x-amz-json-1.0")

    def do_HEAD(self) -> None:  # S3 HeadObject
        self._answer(200, b"", "text/plain")

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def stub_aws() -> Iterator[str]:
    """A stub AWS endpoint on loopback, for the time of the block; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubAWS)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def probe_env(endpoint: str) -> dict[str, str]:
    """The function's configuration, with every AWS call sent to the stub."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - the stub checks nothing
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1",
        IDEMPOTENCY_TABLE="bench-table",
        WEBHOOK_SECRET_PARAMETER="/bench/webhook-secret",  # noqa: S106 - a name
        SIGNATURE_TOLERANCE_SECONDS="300",
    )
    return env


def start_once(project: Path, workload: str, env: dict[str, str]) -> dict[str, Any]:
    """One start of the handler in a fresh interpreter: its timings and client counts."""
    event = project / "events" / WORKLOADS[workload]
    result = subprocess.run(
        [sys.executable, "-I", "-B", "-c", PROBE, str(event), workload, SECRET],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=env,
    )
    if result.returncode != 0:
        raise BenchmarkError(f"{workload}: the handler failed\n{result.stderr[-3000:]}")
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    if data["clients_in_calls"]:
        raise BenchmarkError(f"{workload}: an invocation created an SDK client")
    if data["status"] >= 400:
        raise BenchmarkError(f"{workload}: the sample event was answered {data['status']}")
    return data


def measure(project: Path, workload: str, env: dict[str, str], runs: int) -> dict[str, float]:
    """Median milliseconds of each phase over ``runs`` starts."""
    starts = [start_once(project, workload, env) for _ in range(runs)]

    def median(key: str) -> float:
        return statistics.median(s[key] for s in starts) * 1000

    return {
        "clients": starts[0]["clients_at_init"],
        "init": median("init"),
        "first": median("first"),
        "cold": statistics.median((s["init"] + s["first"]) for s in starts) * 1000,
        "warm": median("warm"),
    }


def main(argv: list[str] | None = None) -> int:
    """Render, measure and print; 0 on success, 1 on any failure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=10, help="starts per handler (default 10)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    print(
        f"{'workload':<16} {'clients':>7} {'init ms':>8} {'first call ms':>13} "
        f"{'cold total ms':>13} {'warm call ms':>12}"
    )
    failed = False
    with tempfile.TemporaryDirectory() as tmp, stub_aws() as endpoint:
        template = plain_template(Path(tmp) / "template")
        env = probe_env(endpoint)
        for workload in WORKLOADS:
            try:
                folder = Path(tmp) / workload
                project = render(template, folder, workload=workload, compute="lambda")
                row = measure(project, workload, env, args.runs)
            except Exception as exc:
                print(f"{workload:<16} FAILED: {exc}", file=sys.stderr)
                failed = True
                continue
            print(
                f"{workload:<16} {row['clients']:>7.0f} {row['init']:>8.1f} {row['first']:>13.1f} "
                f"{row['cold']:>13.1f} {row['warm']:>12.1f}"
            )
    print(
        f"(median of {args.runs} starts each, fresh interpreter, no bytecode cache; "
        "first call = what a provisioned environment's first caller waits for)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
