"""Import time of each generated Lambda handler module: the code's share of a cold start.

Renders the Lambda project of every workload into a temporary folder, then imports
its handler module (``src/app.py``) in a fresh interpreter several times, as the
Lambda runtime does on a cold start (no bytecode cache: /var/task is read-only), and
prints a table. Exits non-zero if a project does not render or a handler fails to
import, or if a handler loads boto3 at import time (it must load it lazily).

    python benchmarks/lambda_handler_import.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.render import plain_template, render  # noqa: E402 - needs the path above

WORKLOADS = ("http_api", "webhook", "s3_events", "sqs_consumer", "dynamodb_stream", "scheduled_job")

# Runs in the fresh interpreter: times `import app` and lists what it loaded.
PROBE = """
import json, sys, time
sys.path.insert(0, "src")
before = set(sys.modules)
start = time.perf_counter()
import app
elapsed = time.perf_counter() - start
loaded = sorted(m for m in set(sys.modules) - before if not m.startswith("_"))
print(json.dumps({"seconds": elapsed, "modules": loaded}))
"""


class BenchmarkError(Exception):
    """A project did not render or a handler did not import cleanly."""


def import_once(project: Path) -> tuple[float, list[str]]:
    """Seconds ``import app`` takes in a fresh interpreter, and the modules it loaded."""
    result = subprocess.run(
        [sys.executable, "-I", "-B", "-c", PROBE],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        raise BenchmarkError(f"{project.name}: import failed\n{result.stderr}")
    data = json.loads(result.stdout)
    return float(data["seconds"]), list(data["modules"])


def measure(project: Path, runs: int) -> dict[str, float | int]:
    """Import timings of one project's handler, in milliseconds."""
    timings = []
    modules: list[str] = []
    for _ in range(runs):
        seconds, modules = import_once(project)
        timings.append(seconds * 1000)
    if any(m.split(".")[0] in ("boto3", "botocore") for m in modules):
        raise BenchmarkError(f"{project.name}: the handler imports boto3 at import time")
    return {
        "modules": len(modules),
        "min": min(timings),
        "median": statistics.median(timings),
        "max": max(timings),
    }


def main(argv: list[str] | None = None) -> int:
    """Render, measure and print; 0 on success, 1 on any failure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=10, help="imports per handler (default 10)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    print(f"{'workload':<16} {'modules':>7} {'min ms':>8} {'median ms':>10} {'max ms':>8}")
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        template = plain_template(Path(tmp) / "template")
        for workload in WORKLOADS:
            try:
                project = render(
                    template, Path(tmp) / workload, workload=workload, compute="lambda"
                )
                row = measure(project, args.runs)
            except Exception as exc:
                print(f"{workload:<16} FAILED: {exc}", file=sys.stderr)
                failed = True
                continue
            print(
                f"{workload:<16} {row['modules']:>7} {row['min']:>8.1f} "
                f"{row['median']:>10.1f} {row['max']:>8.1f}"
            )
    print(f"({args.runs} imports each, fresh interpreter, no bytecode cache)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
