"""The container projects, rendered per shape and judged by real tools.

Every workload's EC2 Auto Scaling project (compute=container, named by the workload)
and, but for GPU inference, its ECS on Fargate project (compute=fargate, named
``fargate-`` and the workload) go through the same tiers: hadolint, checkov, the
Terraform's layout and rules, the app's own tests, lint, hostile free text. What only
one compute has is tested for it (the instances and their user data; the ECS service).
Each variant is rendered once per module; checkov and the project's own tests run
concurrently in the background and each test waits for what it needs.
"""

from __future__ import annotations

import ast
import fnmatch
import http.client
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import hcl2
import pytest
import yaml
from copier import run_copy
from packaging.requirements import Requirement
from support import scanners
from support.container_tools import (
    FakeSSM,
    Layout,
    Terraform,
    app_value,
    blocks,
    build_layout,
    docker_run_env,
    hcl_string,
    inline_skips,
    load_terraform,
    one,
    parse_dockerfile,
    spawn,
    templatefile_vars,
    unprivileged_python,
    unreadable_by_others,
    walk,
    world_readable_tempdir,
)
from support.markdown import paragraphs, shown_as_text
from support.render import answers_for, plain_template, render

from infra_scaffold.cost import ASG_INSTANCES, WAF_RULES

pytestmark = pytest.mark.slow

#: Workload rendered with compute=container, and the shape it must become.
EC2: Final = {
    "http_api": "service",
    "webhook": "service",
    "websocket": "websocket",
    "worker": "worker",
    "ml_inference": "inference",
    "sqs_consumer": "worker",
    "s3_events": "worker",
    "dynamodb_stream": "worker",
    "scheduled_job": "worker",
}
#: The same workloads with compute=fargate: all but GPU inference (built for GPU instances).
FARGATE: Final = {f"fargate-{w}": shape for w, shape in EC2.items() if shape != "inference"}
VARIANTS: Final = {**EC2, **FARGATE}
SERVICES: Final = [name for name, shape in VARIANTS.items() if shape != "worker"]
WORKERS: Final = [name for name, shape in VARIANTS.items() if shape == "worker"]
EC2_SERVICES: Final = [name for name in SERVICES if name in EC2]
EC2_WORKERS: Final = [name for name in WORKERS if name in EC2]
TLS_POLICY: Final = "ELBSecurityPolicy-TLS13-1-2-2021-06"
HOSTILE: Final = (
    "Quote \" and ' back\\slash ${x} %{y} {{ x }} {% if x %} # hash\n"
    "new line\ttab \u2028 !Ref Name é 日本語 🚀 $${z} %%{w}"
)
WORLD: Final = {"0.0.0.0/0", "::/0"}
#: The make targets both kinds of project have (the Lambda project: test lint scan build deploy).
COMMON_MAKE_TARGETS: Final = {"test", "lint", "scan", "build", "deploy"}
#: One project per docs/security.md variant, whose cited check ids are verified.
CITED: Final = [
    *(base := ["http_api", "worker", "webhook", "s3_events", "dynamodb_stream", "scheduled_job"]),
    *(f"fargate-{name}" for name in base),
]


@dataclass
class Project:
    name: str
    shape: str
    path: Path
    tf: Terraform

    @property
    def workload(self) -> str:
        return self.name.removeprefix("fargate-")

    @property
    def compute(self) -> str:
        return "fargate" if self.name.startswith("fargate-") else "container"

    @property
    def is_service(self) -> bool:
        return self.shape != "worker"

    @property
    def host_network(self) -> bool:
        """Its container needs the instance role (AWS APIs), so it runs on the host network."""
        return self.shape == "worker" or self.name == "webhook"

    @property
    def role_document(self) -> str:
        """The policy document of what the app may do: the instance's, or the task's."""
        return "task" if self.compute == "fargate" else "instance"


class Background:
    """Scans started as soon as the projects exist, awaited by the tests that need them."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self._pool = pool
        self._jobs: dict[tuple[str, str], Future[Any]] = {}

    def start(self, kind: str, name: str, job: Callable[..., Any], *args: Any) -> None:
        self._jobs[kind, name] = self._pool.submit(job, *args)

    def result(self, kind: str, name: str) -> Any:
        return self._jobs[kind, name].result()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plain_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="module")
def projects(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Project]:
    rendered = {}
    for name, shape in VARIANTS.items():
        compute = "fargate" if name in FARGATE else "container"
        workload = name.removeprefix("fargate-")
        path = render(template, tmp_path_factory.mktemp(name), workload=workload, compute=compute)
        rendered[name] = Project(name, shape, path, load_terraform(path / "terraform"))
    return rendered


@pytest.fixture(scope="module")
def background(projects: dict[str, Project]) -> Iterator[Background]:
    with ThreadPoolExecutor(max_workers=2 * len(projects)) as pool:
        jobs = Background(pool)
        for name, project in projects.items():
            jobs.start("checkov", name, scanners.checkov, project.path, ["terraform", "dockerfile"])
            jobs.start("pytest", name, scanners.project_pytest, project.path)
        yield jobs


@pytest.fixture(scope="module")
def hostile(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The description nobody should print raw, in an EC2 and a Fargate project."""
    return {
        compute: render(
            template,
            tmp_path_factory.mktemp(f"hostile-{compute}"),
            workload="http_api",
            compute=compute,
            description=HOSTILE,
        )
        for compute in ("container", "fargate")
    }


def _variants(names: list[str]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("name", names)


all_variants = _variants(list(VARIANTS))
services = _variants(SERVICES)
workers = _variants(WORKERS)
ec2_variants = _variants(list(EC2))
ec2_services = _variants(EC2_SERVICES)
ec2_workers = _variants(EC2_WORKERS)
fargate_variants = _variants(list(FARGATE))


# --- The tree ------------------------------------------------------------------------


EVERY_PROJECT_FILE: Final = [
    "Dockerfile",
    ".dockerignore",
    "Makefile",
    "README.md",
    "pyproject.toml",
    "requirements.txt",
    "requirements-dev.txt",
    "docs/security.md",
    "docs/adr/0001-compute-platform.md",
    ".github/workflows/ci.yml",
    ".github/dependabot.yml",
    "app/__main__.py",
    "app/config.py",
    "app/healthcheck.py",
    "terraform/versions.tf",
    "terraform/backend.tf",
    "terraform/backend.hcl.example",
    "terraform/providers.tf",
    "terraform/variables.tf",
    "terraform/outputs.tf",
    "terraform/main.tf",
    "terraform/kms.tf",
    "terraform/ecr.tf",
    "terraform/logs.tf",
    "terraform/iam.tf",
    "terraform/network.tf",
    "terraform/alarms.tf",
    "terraform/terraform.tfvars.example",
]
#: The files of each compute beyond the ones every project has.
COMPUTE_FILES: Final = {
    "container": {
        "terraform/asg.tf",
        "terraform/user_data.sh.tftpl",
        "terraform/tests/defaults.tftest.hcl",
    },
    "fargate": {"terraform/ecs.tf", "terraform/scaling.tf", "terraform/tests/ecs.tftest.hcl"},
}
_SERVICE_FILES: Final = {
    "app/main.py",
    "app/web.py",
    "tests/test_app.py",
    "tests/test_server.py",
    "terraform/alb.tf",
    "terraform/waf.tf",
}
#: The files of each shape beyond the ones every project has.
SHAPE_FILES: Final = {
    "service": _SERVICE_FILES,
    "websocket": _SERVICE_FILES | {"tests/test_websocket.py"},
    "inference": _SERVICE_FILES | {"app/model.py", "requirements-gpu.txt", "tests/test_model.py"},
    "worker": {
        "app/worker.py",
        "app/store.py",
        "app/jobs.py",
        "tests/test_jobs.py",
        "tests/test_worker.py",
        "tests/test_store.py",
        "tests/test_process.py",
        "terraform/queue.tf",
    },
}
#: Files of one workload beyond its shape's.
WORKLOAD_FILES: Final = {
    "webhook": {
        "app/signature.py",
        "app/webhook.py",
        "app/store.py",
        "tests/test_signature.py",
        "tests/test_webhook.py",
        "tests/test_store.py",
        "tests/fake_aws.py",
        "terraform/deliveries.tf",
    },
    **{name: {"terraform/events.tf"} for name in ("s3_events", "dynamodb_stream", "scheduled_job")},
}


def _plan(project: Project) -> dict[str, Any]:
    """The capacity plan the project records (and was rendered from)."""
    answers = yaml.safe_load((project.path / ".copier-answers.yml").read_text(encoding="utf-8"))
    plan: dict[str, Any] = answers["capacity_plan"]
    return plan


def _own_files(project: Project) -> set[str]:
    return (
        SHAPE_FILES[project.shape]
        | WORKLOAD_FILES.get(project.workload, set())
        | COMPUTE_FILES[project.compute]
    )


def _tree(path: Path) -> set[str]:
    return {
        str(p.relative_to(path))
        for p in path.rglob("*")
        if p.is_file() and ".git" not in p.parts and "__pycache__" not in p.parts
    }


@all_variants
def test_the_project_has_its_files(projects: dict[str, Project], name: str) -> None:
    project = projects[name]
    tree = _tree(project.path)
    own = _own_files(project)
    missing = [f for f in [*EVERY_PROJECT_FILE, *own] if f not in tree]
    assert missing == [], missing
    others = set().union(*SHAPE_FILES.values(), *WORKLOAD_FILES.values(), *COMPUTE_FILES.values())
    strays = sorted((others - own) & tree)
    assert strays == [], f"{name} project has files of other shapes or workloads: {strays}"
    assert "template.yaml" not in tree, "a Lambda file leaked into the container project"


#: What both computes share as it is: the app, its image and its tests.
SHARED_AS_IS: Final = ("app", "tests", "Dockerfile", ".dockerignore", "requirements.txt",
                       "requirements-dev.txt", "pyproject.toml")  # fmt: skip


@pytest.mark.parametrize("name", list(FARGATE))
def test_the_fargate_project_runs_the_ec2_project_s_app_image_and_tests(
    projects: dict[str, Project], name: str
) -> None:
    """Byte for byte: switching compute never touches the app (or a user's edits in it),
    and what the image layout and app tests show for one compute holds for the other."""
    fargate, ec2 = projects[name], projects[name.removeprefix("fargate-")]

    def shared(root: Path) -> dict[str, bytes]:
        return {
            path: (root / path).read_bytes()
            for path in _tree(root)
            if path.split("/", 1)[0] in SHARED_AS_IS
        }

    assert shared(fargate.path) == shared(ec2.path)
    assert "app/worker.py" in shared(fargate.path) or fargate.is_service


@pytest.mark.parametrize("prefix", ["", "fargate-"])
def test_event_workloads_become_workers(projects: dict[str, Project], prefix: str) -> None:
    worker = projects[f"{prefix}worker"]
    for name in ("sqs_consumer", "s3_events", "dynamodb_stream", "scheduled_job"):
        consumer = projects[f"{prefix}{name}"]
        event_source = WORKLOAD_FILES.get(name, set())
        assert _tree(consumer.path) - event_source == _tree(worker.path), name
        assert "aws_sqs_queue" in consumer.tf.resources
        assert "aws_lb" not in consumer.tf.resources


#: What puts each event workload's messages on the job queue (None: the producers).
EVENT_SOURCES: Final = {
    "worker": None,
    "sqs_consumer": None,
    "s3_events": ("aws_s3_bucket_notification", "input"),
    "dynamodb_stream": ("aws_pipes_pipe", "changes"),
    "scheduled_job": ("aws_scheduler_schedule", "job"),
}
SOURCE_KINDS: Final = {source[0] for source in EVENT_SOURCES.values() if source}
JOBS_QUEUE: Final = "${aws_sqs_queue.jobs.arn}"
DEAD_LETTERS: Final = "${aws_sqs_queue.dead_letter.arn}"


@pytest.mark.parametrize("name", [*EVENT_SOURCES, *(f"fargate-{name}" for name in EVENT_SOURCES)])
def test_each_event_source_feeds_the_job_queue(projects: dict[str, Project], name: str) -> None:
    project = projects[name]
    tf = project.tf
    name = project.workload
    source = EVENT_SOURCES[name]
    present = SOURCE_KINDS & set(tf.resources)
    assert present == ({source[0]} if source else set())
    if name == "s3_events":
        notification = tf.resource("aws_s3_bucket_notification", "input")
        queue = one(notification, "queue")
        assert queue["queue_arn"] == JOBS_QUEUE
        assert [hcl_string(e) for e in queue["events"]] == ["s3:ObjectCreated:*"]
        assert notification["bucket"] == "${aws_s3_bucket.input.id}"
        sender = _statements(tf, "jobs_queue")["InputBucketSendsObjectEvents"]
        assert [hcl_string(a) for a in sender["actions"]] == ["sqs:SendMessage"]
        assert _conditions(sender) == {
            "aws:SourceArn": ("ArnEquals", ["${aws_s3_bucket.input.arn}"]),
            "aws:SourceAccount": ("StringEquals", ["${local.account_id}"]),
        }
        key_policy = tf.resource("aws_kms_key", "this")["policy"]
        assert "InputBucketNotifiesTheEncryptedQueue" in key_policy
        assert "s3:::${var.project_name}-input-*" in key_policy
        reader = _statements(tf, project.role_document)["ReadInputObjects"]
        assert [hcl_string(r) for r in reader["resources"]] == ["${aws_s3_bucket.input.arn}/*"]
        sse = one(
            tf.resource("aws_s3_bucket_server_side_encryption_configuration", "input"), "rule"
        )
        default = one(sse, "apply_server_side_encryption_by_default")
        assert default["kms_master_key_id"] == "${aws_kms_key.this.arn}"
        assert "input_bucket_name" in tf.outputs
    elif name == "dynamodb_stream":
        pipe = tf.resource("aws_pipes_pipe", "changes")
        assert pipe["source"] == "${aws_dynamodb_table.items.stream_arn}"
        assert pipe["target"] == JOBS_QUEUE
        assert pipe["kms_key_identifier"] == "${aws_kms_key.this.arn}"
        stream = one(one(pipe, "source_parameters"), "dynamodb_stream_parameters")
        assert stream["batch_size"] == 1  # one change per message, one job per change
        assert one(stream, "dead_letter_config")["arn"] == DEAD_LETTERS
        assert 0 < stream["maximum_retry_attempts"] <= 185
        table = tf.resource("aws_dynamodb_table", "items")
        assert table["stream_enabled"] is True
        assert one(table, "point_in_time_recovery")["enabled"] is True
        role = _statements(tf, "pipe")
        assert role["ReadTheTableStream"]["resources"] == ["${aws_dynamodb_table.items.stream_arn}"]
        assert role["SendToTheJobQueues"]["resources"] == [JOBS_QUEUE, DEAD_LETTERS]
        assert {"items_table_name", "pipe_name"} <= set(tf.outputs)
    elif name == "scheduled_job":
        schedule = tf.resource("aws_scheduler_schedule", "job")
        assert schedule["kms_key_arn"] == "${aws_kms_key.this.arn}"
        assert schedule["schedule_expression"] == "${var.schedule_expression}"
        target = one(schedule, "target")
        assert target["arn"] == JOBS_QUEUE
        assert one(target, "dead_letter_config")["arn"] == DEAD_LETTERS
        assert one(target, "retry_policy")["maximum_retry_attempts"] >= 1
        # The scheduled time names the run: a run delivered twice is one job.
        assert "job_id" in target["input"]
        assert "${var.project_name}@<aws.scheduler.scheduled-time>" in target["input"]
        assert _statements(tf, "scheduler")["SendRunsToTheJobQueues"]["resources"] == [
            JOBS_QUEUE,
            DEAD_LETTERS,
        ]
        assert tf.default("schedule_expression") == _plan(projects[name])["schedule_expression"]


# --- Dockerfile ----------------------------------------------------------------------


@all_variants
def test_hadolint_finds_nothing(projects: dict[str, Project], name: str) -> None:
    proc = scanners.hadolint(projects[name].path / "Dockerfile")
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")


@all_variants
def test_dockerfile_install_layout(projects: dict[str, Project], name: str) -> None:
    project = projects[name]
    stages = parse_dockerfile((project.path / "Dockerfile").read_text(encoding="utf-8"))
    runtime = stages[-1]
    builder = next(s for s in stages if s.alias == "builder")
    assert len([s for s in stages if s.alias in {"builder", "runtime"}]) == 2, "multi-stage"

    if project.shape == "inference":
        assert re.fullmatch(r"nvidia/cuda:\d+\.\d+\.\d+-runtime-ubuntu\d+\.\d+", runtime.base)
    else:
        assert re.fullmatch(r"python:3\.13\.\d+-slim-[a-z]+", runtime.base), runtime.base
    assert builder.base == runtime.base
    for stage in stages:
        assert re.search(r":\d+\.\d+\.\d+", stage.base), f"{stage.base} is not pinned"

    install = " ".join(i.value for i in builder.all("RUN"))
    assert "/opt/venv" in install
    assert "--no-cache" in install, "pip/uv must not keep a cache in the image"
    assert "--user" not in install, "a --user install lands in /root/.local"

    copies = runtime.all("COPY")
    venv_copy = [c for c in copies if c.flags.get("from") == "builder" and "/opt/venv" in c.args]
    assert [c.args for c in venv_copy] == [["/opt/venv", "/opt/venv"]]
    for instruction in [*copies, *runtime.all("WORKDIR"), *runtime.all("ADD")]:
        assert not any(a.startswith(("/root", "~")) for a in instruction.args), instruction
    env = " ".join(i.value for i in runtime.all("ENV"))
    assert 'PATH="/opt/venv/bin:$PATH"' in env

    users = runtime.all("USER")
    assert len(users) == 1
    uid = users[0].value.split(":")[0]
    assert uid not in {"0", "root"}
    created = " ".join(i.value for i in runtime.all("RUN"))
    assert f"useradd --system --no-log-init --uid {uid}" in created
    order = [i.keyword for i in runtime.instructions]
    assert order.index("USER") > max(i for i, k in enumerate(order) if k in {"RUN", "COPY"})
    assert runtime.all("HEALTHCHECK"), "no HEALTHCHECK"
    ignore = [
        line
        for line in (project.path / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert ignore[:2] == ["*", "!app/"], "the build context is an allow-list"


@pytest.fixture(scope="module")
def runner() -> tuple[str, int | None]:
    return unprivileged_python()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return 0
    finally:
        connection.close()


WORKER_ENV: Final = {
    "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
    "JOBS_TABLE": "jobs",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_MAX_ATTEMPTS": "1",
}


WEBHOOK_ENV: Final = {
    **{k: v for k, v in WORKER_ENV.items() if k not in {"QUEUE_URL", "JOBS_TABLE"}},
    "WEBHOOK_SECRET_PARAMETER": "/demo/webhook-secret",
    "DELIVERIES_TABLE": "deliveries",
}


@ec2_variants
def test_the_runtime_user_can_run_the_image_layout(
    projects: dict[str, Project], name: str, runner: tuple[str, int | None]
) -> None:
    """Rebuild the runtime stage on disk and run its CMD as a user who owns nothing."""
    project, (python, uid) = projects[name], runner
    root = world_readable_tempdir()
    try:
        layout = build_layout(project.path, root, python)
        assert layout.cmd == ["python", "-m", "app"]
        assert layout.healthcheck == ["python", "-m", "app.healthcheck"]
        unreadable = unreadable_by_others(layout.host("/opt/venv")) + unreadable_by_others(
            layout.host(layout.workdir)
        )
        assert unreadable == [], unreadable
        port = _free_port()
        env = layout.host_env(PORT=str(port), HOST="127.0.0.1")
        requirements = _requirement_modules(project.path)
        check = spawn(layout, ["python", "-c", f"import app.__main__, {requirements}"], uid, env)
        output, _ = check.communicate(timeout=120)
        assert check.returncode == 0, output
        if not project.is_service:
            env.update(WORKER_ENV, AWS_ENDPOINT_URL=f"http://127.0.0.1:{_free_port()}")
        if name == "webhook":  # it reads its signing secret from SSM at start-up
            with FakeSSM({"/demo/webhook-secret": "signing-key"}) as ssm:
                env.update(WEBHOOK_ENV, AWS_ENDPOINT_URL=ssm.url)
                _run_cmd_until_healthy(layout, uid, env, port)
            assert [r["target"] for r in ssm.requests] == ["AmazonSSM.GetParameter"]
            assert ssm.requests[0]["WithDecryption"] is True
        else:
            _run_cmd_until_healthy(layout, uid, env, port)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _requirement_modules(project: Path) -> str:
    names = {"click": "click", "h11": "h11", "uvicorn": "uvicorn", "wsproto": "wsproto"}
    names |= {"httptools": "httptools", "uvloop": "uvloop", "orjson": "orjson"}
    names |= {"boto3": "boto3", "botocore": "botocore", "python-dateutil": "dateutil"}
    names |= {
        "jmespath": "jmespath",
        "s3transfer": "s3transfer",
        "six": "six",
        "urllib3": "urllib3",
    }
    pinned = [
        line.split("==")[0]
        for line in (project / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    ]
    assert pinned, "requirements.txt pins nothing"
    return ", ".join(names[p] for p in pinned)


def _run_cmd_until_healthy(layout: Layout, uid: int | None, env: dict[str, str], port: int) -> None:
    process = spawn(layout, layout.cmd, uid, env)
    try:
        deadline = time.monotonic() + 60
        while _get(port, "/health") != 200:
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "the app never became healthy"
            time.sleep(0.2)
        probe = spawn(layout, layout.healthcheck, uid, env)
        probe_output, _ = probe.communicate(timeout=30)
        assert probe.returncode == 0, probe_output
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode in (0, -signal.SIGTERM), output


# --- Terraform: parses, scans clean, has the topology the cost model prices ------------


@all_variants
def test_every_tf_file_parses(projects: dict[str, Project], name: str) -> None:
    project = projects[name]
    expected = {
        path.removeprefix("terraform/")
        for path in [*EVERY_PROJECT_FILE, *_own_files(project)]
        if path.startswith("terraform/") and path.endswith(".tf")
    }
    assert set(project.tf.files) == expected


@all_variants
def test_every_tf_file_opens_with_what_it_holds(projects: dict[str, Project], name: str) -> None:
    """One concern per file, named by its first line (HashiCorp's style guide); the
    project's own Terraform tests too."""
    folder = projects[name].path / "terraform"
    openings = {
        path.relative_to(folder).as_posix(): path.read_text(encoding="utf-8").split("\n", 1)[0]
        for path in [*folder.glob("*.tf"), *folder.glob("tests/*.tftest.hcl")]
    }
    unexplained = {
        file: line for file, line in openings.items() if not re.fullmatch(r"# [A-Z].{10,96}", line)
    }
    assert unexplained == {}


@all_variants
def test_checkov_finds_nothing(
    projects: dict[str, Project], name: str, background: Background
) -> None:
    report: scanners.CheckovReport = background.result("checkov", name)
    assert report.parsing_errors == []
    assert report.failures() == []
    assert len(report.passed) > 100
    unexplained = [s["check_id"] for s in report.skipped if not _reason(s)]
    assert unexplained == [], unexplained


def _reason(skip: dict[str, Any]) -> str:
    return str(skip.get("check_result", {}).get("suppress_comment") or "").strip()


@all_variants
def test_every_skip_is_inline_with_a_reason_and_documented(
    projects: dict[str, Project], name: str, background: Background
) -> None:
    project = projects[name]
    inline = inline_skips(project.tf)
    assert [s for s in inline if len(s[2]) < 20] == [], "a skip needs a reason a reviewer accepts"
    report: scanners.CheckovReport = background.result("checkov", name)
    reported = sorted((s["resource"], s["check_id"]) for s in report.skipped)
    assert reported == sorted((address, check) for address, check, _ in inline)
    security = (project.path / "docs" / "security.md").read_text(encoding="utf-8")
    undocumented = [check for _, check, _ in inline if check not in security]
    assert undocumented == [], undocumented
    raw = "\n".join(p.read_text() for p in (project.path / "terraform").glob("*.tf"))
    assert raw.count("checkov:skip=") == len(inline), "every skip sits inside a resource"


@pytest.mark.parametrize("name", CITED)
def test_security_md_cites_only_checks_that_run(
    projects: dict[str, Project], name: str, background: Background
) -> None:
    project = projects[name]
    report: scanners.CheckovReport = background.result("checkov", name)
    security = (project.path / "docs" / "security.md").read_text(encoding="utf-8")
    cited = set(re.findall(r"CKV2?_[A-Z]+_\d+", security))
    ran = report.passed_ids | {s["check_id"] for s in report.skipped}
    assert cited - ran == set()
    assert "Skipped checks" in security


@ec2_variants
def test_instances_require_imdsv2_and_encrypt_their_root_volume(
    projects: dict[str, Project], name: str
) -> None:
    template = projects[name].tf.resource("aws_launch_template", "this")
    metadata = one(template, "metadata_options")
    assert hcl_string(metadata["http_tokens"]) == "required"
    assert metadata["http_put_response_hop_limit"] == 1
    ebs = one(one(template, "block_device_mappings"), "ebs")
    assert ebs["encrypted"] is True
    assert "key_name" not in template, "no SSH key"
    interface = one(template, "network_interfaces")
    assert interface["associate_public_ip_address"] is False


@ec2_variants
def test_user_data_runs_the_projects_image(projects: dict[str, Project], name: str) -> None:
    project = projects[name]
    script = (project.path / "terraform" / "user_data.sh.tftpl").read_text()
    assert "aws ecr get-login-password" in script
    assert "docker run" in script
    assert "--read-only" in script
    assert "--cap-drop ALL" in script
    assert hcl_string(project.tf.locals["image"]) == (
        "${aws_ecr_repository.app.repository_url}:${var.image_tag}"
    )
    assert ("--gpus all" in script) == (project.shape == "inference")
    assert ("--network host" in script) == project.host_network
    assert ("--publish" in script) == (project.is_service and not project.host_network)


def _user_data(project: Project) -> tuple[dict[str, str], str]:
    """The variables Terraform passes to the user data template, and the template."""
    launch_template = project.tf.resource("aws_launch_template", "this")
    script = (project.path / "terraform" / "user_data.sh.tftpl").read_text(encoding="utf-8")
    return templatefile_vars(launch_template["user_data"]), script


@all_variants
def test_the_planned_limits_reach_the_container(projects: dict[str, Project], name: str) -> None:
    """Terraform's limits (their defaults from the capacity plan) are what the container
    runs with: through the instance's user data, or the task definition."""
    project = projects[name]
    env = _container_env(project)
    if project.compute == "fargate":
        ecs = (project.path / "terraform" / "ecs.tf").read_text(encoding="utf-8")
        assert "stopTimeout = local.task_stop_timeout_seconds" in ecs
        assert "min(var.stop_timeout_seconds, 120)" in ecs
    else:
        passed, script = _user_data(project)
        assert passed["stop_timeout"] == "var.stop_timeout_seconds"
        assert "--stop-timeout ${stop_timeout}" in script
        assert "docker stop --time ${stop_timeout}" in script
    if project.is_service:
        assert env["GRACEFUL_SHUTDOWN_SECONDS"] == "var.graceful_shutdown_seconds"
        graceful = "settings.graceful_shutdown_seconds"
        assert _uvicorn_options(project)["timeout_graceful_shutdown"] == graceful
    else:
        assert env["WORKER_PROCESSES"] == "var.worker_processes"
        assert env["JOB_TIMEOUT_SECONDS"] == "var.job_timeout_seconds"
        # Each running job gets its scratch space: on the instance's volume, in the task's storage.
        if project.compute == "fargate":
            storage = hcl_string(project.tf.locals["ephemeral_storage_gib"])
        else:
            volume = one(one(project.tf.resource("aws_launch_template", "this"),
                             "block_device_mappings"), "ebs")  # fmt: skip
            storage = volume["volume_size"]
        assert "var.scratch_space_mb * var.worker_processes" in storage


@ec2_variants
def test_user_data_gets_every_variable_it_uses(projects: dict[str, Project], name: str) -> None:
    passed, script = _user_data(projects[name])
    used = set(re.findall(r"(?<!\$)\$\{([a-z_][a-z0-9_]*)", script))
    assert used == set(passed), (used, set(passed))


def _terraform_expression(value: str) -> str:
    """``${tostring(local.x)}`` as ``local.x``: what a container variable is made of."""
    inner = hcl_string(value).removeprefix("${").removesuffix("}")
    return (
        inner.removeprefix("tostring(").removesuffix(")")
        if inner.startswith("tostring(")
        else inner
    )


def _container_env(project: Project) -> dict[str, str]:
    """Each variable the container gets, and the Terraform expression that sets it: the
    instance's user data (EC2) or the task definition (Fargate)."""
    if project.compute == "fargate":
        environment = project.tf.locals["environment"]
        return {name: _terraform_expression(value) for name, value in environment.items()}
    passed, script = _user_data(project)
    return {
        name: passed.get(value.removeprefix("${").removesuffix("}"), value)
        for name, value in docker_run_env(script).items()
    }


def _app_value(project: Project, expression: str) -> Any:
    """Evaluate ``expression`` (JSON-able) in the rendered app, as its tests would."""
    return app_value(project.path, expression)


def _uvicorn_options(project: Project) -> dict[str, str]:
    """The keyword arguments of the ``uvicorn.run`` call in app/__main__.py, as source."""
    tree = ast.parse((project.path / "app" / "__main__.py").read_text(encoding="utf-8"))
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "uvicorn.run"
    ]
    assert len(calls) == 1
    return {k.arg: ast.unparse(k.value) for k in calls[0].keywords if k.arg}


@services
def test_uvicorn_keeps_idle_connections_longer_than_the_load_balancer(
    projects: dict[str, Project], name: str
) -> None:
    """AWS: the target's keep-alive must exceed the ALB idle timeout, else 502s."""
    project = projects[name]
    tf = project.tf
    assert tf.resource("aws_lb", "this")["idle_timeout"] == "${var.idle_timeout_seconds}"
    margin = re.fullmatch(
        r"\$\{var\.idle_timeout_seconds \+ (\d+)\}", tf.locals["keep_alive_seconds"]
    )
    assert margin, tf.locals["keep_alive_seconds"]
    assert int(margin[1]) > 0
    assert _container_env(project)["KEEP_ALIVE_SECONDS"] == "local.keep_alive_seconds"
    assert _uvicorn_options(project)["timeout_keep_alive"] == "settings.keep_alive_seconds"
    margin_text = f"open {margin[1]} s longer than the load balancer's `idle_timeout_seconds`"
    assert margin_text in (project.path / "README.md").read_text(encoding="utf-8")
    environ = {"KEEP_ALIVE_SECONDS": "4005"}
    default, configured = _app_value(
        project,
        f"[c.Settings.from_env({{}}).keep_alive_seconds, "
        f"c.Settings.from_env({environ!r}).keep_alive_seconds]",
    )
    assert default > tf.default("idle_timeout_seconds")
    assert configured == 4005


@services
def test_only_the_vpc_is_trusted_to_set_forwarded_headers(
    projects: dict[str, Project], name: str
) -> None:
    """A client's own X-Forwarded-For entry must never become its address."""
    project = projects[name]
    tf = project.tf
    assert _container_env(project)["FORWARDED_ALLOW_IPS"] == "local.trusted_proxies"
    trusted = tf.locals["trusted_proxies"]
    assert "*" not in trusted
    assert "data.aws_vpc.this.cidr_block" in trusted
    assert "data.aws_vpc.this.cidr_block_associations" in trusted
    assert tf.data["aws_vpc"]["this"]["id"] == "${var.vpc_id}"
    options = _uvicorn_options(project)
    assert options["forwarded_allow_ips"] == "settings.forwarded_allow_ips"
    assert _app_value(project, "c.Settings.from_env({}).forwarded_allow_ips") == "127.0.0.1"


@services
def test_services_run_on_httptools_and_uvloop_and_leave_request_logs_to_the_load_balancer(
    projects: dict[str, Project], name: str
) -> None:
    """benchmarks/service_throughput.py: the fast stack serves ~3x the requests per core,
    and a log line per request costs about a fifth of them, twice recorded."""
    project = projects[name]
    pins = {
        Requirement(line).name: Requirement(line)
        for line in (project.path / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert {"httptools", "uvloop"} <= set(pins)
    assert str(pins["uvloop"].marker) == 'sys_platform != "win32"'  # no Windows build
    options = _uvicorn_options(project)
    assert "http" not in options, "uvicorn picks httptools when it is installed"
    assert "loop" not in options, "uvicorn picks uvloop when it is installed"
    assert options["access_log"] == "settings.request_logs"
    logs = "[c.Settings.from_env(e).request_logs for e in ({}, {'REQUEST_LOGS': '1'})]"
    assert _app_value(project, logs) == [False, True]
    assert _container_env(project)["REQUEST_LOGS"] == "var.request_logs"
    assert project.tf.variables["request_logs"]["type"] in {"bool", "${bool}"}
    assert project.tf.variables["request_logs"]["default"] is False
    # What is recorded instead: the load balancer's access log of every request.
    assert one(project.tf.resource("aws_lb", "this"), "access_logs")["enabled"] is True


@pytest.mark.parametrize("name", ["websocket", "fargate-websocket"])
def test_websocket_messages_are_bounded_and_origins_checked(
    projects: dict[str, Project], name: str
) -> None:
    project = projects[name]
    # uvicorn refuses an oversized message as it arrives (its default buffers 16 MiB).
    assert _uvicorn_options(project)["ws_max_size"] == "settings.max_body_bytes"
    answers = yaml.safe_load((project.path / ".copier-answers.yml").read_text())
    limit = _app_value(project, "c.Settings.from_env({}).max_body_bytes")
    assert limit == answers["max_payload_kb"] * 1024
    origins = project.tf.variables["allowed_origins"]
    assert origins["default"] == []
    assert blocks(origins, "validation")
    assert _container_env(project)["ALLOWED_ORIGINS"] == 'join(",", var.allowed_origins)'
    environ = {"ALLOWED_ORIGINS": "https://app.example.com"}
    configured = _app_value(project, f"c.Settings.from_env({environ!r}).allowed_origins")
    assert configured == ["https://app.example.com"]


def _calls(tree: ast.Module, name: str) -> set[str]:
    """What the top-level function or class ``name`` of a module calls, as written."""
    node = next(n for n in tree.body if getattr(n, "name", None) == name)
    return {ast.unparse(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}


@ec2_workers
def test_a_stalled_worker_ends_its_process_and_systemd_restarts_it(
    projects: dict[str, Project], name: str
) -> None:
    """EC2 health checks and Docker's HEALTHCHECK never restart a stuck container."""
    project = projects[name]
    tree = ast.parse((project.path / "app" / "worker.py").read_text(encoding="utf-8"))
    assert {"Watchdog", "watchdog.start"} <= _calls(tree, "serve")
    # Every worker runs serve(): the lone one (main), and each of a pool's processes,
    # which the pool starts again when its watchdog ends it.
    assert "serve" in _calls(tree, "main")
    pool = ast.parse((project.path / "app" / "pool.py").read_text(encoding="utf-8"))
    assert "serve" in _calls(pool, "_work")
    assert "self.start" in _calls(pool, "Pool")
    watchdog = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Watchdog")
    assert "healthy()" in ast.unparse(watchdog)
    assert _app_value(project, "__import__('app.worker').worker.EXIT_STALLED") != 0
    _, script = _user_data(project)
    assert re.search(r"^Restart=always$", script, flags=re.MULTILINE)
    group = project.tf.resource("aws_autoscaling_group", "this")
    assert hcl_string(group["health_check_type"]) == "EC2", "the instance check: see above"


@ec2_variants
def test_security_md_says_which_containers_reach_the_instance_role(
    projects: dict[str, Project], name: str
) -> None:
    """Hop limit 1 keeps bridge-network containers from the metadata service, not host ones."""
    project = projects[name]
    _, script = _user_data(project)
    security = (project.path / "docs" / "security.md").read_text(encoding="utf-8")
    instances = next(line for line in security.splitlines() if "hop limit 1" in line)
    if "--network host" in script:
        assert "host network" in instances, instances
        assert "can** reach the metadata service" in instances, instances
        assert "cannot reach the instance role" not in instances, instances
    else:
        assert "bridge network cannot reach the instance role" in instances, instances


def _statements(tf: Terraform, document: str = "instance") -> dict[str, dict[str, Any]]:
    """The statements of a policy document, by sid."""
    body = tf.data["aws_iam_policy_document"][document]
    return {hcl_string(s["sid"]): s for s in blocks(body, "statement")}


def _conditions(statement: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    return {
        hcl_string(c["variable"]): (hcl_string(c["test"]), [hcl_string(v) for v in c["values"]])
        for c in blocks(statement, "condition")
    }


@pytest.mark.parametrize("name", ["webhook", "fargate-webhook"])
def test_webhook_secret_and_delivery_records_in_terraform(
    projects: dict[str, Project], name: str
) -> None:
    project = projects[name]
    tf = project.tf
    # The secret: a SecureString the user stores; Terraform only names it.
    project_name = tf.default("project_name")
    assert tf.default("webhook_secret_parameter_name") == f"/{project_name}/webhook-secret"
    assert "aws_ssm_parameter" not in tf.resources
    ami = {"ami"} if project.compute == "container" else set()
    assert set(tf.data.get("aws_ssm_parameter", {})) == ami, "the secret stays out of the state"
    arn = hcl_string(tf.locals["secret_parameter_arn"])
    assert arn.endswith(":parameter${var.webhook_secret_parameter_name}")
    statements = _statements(tf, project.role_document)
    reads = [s for s in statements.values() if "ssm:GetParameter" in map(hcl_string, s["actions"])]
    assert len(reads) == 1
    assert [hcl_string(a) for a in reads[0]["actions"]] == ["ssm:GetParameter"]
    assert reads[0]["resources"] == ["${local.secret_parameter_arn}"]
    decrypt = statements["DecryptTheSigningSecretThroughSsm"]
    assert [hcl_string(a) for a in decrypt["actions"]] == ["kms:Decrypt"]
    assert decrypt["resources"] == ["${aws_kms_key.this.arn}"]
    assert _conditions(decrypt) == {
        "kms:ViaService": ("StringEquals", ["ssm.${var.aws_region}.amazonaws.com"]),
        "kms:EncryptionContext:PARAMETER_ARN": ("StringEquals", ["${local.secret_parameter_arn}"]),
    }
    # Every kms: statement of the instance role is limited to one service.
    for sid, statement in statements.items():
        if any(hcl_string(a).startswith("kms:") for a in statement["actions"]):
            assert "kms:ViaService" in _conditions(statement), sid

    # Delivery records: encrypted with the project's key, recoverable, expiring.
    table = tf.resource("aws_dynamodb_table", "deliveries")
    assert hcl_string(table["hash_key"]) == "delivery_id"
    assert one(table, "point_in_time_recovery")["enabled"] is True
    sse = one(table, "server_side_encryption")
    assert (sse["enabled"], sse["kms_key_arn"]) == (True, "${aws_kms_key.this.arn}")
    assert hcl_string(one(table, "ttl")["attribute_name"]) == "expires_at"
    assert table["deletion_protection_enabled"] == "${var.deletion_protection}"
    assert tf.default("deletion_protection") is True  # lifted only by `make destroy`
    records = statements["RecordDeliveries"]
    assert records["resources"] == ["${aws_dynamodb_table.deliveries.arn}"]
    assert {hcl_string(a) for a in records["actions"]} == {
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    }

    # The container gets the names and reads them under those names.
    env = _container_env(project)
    wiring = {
        "WEBHOOK_SECRET_PARAMETER": "var.webhook_secret_parameter_name",
        "DELIVERIES_TABLE": "aws_dynamodb_table.deliveries.name",
        "SIGNATURE_TOLERANCE_SECONDS": "var.signature_tolerance_seconds",
        "PROCESSING_SECONDS": "var.processing_timeout_seconds",
    }
    assert {k: env.get(k) for k in wiring} == wiring
    given = {
        "WEBHOOK_SECRET_PARAMETER": "/p",
        "DELIVERIES_TABLE": "t",
        "SIGNATURE_TOLERANCE_SECONDS": "120",
        "PROCESSING_SECONDS": "7",
        "AWS_REGION": "eu-west-1",
    }
    assert set(given) <= set(env)
    read = _app_value(
        project,
        f"(lambda s: [s.webhook_secret_parameter, s.deliveries_table, "
        f"s.signature_tolerance_seconds, s.processing_seconds, s.aws_region])"
        f"(c.Settings.from_env({given!r}))",
    )
    assert read == ["/p", "t", 120, 7, "eu-west-1"]
    assert _app_value(project, "c.Settings().signature_tolerance_seconds") == tf.default(
        "signature_tolerance_seconds"
    )


@pytest.mark.parametrize("name", ["webhook"])
def test_webhook_app_verifies_refuses_replays_and_deduplicates(
    projects: dict[str, Project], name: str
) -> None:
    project = projects[name]
    main = (project.path / "app" / "main.py").read_text(encoding="utf-8")
    assert '"/echo"' not in main, "no public unauthenticated endpoint"
    assert '@router.route("POST", "/webhook")' in main
    signature = ast.parse((project.path / "app" / "signature.py").read_text(encoding="utf-8"))
    calls = {ast.unparse(n.func) for n in ast.walk(signature) if isinstance(n, ast.Call)}
    assert "hmac.compare_digest" in calls
    assert calls & {"hmac.new", "hmac.digest"}, "an HMAC of the signed string"
    assert "tolerance_seconds" in ast.unparse(signature)
    requirements = (project.path / "requirements.txt").read_text()
    assert "boto3==" in requirements

    # The project's own tests of exactly these behaviours run and pass.
    files = ["tests/test_signature.py", "tests/test_webhook.py", "tests/test_server.py"]
    proc = scanners.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", *files],
        cwd=project.path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    passed = set(re.findall(r"::(test_\w+)(?:\[[^\]]*\])? PASSED", proc.stdout))
    for behaviour in [
        "test_forged_altered_or_stale_deliveries_fail",
        "test_a_delivery_is_processed_once_even_when_signed_again",
        "test_forged_or_altered_deliveries_are_refused_before_anything_happens",
        "test_stale_deliveries_are_refused",
        "test_a_failed_delivery_is_released_for_the_senders_retry",
        "test_the_secret_is_read_decrypted_from_its_parameter",
        "test_deliveries_are_recorded_by_their_id_in_dynamodb",
        "test_signed_deliveries_over_http",
        "test_does_not_start_without_its_signing_secret",
    ]:
        assert behaviour in passed, behaviour


@pytest.mark.parametrize("name", ["webhook"])
def test_webhook_docs_explain_signing_secret_and_duplicates(
    projects: dict[str, Project], name: str
) -> None:
    project = projects[name]
    readme = (project.path / "README.md").read_text(encoding="utf-8")
    for needed in [
        "X-Signature-Timestamp",
        "X-Delivery-Id",
        "X-Signature: sha256=",
        "aws ssm put-parameter --type SecureString --key-id alias/",
        "openssl dgst -sha256 -hmac",
        "signature_tolerance_seconds",
        '"duplicate"',
    ]:
        assert needed in readme, needed
    assert "/echo" not in readme
    security = (project.path / "docs" / "security.md").read_text(encoding="utf-8")
    for needed in [
        "HMAC-SHA256",
        "constant time",
        "signature_tolerance_seconds",
        "conditional write",
        "aws_dynamodb_table.deliveries",
        "SSM Parameter Store",
        "only through SSM",
    ]:
        assert needed in security, needed
    assert "The app needs none yet" not in security
    assert "answers anyone who reaches it" not in security


@ec2_variants
def test_autoscaling_group_matches_the_cost_model(projects: dict[str, Project], name: str) -> None:
    tf = projects[name].tf
    group = tf.resource("aws_autoscaling_group", "this")
    planned = _plan(projects[name])["instances"]
    assert group["min_size"] == "${var.min_size}"
    assert tf.default("min_size") == planned["min_size"] == ASG_INSTANCES
    assert group["max_size"] == "${var.max_size}"
    assert tf.default("max_size") == planned["max_size"] >= planned["count"]
    launch = tf.resource("aws_launch_template", "this")
    assert launch["instance_type"] == "${var.instance_type}"
    assert tf.default("instance_type") == planned["instance_type"]
    assert group["vpc_zone_identifier"] == "${var.subnet_ids}"
    assert hcl_string(group["health_check_type"]) == ("ELB" if projects[name].is_service else "EC2")


@fargate_variants
def test_the_ecs_service_follows_the_capacity_plan(projects: dict[str, Project], name: str) -> None:
    """Task size and counts: the plan's Fargate entry, as the Fargate cost priced them."""
    project = projects[name]
    tf, planned = project.tf, _plan(project)["fargate"]
    task = tf.resource("aws_ecs_task_definition", "app")
    assert (task["cpu"], task["memory"]) == ("${var.task_cpu}", "${var.task_memory}")
    assert (tf.default("task_cpu"), tf.default("task_memory")) == (
        planned["cpu"],
        planned["memory"],
    )
    target = tf.resource("aws_appautoscaling_target", "service")
    assert (target["min_capacity"], target["max_capacity"]) == (
        "${var.min_tasks}",
        "${var.max_tasks}",
    )
    assert tf.default("min_tasks") == planned["min_count"] == ASG_INSTANCES
    assert tf.default("max_tasks") == planned["max_count"] >= planned["count"]
    service = tf.resource("aws_ecs_service", "app")
    assert service["desired_count"] == "${var.min_tasks}"
    assert hcl_string(service["propagate_tags"]) == "SERVICE"
    breaker = one(service, "deployment_circuit_breaker")
    assert (breaker["enable"], breaker["rollback"]) == (True, True)
    assert service["enable_execute_command"] == "${var.enable_execute_command}"
    assert tf.default("enable_execute_command") is False
    if not project.is_service:
        assert tf.default("worker_processes") == planned["concurrency_each"]
    policies = set(tf.of_type("aws_appautoscaling_policy"))
    assert policies == ({"cpu"} if project.is_service else {"backlog"})


@ec2_services
def test_services_track_65_percent_cpu(projects: dict[str, Project], name: str) -> None:
    tf = projects[name].tf
    assert set(tf.of_type("aws_autoscaling_policy")) == {"cpu"}
    tracking = one(tf.resource("aws_autoscaling_policy", "cpu"), "target_tracking_configuration")
    metric = one(tracking, "predefined_metric_specification")
    assert hcl_string(metric["predefined_metric_type"]) == "ASGAverageCPUUtilization"
    assert tracking["target_value"] == "${var.cpu_target_percent}"
    assert tf.default("cpu_target_percent") == 65


@ec2_workers
def test_workers_scale_on_backlog_and_drain_on_scale_in(
    projects: dict[str, Project], name: str
) -> None:
    tf = projects[name].tf
    assert set(tf.of_type("aws_autoscaling_policy")) == {"backlog"}
    tracking = one(
        tf.resource("aws_autoscaling_policy", "backlog"), "target_tracking_configuration"
    )
    metrics = blocks(one(tracking, "customized_metric_specification"), "metrics")
    names = {hcl_string(value) for key, value in walk(metrics) if key == "metric_name"}
    assert names == {"ApproximateNumberOfMessagesVisible", "GroupInServiceInstances"}
    hook = tf.resource("aws_autoscaling_lifecycle_hook", "drain")
    assert hcl_string(hook["lifecycle_transition"]) == "autoscaling:EC2_INSTANCE_TERMINATING"
    assert hcl_string(hook["default_result"]) == "CONTINUE"


@services
def test_https_listeners_use_tls13_and_http_redirects(
    projects: dict[str, Project], name: str
) -> None:
    listeners = projects[name].tf.of_type("aws_lb_listener")
    https = [b for b in listeners.values() if hcl_string(b["protocol"]) == "HTTPS"]
    assert https
    assert {hcl_string(b["ssl_policy"]) for b in https} == {TLS_POLICY}
    plain = [b for b in listeners.values() if hcl_string(b["protocol"]) == "HTTP"]
    for listener in plain:
        redirect = one(one(listener, "default_action"), "redirect")
        assert hcl_string(redirect["protocol"]) == "HTTPS"


@services
def test_load_balancer_hardening(projects: dict[str, Project], name: str) -> None:
    project = projects[name]
    alb = project.tf.resource("aws_lb", "this")
    assert alb["drop_invalid_header_fields"] is True
    assert alb["enable_deletion_protection"] == "${var.deletion_protection}"
    assert project.tf.default("deletion_protection") is True  # lifted only by `make destroy`
    assert one(alb, "access_logs")["enabled"] is True
    bucket_sse = project.tf.resource(
        "aws_s3_bucket_server_side_encryption_configuration", "alb_logs"
    )
    assert "apply_server_side_encryption_by_default" in json.dumps(bucket_sse)
    group = project.tf.resource("aws_lb_target_group", "app")
    stickiness = blocks(group, "stickiness")
    if project.shape == "websocket":
        assert one(group, "stickiness")["enabled"] is True
        assert project.tf.default("idle_timeout_seconds") >= 3600
    else:
        assert stickiness == []
    planned = _plan(project)["timeouts"]
    assert project.tf.default("idle_timeout_seconds") == planned["alb_idle_timeout_seconds"]
    assert alb["idle_timeout"] == "${var.idle_timeout_seconds}"
    assert group["deregistration_delay"] == "${var.deregistration_delay_seconds}"
    delay = project.tf.default("deregistration_delay_seconds")
    assert delay == planned["deregistration_delay_seconds"]


@services
def test_waf_has_exactly_the_priced_rules_and_logs(projects: dict[str, Project], name: str) -> None:
    tf = projects[name].tf
    acl = tf.resource("aws_wafv2_web_acl", "this")
    rules = blocks(acl, "rule")
    assert len(rules) == WAF_RULES
    statements = [one(rule, "statement") for rule in rules]
    assert sum("rate_based_statement" in s for s in statements) == 1
    managed = {
        hcl_string(one(s, "managed_rule_group_statement")["name"])
        for s in statements
        if "managed_rule_group_statement" in s
    }
    assert managed == {"AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesAnonymousIpList"}
    logging = tf.resource("aws_wafv2_web_acl_logging_configuration", "this")
    assert logging["resource_arn"] == "${aws_wafv2_web_acl.this.arn}"
    association = tf.resource("aws_wafv2_web_acl_association", "alb")
    assert association["resource_arn"] == "${aws_lb.this.arn}"


@workers
def test_workers_have_no_load_balancer_or_waf(projects: dict[str, Project], name: str) -> None:
    kinds = set(projects[name].tf.resources)
    assert kinds & {"aws_lb", "aws_wafv2_web_acl", "aws_lb_listener"} == set()


@workers
def test_worker_queue_is_encrypted_with_a_dead_letter_queue(
    projects: dict[str, Project], name: str
) -> None:
    tf = projects[name].tf
    queues = tf.of_type("aws_sqs_queue")
    assert set(queues) == {"jobs", "dead_letter"}
    for queue in queues.values():
        assert queue["kms_master_key_id"] == "${aws_kms_key.this.arn}"
    redrive = queues["jobs"]["redrive_policy"]
    assert "deadLetterTargetArn = aws_sqs_queue.dead_letter.arn" in redrive
    assert queues["jobs"]["receive_wait_time_seconds"] == 20
    table = tf.resource("aws_dynamodb_table", "jobs")
    assert one(table, "server_side_encryption")["enabled"] is True


@all_variants
def test_only_the_load_balancer_is_open_to_the_world(
    projects: dict[str, Project], name: str
) -> None:
    tf = projects[name].tf
    for group in tf.of_type("aws_security_group").values():
        assert "ingress" not in group, "rules are separate resources"
        assert "egress" not in group
    open_rules = sorted(
        (rule["security_group_id"], rule["from_port"], rule["to_port"])
        for rule in tf.of_type("aws_vpc_security_group_ingress_rule").values()
        if hcl_string(rule.get("cidr_ipv4")) in WORLD or hcl_string(rule.get("cidr_ipv6")) in WORLD
    )
    if projects[name].is_service:
        alb = "${aws_security_group.alb.id}"
        assert open_rules == [(alb, 80, 80), (alb, 443, 443)]
    else:
        assert open_rules == []
        assert tf.of_type("aws_vpc_security_group_ingress_rule") == {}
    for rule in tf.of_type("aws_vpc_security_group_egress_rule").values():
        assert hcl_string(rule["ip_protocol"]) == "tcp", "no all-protocol egress"


#: Actions with no resource-level permissions, the only ones granted on "*".
UNSCOPED_ACTIONS: Final = {
    "container": {"ecr:GetAuthorizationToken"},
    "fargate": {
        "ecr:GetAuthorizationToken",
        "logs:DescribeLogGroups",
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
    },
}


@all_variants
def test_no_iam_statement_allows_every_action(projects: dict[str, Project], name: str) -> None:
    project = projects[name]
    documents = project.tf.data["aws_iam_policy_document"]
    actions = [
        hcl_string(action)
        for document in documents.values()
        for statement in blocks(document, "statement")
        for action in statement.get("actions", [])
    ]
    assert actions
    assert "*" not in actions
    terraform = "\n".join(p.read_text() for p in (project.path / "terraform").glob("*.tf"))
    assert re.findall(r'Action\s*=\s*(?:"\*"|\[[^\]]*"\*")', terraform) == []
    # The roles the containers run with name each action, and "*" only as the resource
    # of actions that have no resource-level permissions.
    roles = ["instance"] if project.compute == "container" else ["execution", "task", "exec"]
    unscoped = set()
    for role in roles:
        if role not in documents:  # a task role with nothing to do has no document
            continue
        for statement in blocks(documents[role], "statement"):
            named = [hcl_string(a) for a in statement["actions"]]
            assert [a for a in named if "*" in a] == [], f"the {role} role names each action"
            if "*" in [hcl_string(r) for r in statement["resources"]]:
                unscoped |= set(named)
    assert unscoped == UNSCOPED_ACTIONS[project.compute]


@all_variants
def test_encryption_at_rest_uses_the_projects_key(projects: dict[str, Project], name: str) -> None:
    tf = projects[name].tf
    assert tf.resource("aws_kms_key", "this")["enable_key_rotation"] is True
    repository = tf.resource("aws_ecr_repository", "app")
    assert hcl_string(repository["image_tag_mutability"]) == "IMMUTABLE"
    assert one(repository, "image_scanning_configuration")["scan_on_push"] is True
    assert hcl_string(one(repository, "encryption_configuration")["encryption_type"]) == "KMS"
    for group in tf.of_type("aws_cloudwatch_log_group").values():
        assert group["kms_key_id"] == "${aws_kms_key.this.arn}"
    assert tf.resource("aws_sns_topic", "alarms")["kms_master_key_id"] == "${aws_kms_key.this.arn}"


@all_variants
def test_the_key_serves_cloudwatch_logs_for_the_projects_log_groups_only(
    projects: dict[str, Project], name: str
) -> None:
    tf = projects[name].tf
    policy = tf.resource("aws_kms_key", "this")["policy"]
    assert "kms:EncryptionContext:aws:logs:arn" in policy
    allowed = re.findall(r'log-group:([^"]*)"', policy)
    assert allowed, policy
    for pattern in allowed:
        # Every pattern names the project before any wildcard: no other log group matches.
        assert "${var.project_name}" in pattern.partition("*")[0], pattern
    groups = [hcl_string(g["name"]) for g in tf.of_type("aws_cloudwatch_log_group").values()]
    assert groups
    for group in groups:
        assert any(fnmatch.fnmatchcase(group, p) for p in allowed), (group, allowed)
    assert not any(fnmatch.fnmatchcase("/another-project/app", p) for p in allowed)


ALARM_METRICS: Final = {
    "service": {
        "CPUUtilization",
        "UnHealthyHostCount",
        "HTTPCode_Target_5XX_Count",
        "HTTPCode_ELB_5XX_Count",
    },
    "worker": {"CPUUtilization", "ApproximateNumberOfMessagesVisible"},
}


@all_variants
def test_alarms_notify_the_encrypted_topic(projects: dict[str, Project], name: str) -> None:
    project = projects[name]
    alarms = project.tf.of_type("aws_cloudwatch_metric_alarm")
    metrics = {hcl_string(a["metric_name"]) for a in alarms.values()}
    assert metrics == ALARM_METRICS["service" if project.is_service else "worker"]
    for alarm in alarms.values():
        assert alarm["alarm_actions"] == ["${aws_sns_topic.alarms.arn}"]
    if not project.is_service:
        queues = {
            a["dimensions"]["QueueName"] for a in alarms.values() if "QueueName" in a["dimensions"]
        }
        assert queues == {"${aws_sqs_queue.jobs.name}", "${aws_sqs_queue.dead_letter.name}"}


@all_variants
def test_terraform_layout_and_variables(projects: dict[str, Project], name: str) -> None:
    project = projects[name]
    tf = project.tf
    settings = [t for t in tf.terraform if "required_providers" in t]
    assert len(settings) == 1
    assert hcl_string(settings[0]["required_version"]).startswith(">= 1.10")
    aws = settings[0]["required_providers"][0]["aws"]
    assert hcl_string(aws["version"]) == ">= 5.100, < 7.0"
    backend = next(t for t in tf.terraform if "backend" in t)["backend"][0]['"s3"']
    assert (backend["encrypt"], backend["use_lockfile"]) == (True, True)
    provider = tf.providers[0]['"aws"']
    assert "tags" in one(provider, "default_tags")

    for variable, body in tf.variables.items():
        assert "type" in body, variable
        assert len(hcl_string(body["description"])) > 10, variable
        if body["type"] not in {"bool", "${bool}"}:
            assert blocks(body, "validation"), f"variable {variable} has no validation"

    required = {v for v, body in tf.variables.items() if "default" not in body}
    example = {
        key
        for key in _parse_hcl(project.path / "terraform" / "terraform.tfvars.example")
        if not key.startswith("__")
    }
    assert required <= set(example), required - set(example)
    assert set(example) <= set(tf.variables)

    assert tf.outputs, "no outputs"


def _parse_hcl(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        parsed: dict[str, Any] = hcl2.load(handle)
    return parsed


@pytest.mark.parametrize("name", ["ml_inference"])
def test_gpu_service_uses_a_gpu_instance_and_ami(projects: dict[str, Project], name: str) -> None:
    tf = projects[name].tf
    assert tf.default("instance_type") in {"g4dn.xlarge", "g5.xlarge"}
    assert "nvidia" in tf.default("ami_ssm_parameter")
    assert tf.data["aws_ssm_parameter"]["ami"]["name"] == "${var.ami_ssm_parameter}"
    assert (projects[name].path / "requirements-gpu.txt").read_text().count("torch==") == 1


# --- The rest of the project ---------------------------------------------------------


@all_variants
def test_the_projects_own_tests_pass(
    projects: dict[str, Project], name: str, background: Background
) -> None:
    proc: subprocess.CompletedProcess[str] = background.result("pytest", name)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    summary = proc.stdout.strip().splitlines()[-1]
    assert " passed" in summary
    assert "failed" not in summary
    assert "error" not in summary


@all_variants
def test_the_code_is_lint_clean(projects: dict[str, Project], name: str) -> None:
    path = projects[name].path
    proc = scanners.ruff(path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fmt = scanners.run([scanners.tool("ruff"), "format", "--check", "--no-cache", "."], cwd=path)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    assert scanners.bandit(path / "app")["results"] == []


@all_variants
def test_makefile_ci_and_pyproject(projects: dict[str, Project], name: str) -> None:
    path = projects[name].path
    makefile = (path / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z]+):", makefile, flags=re.MULTILINE))
    assert COMMON_MAKE_TARGETS | {"push", "plan", "apply"} <= targets
    workflow = yaml.safe_load((path / ".github" / "workflows" / "ci.yml").read_text())
    commands = "\n".join(
        str(step.get("run", step.get("uses", "")))
        for job in workflow["jobs"].values()
        for step in job["steps"]
    )
    for needed in [
        "pytest",
        "hadolint",
        "terraform -chdir=terraform fmt -check",
        "terraform -chdir=terraform validate",
        "terraform -chdir=terraform test",
        "checkov",
        "docker/build-push-action",
    ]:
        assert needed in commands, needed
    pyproject = tomllib.loads((path / "pyproject.toml").read_text())
    answers = yaml.safe_load((path / ".copier-answers.yml").read_text())
    assert pyproject["project"]["description"] == answers["description"]
    assert "ruff" in pyproject["tool"]
    assert "pytest" in pyproject["tool"]


MAKE = shutil.which("make")


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
@all_variants
def test_make_deploy_pushes_then_applies_after_asking(
    projects: dict[str, Project], name: str
) -> None:
    assert MAKE is not None
    proc = scanners.run([MAKE, "-n", "deploy", "TAG=1.2.3"], cwd=projects[name].path)
    assert proc.returncode == 0, proc.stderr
    commands = proc.stdout
    push, apply = commands.index("docker push"), commands.index("terraform -chdir=terraform apply")
    assert push < apply, commands
    assert "-var image_tag=1.2.3" in commands[apply:]
    assert "-auto-approve" not in commands, "terraform apply must show the plan and ask"


@all_variants
def test_readme_explains_decision_deploy_and_cost(projects: dict[str, Project], name: str) -> None:
    readme = (projects[name].path / "README.md").read_text()
    for heading in [
        "## Why containers",
        "## What was generated",
        "## Deploy",
        "## What it costs",
        "## Security",
        "## Updating",
    ]:
        assert heading in readme
    assert "make deploy" in readme
    updating = readme[readme.index("## Updating") :]
    for needed in ["scaffold update", "copier update", ".github/workflows/template-update.yml"]:
        assert needed in updating, needed
    assert (projects[name].path / ".github" / "workflows" / "template-update.yml").is_file()
    assert "checklist recommended" in readme
    assert re.search(r"\*\*\$[\d,]+\.\d\d a month\*\*", readme)


@pytest.mark.parametrize("compute", ["container", "fargate"])
def test_readme_without_a_decision_record(template: Path, tmp_path: Path, compute: str) -> None:
    data = {**answers_for(workload="http_api", compute=compute), "decision_record": {}}
    run_copy(str(template), tmp_path, data=data, defaults=True, quiet=True)
    readme = (tmp_path / "README.md").read_text()
    assert "No recommendation was recorded" in readme
    assert "scaffold cost" in readme
    assert "Undefined" not in readme
    assert "None" not in readme


# --- Free text --------------------------------------------------------------------------


@pytest.mark.parametrize("compute", ["container", "fargate"])
def test_hostile_description_survives_every_file(hostile: dict[str, Path], compute: str) -> None:
    project = hostile[compute]
    tf = load_terraform(project / "terraform")
    assert tf.default("service_description") == HOSTILE
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["description"] == HOSTILE
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["description"] == HOSTILE
    config = ast.parse((project / "app" / "config.py").read_text(encoding="utf-8"))
    literals = [
        ast.literal_eval(node.value)
        for node in config.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "DESCRIPTION"
    ]
    assert literals == [HOSTILE]
    for path in project.rglob("*"):
        if path.suffix in {".yml", ".yaml"}:
            yaml.safe_load(path.read_text(encoding="utf-8"))
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".toml":
            tomllib.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".py":
            ast.parse(path.read_text(encoding="utf-8"))
    readme = (project / "README.md").read_text(encoding="utf-8")
    description = paragraphs(readme)[1]  # after the title: shown as written, as plain text
    assert (description.markup, description.text) == (frozenset(), shown_as_text(HOSTILE))


# --- terraform fmt (the only test that may skip: it needs the terraform binary) -----------


TERRAFORM = shutil.which("terraform")


@pytest.mark.skipif(
    TERRAFORM is None, reason="terraform is not installed (CI of the project runs fmt)"
)
def test_terraform_fmt_accepts_the_rendered_files(
    projects: dict[str, Project], hostile: dict[str, Path]
) -> None:
    assert TERRAFORM is not None
    unformatted = {}
    for path in [*(p.path for p in projects.values()), *hostile.values()]:
        proc = subprocess.run(
            [
                TERRAFORM,
                "fmt",
                "-check",
                "-diff",
                "-recursive",
                "-no-color",
                str(path / "terraform"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            unformatted[path.name] = proc.stdout + proc.stderr
    assert unformatted == {}
