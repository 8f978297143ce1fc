"""Throughput of each generated container service against a bare app on the same server.

For each service shape (`http_api`, `webhook`, `websocket`, `ml_inference` rendered with
compute=container), the benchmark

1. renders the project from this repository's template;
2. installs its requirements.txt into a fresh virtual environment, as its Dockerfile
   does (`pip install --no-cache-dir -r requirements.txt`; torch for the GPU image is
   left out: the model's pure-Python reference backend serves, as on a laptop);
3. starts `python -m app` (the image's command) on loopback with the environment the
   instances' user data sets (KEEP_ALIVE_SECONDS, FORWARDED_ALLOW_IPS; LOG_LEVEL and
   REQUEST_LOGS as generated), its output going to a file as `docker logs` would take it;
4. starts the *bare app* through the very same server call: `app/__main__.py` runs
   unchanged, only the application uvicorn loads is swapped for an ASGI function that
   reads the request body and answers with the bytes the generated app answered
   (status, headers, body), computing nothing, and uvicorn's access log is off. Same
   uvicorn, same options otherwise, same protocol stack (whatever requirements.txt
   installs: h11 or httptools, asyncio or uvloop), same proxy-header handling: the
   least any service on this stack costs per request;
5. drives both with wrk (`wrk -t1 -c32`, keep-alive, as a load balancer does; for
   WebSocket messages, `_ws_load.py`: one client keeping 32 messages in flight), the
   server pinned to one CPU and the load generator to another (`taskset`) where the
   machine has two, alternating generated and bare runs so that noise hits both alike.

It prints, for each, the median requests per second of wall-clock time and of the
server's CPU time (req/CPU-s: what one core serves, even when other jobs on the machine
took some of the server's CPU), the 50th and 99th latency percentiles, the ratio
generated / bare (the median of each generated run's req/CPU-s over the bare run's
right after it; 1.00: the generated code costs nothing beyond the server itself), and
the log lines the server wrote per request. The endpoints: `GET /health`
(the load balancer's health check) and each shape's main one: `POST /echo`, a refused
`POST /webhook` (a forged signature: 401, what a flood of bad deliveries costs;
accepted deliveries wait for DynamoDB), `/ws` messages, `POST /predict` with one
instance.

What the numbers mean: a ratio near 1 means the service's per-request work is lost in
the server's. The generated req/CPU-s is one core's throughput of the example endpoint,
an upper bound for the capacity plan (docs/cost-model.md): your own code per request
comes on top. Absolute numbers depend on the machine (and on the Python version: the
images run 3.13; this runs the interpreter given with --python); the ratio much less.

With --instructions it times nothing: it runs each server under valgrind's callgrind
and counts the user-space instructions per request (one request at a time, the
difference between a run of 3,000 requests and one of 1,000, so start-up and shutdown
cancel out), for the generated and the bare app, and prints bare / generated as the
ratio. The counts repeat to about 0.1 %, where timed runs vary by ±15 % on a shared
machine, so a change of a few hundred instructions shows. The kernel's share of a
request (sockets), the same for both apps, is not counted: timed ratios come out
higher than counted ones.

Needs wrk (`apt-get install wrk`; valgrind for --instructions) and access to PyPI (or
a pip configured with a mirror or wheel folder). Not a test: it takes minutes and its
numbers vary by machine. Exit 1 when a ratio is under --budget (default 0.8).

    python benchmarks/service_throughput.py [--workload http_api ...] [--runs 3]
        [--duration 15] [--connections 32] [--python python3.13] [--budget 0.8]
        [--instructions]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import _ws_load  # noqa: E402 - needs the path above
from support.container_tools import FakeSSM  # noqa: E402
from support.render import plain_template, render  # noqa: E402

WORKLOADS = ("http_api", "webhook", "websocket", "ml_inference")
PARAMETER_NAME = "/bench/webhook-secret"

#: What the load balancer adds to every request it forwards.
FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}


@dataclass(frozen=True)
class Endpoint:
    """One request the load generator repeats, and the status it must get."""

    method: str
    path: str
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def websocket(self) -> bool:
        return self.status == 101

    @property
    def name(self) -> str:
        if self.websocket:
            return f"{self.path} messages"
        return f"{self.method} {self.path}" + (f" ({self.status})" if self.status != 200 else "")


def endpoints(workload: str) -> list[Endpoint]:
    """`GET /health` and the workload's main endpoint (the webhook's signed fresh now)."""
    health = Endpoint("GET", "/health", 200)
    json_type = {"Content-Type": "application/json"}
    if workload == "http_api":
        echo = b'{"order_id": "o-42", "amount": 1999}'
        return [health, Endpoint("POST", "/echo", 200, echo, json_type)]
    if workload == "webhook":
        forged = {
            **json_type,
            "X-Signature-Timestamp": str(int(time.time())),
            "X-Delivery-Id": "d-1",
            "X-Signature": "sha256=" + "0" * 64,
        }
        body = b'{"type": "order.created", "id": "evt_123"}'
        return [health, Endpoint("POST", "/webhook", 401, body, forged)]
    if workload == "ml_inference":
        predict = b'{"instances": [[0.1, 0.2, 0.3, 0.4]]}'
        return [health, Endpoint("POST", "/predict", 200, predict, json_type)]
    return [health, Endpoint("GET", "/ws", 101, _ws_load.TEXT.encode())]


# --- The projects and their environments ------------------------------------------------


def install(project: Path, python: str, venvs: Path) -> Path:
    """A virtual environment with the project's requirements.txt (shared when equal)."""
    requirements = (project / "requirements.txt").read_bytes()
    venv = venvs / hashlib.sha256(requirements + python.encode()).hexdigest()[:12]
    if not (venv / "bin" / "python").exists():
        subprocess.run([python, "-m", "venv", venv], check=True)
        subprocess.run(
            [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-cache-dir",
             "--disable-pip-version-check", "-r", project / "requirements.txt"],
            check=True,
        )  # fmt: skip
    return venv / "bin" / "python"


#: Runs the project's own `python -m app` with the application swapped for bare.py's,
#: writing no line per request (the load balancer's access logs record every request).
BARE_LAUNCHER = """
import sys, uvicorn
serve = uvicorn.run
uvicorn.run = lambda app, **options: serve("bare:app", **{**options, "access_log": False})
from app.__main__ import main
sys.exit(main())
"""

#: The least an ASGI application can do to give the generated app's answers.
BARE_APP = """
import json
ANSWERS = {{(method, path): (status, [(k.encode(), v.encode()) for k, v in headers], body.encode())
           for method, path, status, headers, body in json.loads({answers!r})}}
WELCOME, REPLY = {websocket!r}

async def app(scope, receive, send):
    if scope["type"] == "websocket":
        await receive()
        await send({{"type": "websocket.accept"}})
        await send({{"type": "websocket.send", "text": WELCOME}})
        while (await receive())["type"] != "websocket.disconnect":
            await send({{"type": "websocket.send", "text": REPLY}})
        return
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({{"type": "lifespan.startup.complete"}})
        await send({{"type": "lifespan.shutdown.complete"}})
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    status, headers, body = ANSWERS[scope["method"], scope["path"]]
    await send({{"type": "http.response.start", "status": status, "headers": headers}})
    await send({{"type": "http.response.body", "body": body}})
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def production_env(workload: str, port: int, aws_url: str | None) -> dict[str, str]:
    """What the instances' user data passes to the container, on loopback."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON"))},
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "KEEP_ALIVE_SECONDS": "65",
        # The load generator plays the load balancer: its address is a trusted proxy.
        "FORWARDED_ALLOW_IPS": "127.0.0.1,10.0.0.0/16",
        "PYTHONUNBUFFERED": "1",
    }
    if workload == "webhook" and aws_url:
        env |= {
            "WEBHOOK_SECRET_PARAMETER": PARAMETER_NAME,
            "DELIVERIES_TABLE": "deliveries",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL": aws_url,
        }
    return env


def request(port: int, endpoint: Endpoint) -> tuple[int, list[tuple[str, str]], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        headers = {**FORWARDED, **endpoint.headers}
        connection.request(endpoint.method, endpoint.path, body=endpoint.body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def log_lines(self) -> int:
        with self.log.open("rb") as lines:
            return sum(1 for _ in lines)

    def cpu_seconds(self) -> float | None:
        """CPU time the server process has used, all threads (None without /proc)."""
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        except OSError:
            return None
        # Fields after the command name (which may hold spaces): utime, stime are 14, 15.
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def serve(
    python: Path,
    cwd: Path,
    env: dict[str, str],
    log: Path,
    cpu: int | None,
    bare: bool,
    wrapper: tuple[str, ...] = (),
) -> Iterator[Server]:
    """`python -m app` (or the bare app through the same main) until /health answers;
    under ``wrapper`` (a command line to run it in, such as valgrind's) if given."""
    command = [str(python), "-c", BARE_LAUNCHER] if bare else [str(python), "-m", "app"]
    command = [*wrapper, *command]
    if cpu is not None:
        command = ["taskset", "--cpu-list", str(cpu), *command]
    port = int(env["PORT"])
    pythonpath = f"{cwd}:{log.parent}" if bare else str(cwd)
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=cwd, env={**env, "PYTHONPATH": pythonpath}, stdout=output, stderr=output
        )
    try:
        deadline = time.monotonic() + (600 if wrapper else 60)  # valgrind: ~50x slower
        while True:
            try:
                if request(port, Endpoint("GET", "/health", 200))[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{cwd.name} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield Server(process, port, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- The load generator ---------------------------------------------------------------------

#: wrk's script: the request, and a JSON summary at the end (latencies in microseconds).
WRK_SCRIPT = """
wrk.method = {method}
wrk.body = {body}
wrk.headers = {{{headers}}}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{{"requests": %d, "seconds": %f, "p50": %f, "p99": %f, "errors": %d, "status": %d}}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


@dataclass(frozen=True)
class Run:
    rps: float
    """Requests per second of wall-clock time."""
    per_cpu_second: float
    """Requests per second of the server's CPU time: what one core serves, even on a
    machine whose other jobs took some of the server's CPU (else equal to rps)."""
    p50_ms: float
    p99_ms: float
    log_lines_per_request: float


def wrk(endpoint: Endpoint, work: Path, port: int, connections: int, seconds: int) -> list[str]:
    """The wrk command line repeating ``endpoint`` (its request in a Lua script)."""
    headers = ", ".join(
        f"[{lua_string(k)}] = {lua_string(v)}" for k, v in {**FORWARDED, **endpoint.headers}.items()
    )
    script = work / "request.lua"
    script.write_text(
        WRK_SCRIPT.format(
            method=lua_string(endpoint.method),
            body=lua_string(endpoint.body.decode()) if endpoint.body else "nil",
            headers=headers,
        )
    )
    return [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
        "-s", str(script), f"http://127.0.0.1:{port}{endpoint.path}",
    ]  # fmt: skip


def ws_load(endpoint: Endpoint, port: int, window: int, seconds: int) -> list[str]:
    """The WebSocket load generator's command line (``window`` messages in flight)."""
    script = Path(__file__).with_name("_ws_load.py")
    text = endpoint.body.decode()
    return [
        sys.executable,
        str(script),
        str(port),
        str(seconds),
        f"--window={window}",
        f"--text={text}",
    ]


def load(endpoint: Endpoint, options: argparse.Namespace, work: Path, server: Server) -> Run:
    """Drive the server for --duration seconds (after a 1 s warm-up); refuse wrong
    answers and socket errors."""

    def command(seconds: int) -> list[str]:
        if endpoint.websocket:
            line = ws_load(endpoint, server.port, options.connections, seconds)
        else:
            line = wrk(endpoint, work, server.port, options.connections, seconds)
        if options.load_cpu is None:
            return line
        return ["taskset", "--cpu-list", str(options.load_cpu), *line]

    def run(seconds: int) -> dict[str, float]:
        result = subprocess.run(command(seconds), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{endpoint.name}: the load generator failed:\n{result.stderr}")
        return dict(json.loads(result.stdout.strip().splitlines()[-1]))

    run(1)  # warm-up
    lines_before, cpu_before = server.log_lines(), server.cpu_seconds()
    summary = run(options.duration)
    cpu_after = server.cpu_seconds()
    refused = (
        summary["status"] if endpoint.status < 400 else summary["requests"] - summary["status"]
    )
    if summary["errors"] or refused:
        raise RuntimeError(f"{endpoint.name}: wrong answers or socket errors: {summary}")
    requests = summary["requests"]
    busy = summary["seconds"] if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return Run(
        rps=requests / summary["seconds"],
        per_cpu_second=requests / busy,
        p50_ms=summary["p50"] / 1000,
        p99_ms=summary["p99"] / 1000,
        log_lines_per_request=(server.log_lines() - lines_before) / requests,
    )


# --- One workload ------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One endpoint: every run of the generated app and of the bare one."""

    workload: str
    endpoint: str
    generated: list[Run]
    bare: list[Run]

    @staticmethod
    def median(runs: list[Run], attribute: str) -> float:
        return statistics.median(getattr(run, attribute) for run in runs)

    @property
    def ratio(self) -> float:
        """The median over runs of generated ÷ bare requests per CPU-second of the server,
        each generated run paired with the bare run right after it."""
        pairs = zip(self.generated, self.bare, strict=True)
        return statistics.median(g.per_cpu_second / b.per_cpu_second for g, b in pairs)


@contextmanager
def aws_endpoint(workload: str) -> Iterator[str | None]:
    """The SSM parameter the webhook reads at start-up (its only AWS call before a
    delivery is accepted), served on loopback."""
    if workload != "webhook":
        yield None
        return
    with FakeSSM({PARAMETER_NAME: "bench-signing-key"}) as ssm:
        yield ssm.url


@dataclass(frozen=True)
class Answers:
    """What a server answers to each endpoint of a workload (uvicorn's date left out)."""

    http: list[tuple[str, str, int, list[tuple[str, str]], str]]
    """method, path, status, headers, body"""
    websocket: tuple[str, str] = ("", "")
    """the first message on /ws, and the answer to one message"""


def answers(server: Server, workload: str) -> Answers:
    """Ask ``server`` every endpoint of ``workload`` once; refuse an unexpected status."""
    http, websocket = [], ("", "")
    for endpoint in endpoints(workload):
        if endpoint.websocket:
            websocket = asyncio.run(_ws_load.exchange(server.port, endpoint.body.decode()))
            continue
        status, headers, body = request(server.port, endpoint)
        if status != endpoint.status:
            raise RuntimeError(f"{workload} {endpoint.name} answered {status}: {body!r}")
        kept = [(k, v) for k, v in headers if k.lower() not in {"date", "server"}]
        http.append((endpoint.method, endpoint.path, status, kept, body.decode()))
    return Answers(http, websocket)


def bare_app(answers: Answers) -> str:
    """bare.py: an ASGI app giving ``answers`` as fixed bytes."""
    return BARE_APP.format(answers=json.dumps(answers.http), websocket=answers.websocket)


@contextmanager
def prepared(
    workload: str, project: Path, python: Path, work: Path, extra: dict[str, str] | None = None
) -> Iterator[dict[str, str]]:
    """The servers' environment (with ``extra``), its AWS endpoint served meanwhile, and
    bare.py in ``work``, made from the generated app's answers."""
    with aws_endpoint(workload) as aws_url:
        env = production_env(workload, free_port(), aws_url) | (extra or {})
        with serve(python, project, env, log_of(work, False), None, bare=False) as server:
            (work / "bare.py").write_text(bare_app(answers(server, workload)))
        yield env


def log_of(work: Path, bare: bool) -> Path:
    return work / ("bare.log" if bare else "generated.log")


def measure(
    workload: str, project: Path, python: Path, options: argparse.Namespace, work: Path
) -> list[Row]:
    """Every endpoint of one project, generated and bare alternately, --runs times each."""
    rows = []
    with prepared(workload, project, python, work) as env:
        cpu = options.server_cpu
        for index, endpoint in enumerate(endpoints(workload)):
            runs: dict[bool, list[Run]] = {False: [], True: []}
            for _ in range(options.runs):
                for bare in (False, True):
                    with serve(python, project, env, log_of(work, bare), cpu, bare) as server:
                        # Made for each run: the webhook's delivery is signed now, never
                        # so long ago that it is refused as stale (a cheaper refusal).
                        runs[bare].append(load(endpoints(workload)[index], options, work, server))
            rows.append(Row(workload, endpoint.name, runs[False], runs[True]))
    return rows


# --- Instructions per request (callgrind) -------------------------------------------------

#: The requests of the two counted runs of each server: the difference of their totals
#: leaves out start-up, the warm-up and shutdown, which both runs share.
COUNTED_REQUESTS = (1000, 3000)
#: Requests before counting starts to matter (caches filled, the interpreter specialised).
WARM_UP_REQUESTS = 200


@dataclass(frozen=True)
class Counted:
    """One endpoint: user-space instructions per request of each server."""

    workload: str
    endpoint: str
    generated: float
    bare: float

    @property
    def ratio(self) -> float:
        """bare ÷ generated instructions per request: generated ÷ bare throughput if
        time followed instructions (it does for the interpreter; not for the kernel,
        whose share both servers pay alike, so time ratios come out higher)."""
        return self.bare / self.generated


def send_sequentially(port: int, endpoint: Endpoint, count: int) -> None:
    """``count`` requests of ``endpoint`` on one keep-alive connection (WebSocket: one
    connection's messages), one at a time; refuse an unexpected status."""
    if endpoint.websocket:
        asyncio.run(_ws_load.converse(port, count, endpoint.body.decode()))
        return
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {**FORWARDED, **endpoint.headers}
    try:
        for _ in range(count):
            connection.request(endpoint.method, endpoint.path, endpoint.body or None, headers)
            response = connection.getresponse()
            response.read()
            if response.status != endpoint.status:
                raise RuntimeError(f"{endpoint.name} answered {response.status}")
    finally:
        connection.close()


def callgrind_total(output: Path) -> int:
    """The instructions (Ir) a callgrind output file counted in all."""
    for line in output.read_text().splitlines():
        if line.startswith(("totals:", "summary:")):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {output}")


def count_instructions(workload: str, project: Path, python: Path, work: Path) -> list[Counted]:
    """Every endpoint of one project: instructions per request of the generated and the
    bare server under callgrind, each request sent after the answer to the one before.
    Deterministic to about 0.1 % (a fixed PYTHONHASHSEED), where timings vary by ±15 %."""
    rows = []
    with prepared(workload, project, python, work, {"PYTHONHASHSEED": "0"}) as env:
        # Compiled now, so that neither counted run compiles anything.
        subprocess.run([python, "-m", "compileall", "-q", project / "app", work], check=True)
        for index, endpoint in enumerate(endpoints(workload)):
            per_request = {}
            for bare in (False, True):
                totals = []
                for count in COUNTED_REQUESTS:
                    output = work / f"callgrind-{bare}-{count}.out"
                    wrapper = ("valgrind", "--tool=callgrind", f"--callgrind-out-file={output}")
                    log = log_of(work, bare)
                    with serve(python, project, env, log, None, bare, wrapper) as server:
                        fresh = endpoints(workload)[index]  # the webhook's: signed now
                        send_sequentially(server.port, fresh, WARM_UP_REQUESTS + count)
                    totals.append(callgrind_total(output))
                low, high = COUNTED_REQUESTS
                per_request[bare] = (totals[1] - totals[0]) / (high - low)
            rows.append(Counted(workload, endpoint.name, per_request[False], per_request[True]))
    return rows


def stack(python: Path) -> str:
    """The server's protocol stack as installed: uvicorn, HTTP parser, event loop."""
    probe = (
        "import importlib.util as u, platform, uvicorn;"
        "print(f'uvicorn {uvicorn.__version__}, '"
        "+ ('httptools' if u.find_spec('httptools') else 'h11') + ', '"
        "+ ('uvloop' if u.find_spec('uvloop') else 'asyncio')"
        "+ f', Python {platform.python_version()}')"
    )
    result = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def report(rows: list[Row], stacks: dict[str, str], options: argparse.Namespace) -> None:
    """The table: medians of each app, the ratio, and every run's figures."""
    apps = f"{'req/s':>8} {'req/CPU-s':>9} {'p50':>6} {'p99':>6}"
    print(f"{'':<34} {'generated':<32} {'bare':<32}")
    print(f"{'workload':<13} {'endpoint':<20} {apps} {apps} {'ratio':>6} {'log/req':>7}")
    for row in rows:
        cells = [
            f"{row.median(runs, 'rps'):>8,.0f} {row.median(runs, 'per_cpu_second'):>9,.0f}"
            f" {row.median(runs, 'p50_ms'):>6.2f} {row.median(runs, 'p99_ms'):>6.2f}"
            for runs in (row.generated, row.bare)
        ]
        logged = row.median(row.generated, "log_lines_per_request")
        print(
            f"{row.workload:<13} {row.endpoint:<20} {cells[0]} {cells[1]}"
            f" {row.ratio:>6.2f} {logged:>7.2f}"
        )
    print("\nevery run, req/CPU-s (req/s) of generated | bare:")
    for row in rows:
        each = [
            ", ".join(f"{run.per_cpu_second:,.0f} ({run.rps:,.0f})" for run in runs)
            for runs in (row.generated, row.bare)
        ]
        print(f"  {row.workload:<13} {row.endpoint:<20} {each[0]} | {each[1]}")
    pinned = (
        f"server on CPU {options.server_cpu}, load generator on CPU {options.load_cpu}"
        if options.server_cpu is not None
        else "not pinned (fewer than two CPUs, or no taskset)"
    )
    print(
        f"\n{options.connections} connections, {options.duration} s per run, medians of"
        f" {options.runs} runs; {pinned}. req/CPU-s: requests per second of the server's"
        " CPU time (one core's throughput, whatever else ran); ratio: median of paired"
        " runs' generated / bare req/CPU-s; latencies in ms; log/req: lines the server"
        " wrote per request."
    )
    print_stacks(stacks)


def print_stacks(stacks: dict[str, str]) -> None:
    for workload, installed in stacks.items():
        print(f"{workload}: {installed}")


def report_counted(rows: list[Counted], stacks: dict[str, str]) -> None:
    """The --instructions table."""
    print(f"{'workload':<13} {'endpoint':<20} {'generated':>10} {'bare':>10} {'ratio':>6}")
    for row in rows:
        print(
            f"{row.workload:<13} {row.endpoint:<20} {row.generated:>10,.0f} {row.bare:>10,.0f}"
            f" {row.ratio:>6.2f}"
        )
    print(
        "\nuser-space instructions per request (callgrind), one request at a time on one"
        f" connection: the difference between runs of {COUNTED_REQUESTS[1]:,} and"
        f" {COUNTED_REQUESTS[0]:,} requests; ratio: bare / generated."
    )
    print_stacks(stacks)


def main(argv: list[str] | None = None) -> int:
    """Render, install, serve, load and print; 1 when a ratio is under the budget."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workload", action="append", choices=WORKLOADS)
    parser.add_argument("--runs", type=int, default=3, help="runs per app and endpoint (3)")
    parser.add_argument("--duration", type=int, default=15, help="seconds per run (15)")
    parser.add_argument("--connections", type=int, default=32, help="open connections (32)")
    parser.add_argument("--python", default=sys.executable, help="interpreter of the venvs")
    parser.add_argument("--budget", type=float, default=0.8, help="lowest ratio accepted")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions per request under valgrind instead of timing a load",
    )
    options = parser.parse_args(argv)
    # SIGTERM unwinds like an error: the servers are stopped and the work folder removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    needed = "valgrind" if options.instructions else "wrk"
    if shutil.which(needed) is None:
        print(f"{needed} is not installed (Debian: apt-get install {needed})", file=sys.stderr)
        return 2
    pinnable = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    options.server_cpu, options.load_cpu = (0, 1) if pinnable else (None, None)
    measured: list[Row] = []
    counted: list[Counted] = []
    stacks: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bench-services-") as tmp:
        work = Path(tmp)
        template = plain_template(work / "template")
        for workload in options.workload or WORKLOADS:
            project = render(template, work / workload, workload=workload, compute="container")
            python = install(project, options.python, work / "venvs")
            stacks[workload] = stack(python)
            scratch = work / f"{workload}-run"
            scratch.mkdir()
            if options.instructions:
                counted += count_instructions(workload, project, python, scratch)
            else:
                measured += measure(workload, project, python, options, scratch)
    if options.instructions:
        report_counted(counted, stacks)
    else:
        report(measured, stacks, options)
    rows: list[Row | Counted] = [*measured, *counted]
    under = [row for row in rows if row.ratio < options.budget]
    for row in under:
        print(f"UNDER BUDGET ({options.budget}): {row.workload} {row.endpoint}")
    return 1 if under else 0


if __name__ == "__main__":
    sys.exit(main())
