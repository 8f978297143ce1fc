"""The container projects deployed as a user would: real provider, its own tests, moto.

Tiers, each over every container variant (the EC2 Auto Scaling project of each
workload, named by the workload, and the ECS on Fargate project of each, ``fargate-``
and the workload):

1. ``terraform init -backend=false`` and ``terraform validate`` with the real AWS
   provider from an offline mirror (support/terraform.py);
2. the project's own ``terraform test`` files (mocked provider, ``command = plan``);
3. ``terraform apply`` against moto's AWS API on loopback, then a documented day-2
   change, then the project's own teardown (``make destroy``), each within a time
   limit; the IAM policies of the applied state go through the IAM linter;
4. tests named for each *kind* of deploy-time fault (regions, names, defaults,
   order, day-2 changes, teardown, account quotas, service roles and keys, tags).

Without terraform or the mirrored provider (or moto) these tiers skip with a
one-line reason; with ``CI=true`` they fail instead.

The harness changes only its own copy of a project, and only with the override
files and server settings listed in ``EMULATOR_GAPS`` (plus a local state backend:
the project's S3 backend is per account).
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest
import yaml
from support import emulator
from support.container_tools import blocks, load_terraform
from support.emulator import MotoServer, prerequisites
from support.iam_lint import terraform_state_findings
from support.render import REPO, answers_for, plain_template, render
from support.terraform import (
    TerraformTool,
    aws_provider_constraint,
    ci,
    constraint_accepts,
    find_terraform,
    output,
)

from infra_scaffold.contract import bundled_template, load_contract
from infra_scaffold.errors import ScaffoldError

pytestmark = pytest.mark.slow

#: Every container workload, and whether it sits behind a load balancer.
BEHIND_A_LOAD_BALANCER: Final = {
    "http_api": True,
    "webhook": True,
    "websocket": True,
    "ml_inference": True,
    "worker": False,
    "sqs_consumer": False,
    "s3_events": False,
    "dynamodb_stream": False,
    "scheduled_job": False,
}
#: Every variant: its workload and compute. The EC2 projects keep the workload's name;
#: Fargate has every workload but GPU inference (the project is built for GPU instances).
VARIANT_OF: Final = {
    **{workload: (workload, "container") for workload in BEHIND_A_LOAD_BALANCER},
    **{
        f"fargate-{workload}": (workload, "fargate")
        for workload in BEHIND_A_LOAD_BALANCER
        if workload != "ml_inference"
    },
}
VARIANTS: Final = list(VARIANT_OF)
EC2_VARIANTS: Final = [name for name in VARIANTS if VARIANT_OF[name][1] == "container"]
FARGATE_VARIANTS: Final = [name for name in VARIANTS if VARIANT_OF[name][1] == "fargate"]
SERVICES: Final = [name for name in VARIANTS if BEHIND_A_LOAD_BALANCER[VARIANT_OF[name][0]]]


def behind_a_load_balancer(name: str) -> bool:
    return BEHIND_A_LOAD_BALANCER[VARIANT_OF[name][0]]


def on_fargate(name: str) -> bool:
    return VARIANT_OF[name][1] == "fargate"


#: The newest AWS provider major the generated CI installs (`terraform init` online).
NEWEST_MAJOR_IN_CI: Final = "6.99.0"

#: Time limits, in seconds, for each step against moto (a 42-resource project applies
#: in about two minutes here, most of it the provider polling).
APPLY_LIMIT: Final = 600
CHANGE_LIMIT: Final = 480
TEARDOWN_LIMIT: Final = 480
#: Variants applied at once: the provider mostly waits, so more than the 2 cores.
PARALLEL_APPLIES: Final = 4

#: Every gap between moto and AWS the harness works around, how, and why. Nothing
#: here touches the generated project: only the harness's copy gets override files.
EMULATOR_GAPS: Final = {
    "sqs-redrive-allow-policy": (
        'support/emulator_server.py returns a queue\'s RedriveAllowPolicy (none once set to "")',
        "moto stores it but never returns it; the provider waits for it forever",
    ),
    "latest-amis-in-every-region": (
        "support/emulator_server.py gives a region without moto's Amazon Linux parameters"
        " and AMIs the us-east-1 set",
        "moto ships them for 30 regions; AWS publishes them in every region",
    ),
    "elbv2-deregistration-delay-3600": (
        "support/emulator_server.py accepts a target group deregistration delay of 3,600 s",
        "moto refuses 3,600 (it checks range(0, 3600)); AWS allows 0 to 3,600",
    ),
    "s3-deny-conditions": (
        "support/emulator_server.py: a Deny limited to plain HTTP (aws:SecureTransport"
        " false) denies nothing, as for the provider's TLS requests to AWS",
        "moto denies every object operation on a bucket whose policy denies plain HTTP",
    ),
    "iam-managed-policies": (
        "server setting MOTO_IAM_LOAD_MANAGED_POLICIES=true",
        "moto knows AWS managed policies (AmazonSSMManagedInstanceCore) only with it",
    ),
    "asg-instance-refresh": (
        "override: the Auto Scaling group also ignores changes to its launch_template",
        "moto has no instance refresh; an apply that changes the launch template hangs."
        " The launch template itself still changes, and the test checks it did",
    ),
    "s3-path-style": (
        "override: provider s3_use_path_style = true",
        "bucket-name host names (bucket.127.0.0.1) do not resolve to the loopback server",
    ),
    "dlami-parameter": (
        "variable ami_ssm_parameter = the Amazon Linux 2023 x86_64 parameter (GPU variant)",
        "moto does not publish the Deep Learning AMI's public SSM parameter",
    ),
    "alb-deletion-protection": (
        "support/emulator_server.py refuses to delete a protected load balancer, as AWS does",
        "moto deletes a load balancer whose deletion protection is on",
    ),
    "replan-not-empty": (
        "none: no test asserts an empty plan after apply",
        "moto answers some attributes differently from what was sent",
    ),
    "ca-bundle": (
        "AWS_CA_BUNDLE unset for the server and for terraform",
        "a machine-wide CA bundle is meant for TLS endpoints; moto runs plain HTTP",
    ),
    "appautoscaling-tags": (
        "support/emulator_server.py keeps a scalable target's tags and answers"
        " ListTagsForResource, TagResource and UntagResource",
        "moto has none of the three; the provider reads the ECS service's scalable target's"
        " tags after creating it and retries until it times out",
    ),
    "ecs-runs-no-tasks": (
        "none: the tier checks what ECS was asked to run (cluster, task definition,"
        " service, scaling), never a running task",
        "moto keeps an ECS service's desired count but starts no container, so health"
        " checks, the deployment circuit breaker, task scale-in protection, ECS Exec and"
        " Container Insights metrics are not exercised against it",
    ),
}
#: The state stays local in the harness (the project's S3 backend is per account).
LOCAL_BACKEND: Final = 'terraform {\n  backend "local" {}\n}\n'
#: moto's copy of this AMI parameter stands in for the GPU AMI's (see dlami-parameter).
MOTO_X86_AMI_PARAMETER: Final = (
    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
)


def _require(reason: str | None) -> None:
    """Skip with ``reason``, or fail with it in CI, where every tier must run."""
    if reason is None:
        return
    if ci():
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def tool() -> TerraformTool:
    found = find_terraform()
    _require(found if isinstance(found, str) else None)
    assert isinstance(found, TerraformTool)
    return found


@pytest.fixture(scope="module")
def moto_ready(tool: TerraformTool) -> None:
    _require(emulator.moto_available())


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plain_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="module")
def projects(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {
        name: render(
            template,
            tmp_path_factory.mktemp(name),
            workload=VARIANT_OF[name][0],
            compute=VARIANT_OF[name][1],
        )
        for name in VARIANTS
    }


# --- Preparing the harness's copy of a project -----------------------------------------


def harness_copy(project: Path, dest: Path) -> Path:
    """A copy of ``project`` the harness may add override files to (its terraform/)."""
    shutil.copytree(project, dest, ignore=shutil.ignore_patterns(".terraform*", ".git"))
    return dest


#: python-hcl2's parser is not thread-safe: the parallel variants take turns.
_HCL_LOCK: Final = threading.Lock()


def _asg_ignore_changes(folder: Path) -> list[str]:
    with _HCL_LOCK:
        tf = load_terraform(folder)
    lifecycle = blocks(tf.resource("aws_autoscaling_group", "this"), "lifecycle")
    written = lifecycle[0].get("ignore_changes", []) if lifecycle else []
    return [str(item).strip("${}") for item in written]


def moto_overrides(folder: Path) -> None:
    """The emulator-gap override files (EMULATOR_GAPS) and the local state backend."""
    text = LOCAL_BACKEND + '\nprovider "aws" {\n  s3_use_path_style = true\n}\n'
    if (folder / "asg.tf").is_file():  # the EC2 project (Fargate runs no instances)
        ignored = sorted({*_asg_ignore_changes(folder), "launch_template"})
        text += (
            '\nresource "aws_autoscaling_group" "this" {\n  lifecycle {\n'
            f"    ignore_changes = [{', '.join(ignored)}]\n  }}\n}}\n"
        )
    (folder / "zz_harness_moto_override.tf").write_text(text, encoding="utf-8")


def write_tfvars(folder: Path, values: dict[str, Any]) -> None:
    (folder / "zz_harness.auto.tfvars.json").write_text(json.dumps(values), encoding="utf-8")


# --- Tier 1: the real provider validates every variant ---------------------------------


@dataclass
class Validation:
    init_error: str | None = None
    report: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def validations(
    tool: TerraformTool, projects: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Validation]:
    def validate(name: str) -> Validation:
        copy = harness_copy(projects[name], tmp_path_factory.mktemp("validate") / name)
        try:
            tool.init(copy / "terraform")
        except RuntimeError as error:
            return Validation(init_error=str(error))
        return Validation(report=tool.validate(copy / "terraform"))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(VARIANTS, pool.map(validate, VARIANTS), strict=True))


@pytest.mark.parametrize("name", VARIANTS)
def test_the_real_provider_validates_every_variant(
    validations: dict[str, Validation], name: str
) -> None:
    result = validations[name]
    assert result.init_error is None, result.init_error
    assert result.report.get("valid") is True, json.dumps(result.report["diagnostics"], indent=1)
    assert result.report["warning_count"] == 0, result.report["diagnostics"]


def test_versions_accept_the_providers_the_project_is_validated_with(
    tool: TerraformTool, projects: dict[str, Path]
) -> None:
    """versions.tf must accept the mirrored provider (validated here) and the newest
    6.x (the generated CI's online init), and say so."""
    folder = projects["http_api"] / "terraform"
    constraint = aws_provider_constraint(folder)
    for version in (tool.provider_version, NEWEST_MAJOR_IN_CI):
        assert constraint_accepts(constraint, version), f"{constraint!r} refuses {version}"
    text = (folder / "versions.tf").read_text(encoding="utf-8")
    assert tool.provider_version.rsplit(".", 1)[0] in text, "versions.tf does not say so"


# --- Tier 2: the project's own terraform test files -------------------------------------


@pytest.fixture(scope="module")
def own_tests(
    tool: TerraformTool, projects: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    def run(name: str) -> Any:
        copy = harness_copy(projects[name], tmp_path_factory.mktemp("tftest") / name)
        folder = copy / "terraform"
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.tftest.hcl"))
        if not files:
            return files, None
        tool.init(folder)
        return files, tool.test(folder)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(VARIANTS, pool.map(run, VARIANTS), strict=True))


@pytest.mark.parametrize("name", VARIANTS)
def test_the_projects_own_terraform_tests_pass(own_tests: dict[str, Any], name: str) -> None:
    files, report = own_tests[name]
    assert files, "the project ships no terraform test files (terraform/tests/*.tftest.hcl)"
    assert report.returncode == 0, report.raw
    assert report.summary.get("status") == "pass", report.raw
    assert report.summary.get("passed", 0) >= len(files), report.summary
    assert report.failures == [], report.failures


@pytest.mark.parametrize("name", ["http_api", "worker"])
def test_make_test_runs_the_terraform_tests_offline(
    tool: TerraformTool, projects: dict[str, Path], tmp_path: Path, name: str
) -> None:
    """A rendered project's ``make test`` runs its own terraform tests, offline."""
    copy = harness_copy(projects[name], tmp_path / name)
    proc = subprocess.run(
        ["make", "test", f"PYTHON={sys.executable}"],
        cwd=copy,
        env=tool.env({"PYTHONDONTWRITEBYTECODE": "1", "AWS_DEFAULT_REGION": "us-east-1"}),
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    out = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)  # terraform's colours
    assert proc.returncode == 0, out[-6000:]
    assert re.search(r"Success! \d+ passed, 0 failed", out), "make test ran no terraform test"


# --- Tier 3: apply, change, tear down against moto --------------------------------------


@dataclass
class Step:
    """One command of the moto tier: its exit code, output and duration (seconds)."""

    returncode: int
    output: str
    seconds: float


@dataclass
class Deployment:
    """Everything the moto tier found for one variant."""

    name: str
    folder: Path
    steps: dict[str, Step] = field(default_factory=dict)
    state_after_apply: dict[str, Any] = field(default_factory=dict)
    state_after_change: dict[str, Any] = field(default_factory=dict)
    inventory_after_apply: dict[str, Any] = field(default_factory=dict)
    inventory_after_teardown: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def step(self, kind: str) -> Step:
        assert self.error is None, self.error
        assert kind in self.steps, f"{kind} did not run (steps: {sorted(self.steps)})"
        return self.steps[kind]


def day_two_change(name: str) -> dict[str, Any]:
    """The change the README invites after the first deploy: port, unit size, counts."""
    if on_fargate(name):
        change: dict[str, Any] = {
            "task_cpu": 1024, "task_memory": 3072, "min_tasks": 3, "max_tasks": 12,
        }  # fmt: skip
    else:
        change = {
            "instance_type": "g5.xlarge" if name == "ml_inference" else "t4g.medium",
            "root_volume_size_gb": 160 if name == "ml_inference" else 40,
            "min_size": 3,
            "max_size": 12,
        }
    if behind_a_load_balancer(name):
        change["container_port"] = 8081
    return change


def first_tfvars(name: str, account: emulator.Account) -> dict[str, Any]:
    values = account.tfvars(service=behind_a_load_balancer(name))
    values["image_tag"] = "0.1.0"
    if name == "ml_inference":
        values["ami_ssm_parameter"] = MOTO_X86_AMI_PARAMETER
    return values


def _timed(run: Callable[[], subprocess.CompletedProcess[str]]) -> Step:
    start = time.monotonic()
    proc = run()
    return Step(proc.returncode, output(proc, 12000), time.monotonic() - start)


def inventory(server: MotoServer) -> dict[str, Any]:
    """What exists in the emulated account that a project could have created."""
    s3 = emulator.client(server, "s3")
    return {
        "buckets": sorted(b["Name"] for b in s3.list_buckets().get("Buckets", [])),
        "load_balancers": [
            {"name": lb["LoadBalancerName"], "arn": lb["LoadBalancerArn"]}
            for lb in emulator.client(server, "elbv2")
            .describe_load_balancers()
            .get("LoadBalancers", [])
        ],
        "tables": emulator.client(server, "dynamodb").list_tables()["TableNames"],
        "queues": emulator.client(server, "sqs").list_queues().get("QueueUrls", []),
        "groups": [
            g["AutoScalingGroupName"]
            for g in emulator.client(server, "autoscaling")
            .describe_auto_scaling_groups()
            .get("AutoScalingGroups", [])
        ],
        "clusters": active_clusters(emulator.client(server, "ecs")),
        "scalable_targets": [
            t["ResourceId"]
            for t in emulator.client(server, "application-autoscaling")
            .describe_scalable_targets(ServiceNamespace="ecs")
            .get("ScalableTargets", [])
        ],
        "instances": [
            {"id": i["InstanceId"], "tags": {t["Key"]: t["Value"] for t in i.get("Tags", [])}}
            for r in emulator.client(server, "ec2")
            .describe_instances(
                Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}]
            )
            .get("Reservations", [])
            for i in r["Instances"]
        ],
        "volumes": [
            {"id": v["VolumeId"], "tags": {t["Key"]: t["Value"] for t in v.get("Tags", [])}}
            for v in emulator.client(server, "ec2").describe_volumes().get("Volumes", [])
        ],
    }


def active_clusters(ecs: Any) -> list[str]:
    """The ECS clusters that exist: a deleted one stays listed as INACTIVE for a while (on
    AWS as in moto), so only ACTIVE ones count."""
    arns = ecs.list_clusters().get("clusterArns", [])
    described = ecs.describe_clusters(clusters=arns)["clusters"] if arns else []
    return [c["clusterArn"] for c in described if c["status"] == "ACTIVE"]


def deliver_logs(server: MotoServer, buckets: list[str]) -> None:
    """Put an object in every log bucket, as the services would once the project runs."""
    s3 = emulator.client(server, "s3")
    for bucket in buckets:
        if "log" in bucket:
            s3.put_object(Bucket=bucket, Key="AWSLogs/delivered.log.gz", Body=b"log line\n")


def teardown(folder: Path, tool: TerraformTool, env: dict[str, str]) -> Step:
    """The project's own teardown: ``make destroy``, answering its questions with yes."""
    project = folder.parent
    makefile = (project / "Makefile").read_text(encoding="utf-8")
    if not re.search(r"^destroy:", makefile, re.M):
        return Step(2, "the project has no teardown: its Makefile has no destroy target", 0.0)
    run_env = tool.env({**env, "TF_INPUT": "1"})
    start = time.monotonic()
    try:
        proc = subprocess.run(
            ["make", "-C", str(project), "destroy"],
            input="yes\n" * 20,
            capture_output=True,
            text=True,
            env=run_env,
            timeout=TEARDOWN_LIMIT,
            check=False,
        )
        return Step(proc.returncode, output(proc, 12000), time.monotonic() - start)
    except subprocess.TimeoutExpired as expired:
        return Step(124, str(expired.output)[-4000:], time.monotonic() - start)


def deploy(name: str, project: Path, work: Path, tool: TerraformTool) -> Deployment:
    """Apply, change and tear down one variant in its own moto account."""
    copy = harness_copy(project, work / name)
    folder = copy / "terraform"
    moto_overrides(folder)
    result = Deployment(name, folder)
    try:
        with MotoServer(work / f"{name}-moto.log") as server:
            env = server.env()
            account = prerequisites(server)
            values = first_tfvars(name, account)
            write_tfvars(folder, values)
            init = ["init", "-input=false", "-no-color"]
            result.steps["init"] = _timed(lambda: tool.run(init, folder, env=env))
            if result.steps["init"].returncode:
                return result
            apply = ["apply", "-auto-approve", "-input=false", "-no-color"]
            result.steps["apply"] = _timed(
                lambda: tool.run(apply, folder, env=env, timeout=APPLY_LIMIT)
            )
            result.state_after_apply = tool.show_json(folder)
            result.inventory_after_apply = inventory(server)
            if result.steps["apply"].returncode == 0:
                write_tfvars(folder, {**values, **day_two_change(name)})
                result.steps["change"] = _timed(
                    lambda: tool.run(apply, folder, env=env, timeout=CHANGE_LIMIT)
                )
                result.state_after_change = tool.show_json(folder)
            deliver_logs(server, inventory(server)["buckets"])
            result.steps["teardown"] = teardown(folder, tool, env)
            result.inventory_after_teardown = inventory(server)
    except Exception as error:  # reported by every test of this variant
        result.error = f"{type(error).__name__}: {error}"
    return result


@dataclass
class MotoTier:
    """Everything run against moto, started at once and awaited by each test."""

    variants: dict[str, Future[Deployment]]
    crowded: Future[Step]
    """http_api applied into an account that already holds 10 logs resource policies."""
    regions: Future[dict[str, Step]]
    """http_api planned in every region of the product."""


def _selected_variants(session: pytest.Session) -> list[str]:
    """The variants the selected moto-tier tests deploy (all of them in a full run; with
    ``-k fargate``, only those), so a partial run does not wait for the rest."""
    wanted = {
        item.callspec.params.get("name")
        for item in session.items
        if hasattr(item, "callspec") and "moto_tier" in getattr(item, "fixturenames", ())
    }
    return [name for name in VARIANTS if name in wanted]


def _selected(session: pytest.Session, prefix: str) -> bool:
    """Whether a selected test's name starts with ``prefix`` (else its run is skipped)."""
    return any(item.name.startswith(prefix) for item in session.items)


@pytest.fixture(scope="module")
def moto_tier(
    request: pytest.FixtureRequest,
    tool: TerraformTool,
    moto_ready: None,
    projects: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[MotoTier]:
    work = tmp_path_factory.mktemp("moto")
    with ThreadPoolExecutor(max_workers=PARALLEL_APPLIES) as pool:
        yield MotoTier(
            variants={
                name: pool.submit(deploy, name, projects[name], work, tool)
                for name in _selected_variants(request.session)
            },
            crowded=pool.submit(crowded_apply, projects["http_api"], work / "crowded", tool)
            if _selected(request.session, "test_account_quotas")
            else Future(),
            regions=pool.submit(plan_every_region, projects["http_api"], work / "regions", tool)
            if _selected(request.session, "test_regions_")
            else Future(),
        )


def _deployment(moto_tier: MotoTier, name: str) -> Deployment:
    return moto_tier.variants[name].result()


def _ok(step: Step, limit: float) -> None:
    errors = "\n".join(re.findall(r"Error: .*", step.output)[:5])
    assert step.returncode == 0, f"{errors}\n---\n{step.output[-3000:]}"
    assert step.seconds <= limit, f"took {step.seconds:.0f} s (limit {limit:.0f} s)"


@pytest.mark.parametrize("name", VARIANTS)
def test_apply_against_moto(moto_tier: MotoTier, name: str) -> None:
    deployment = _deployment(moto_tier, name)
    _ok(deployment.step("init"), 120)
    _ok(deployment.step("apply"), APPLY_LIMIT)
    assert deployment.state_after_apply["values"]["root_module"]["resources"]


@pytest.mark.parametrize("name", VARIANTS)
def test_day_two_change_applies(moto_tier: MotoTier, name: str) -> None:
    """The README's documented change (port, instance type or task size, counts) applies
    in place or replaces resources without a name clash."""
    deployment = _deployment(moto_tier, name)
    _ok(deployment.step("change"), CHANGE_LIMIT)
    change = day_two_change(name)
    resources = _resources(deployment.state_after_change)
    if on_fargate(name):
        (task,) = [r for r in resources if r["type"] == "aws_ecs_task_definition"]
        assert (int(task["values"]["cpu"]), int(task["values"]["memory"])) == (
            change["task_cpu"],
            change["task_memory"],
        )
        (target,) = [r for r in resources if r["type"] == "aws_appautoscaling_target"]
        assert (target["values"]["min_capacity"], target["values"]["max_capacity"]) == (
            change["min_tasks"],
            change["max_tasks"],
        )
    else:
        (template,) = [r for r in resources if r["type"] == "aws_launch_template"]
        assert template["values"]["instance_type"] == change["instance_type"]
        (group,) = [r for r in resources if r["type"] == "aws_autoscaling_group"]
        assert (group["values"]["min_size"], group["values"]["max_size"]) == (
            change["min_size"],
            change["max_size"],
        )
    if "container_port" in change:
        ports = {r["values"]["port"] for r in resources if r["type"] == "aws_lb_target_group"}
        assert ports == {change["container_port"]}


@pytest.mark.parametrize("name", VARIANTS)
def test_teardown_removes_everything(moto_tier: MotoTier, name: str) -> None:
    """The project's own teardown asks, lifts the deliberate protections (deletion
    protection, non-empty log buckets) and removes every resource."""
    deployment = _deployment(moto_tier, name)
    _ok(deployment.step("teardown"), TEARDOWN_LIMIT)
    left = deployment.inventory_after_teardown
    kinds = ("buckets", "load_balancers", "tables", "queues", "groups", "clusters")
    for kind in (*kinds, "scalable_targets"):
        assert left[kind] == [], f"{kind} left behind: {left[kind]}"


def _resources(state: dict[str, Any]) -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = (
        state.get("values", {}).get("root_module", {}).get("resources", [])
    )
    return resources


@pytest.mark.parametrize("name", VARIANTS)
def test_iam_policies_name_known_actions_on_supported_resources(
    moto_tier: MotoTier, name: str
) -> None:
    """Every policy of the applied state (identity, trust, key, bucket, queue, logs
    resource policies), through the IAM linter's offline catalogue."""
    deployment = _deployment(moto_tier, name)
    seen, findings = terraform_state_findings(deployment.state_after_apply)
    assert seen >= 3, f"only {seen} policies in the state: did the apply run?"
    assert findings == []


# --- Tier 4: one test per kind of deploy-time fault (container Terraform) -----------------


def test_order_services_that_check_a_policy_at_create_time_wait_for_it(
    moto_tier: MotoTier,
) -> None:
    """S3 server access logging checks the target bucket's policy when it is set: the
    input bucket's logging must be created after the log bucket's policy."""
    deployment = _deployment(moto_tier, "s3_events")
    _ok(deployment.step("apply"), APPLY_LIMIT)
    logged = [
        r for r in _resources(deployment.state_after_apply) if r["type"] == "aws_s3_bucket_logging"
    ]
    assert logged, "aws_s3_bucket_logging was not created"


def test_day_two_a_new_container_port_replaces_the_target_group_without_a_clash(
    moto_tier: MotoTier,
) -> None:
    deployment = _deployment(moto_tier, "http_api")
    step = deployment.step("change")
    assert "ResourceInUse" not in step.output, step.output
    _ok(step, CHANGE_LIMIT)


@pytest.mark.parametrize("name", SERVICES)
def test_teardown_lifts_the_load_balancers_deletion_protection(
    moto_tier: MotoTier, name: str
) -> None:
    """The emulator refuses to delete a protected load balancer, as AWS does
    (EMULATOR_GAPS): the project's own teardown must lift the protection first."""
    deployment = _deployment(moto_tier, name)
    _ok(deployment.step("teardown"), TEARDOWN_LIMIT)
    assert deployment.inventory_after_teardown["load_balancers"] == []


@pytest.mark.parametrize("name", EC2_VARIANTS)
def test_tags_reach_instances_and_volumes(moto_tier: MotoTier, name: str) -> None:
    """The provider's default_tags skip Auto Scaling groups' instances and volumes: the
    group (propagate at launch) or the launch template must carry them."""
    deployment = _deployment(moto_tier, name)
    _ok(deployment.step("apply"), APPLY_LIMIT)
    wanted = {"Project", "Environment", "ManagedBy", "Template"}
    resources = _resources(deployment.state_after_apply)
    (group,) = [r for r in resources if r["type"] == "aws_autoscaling_group"]
    propagated = {t["key"] for t in group["values"].get("tag") or [] if t["propagate_at_launch"]}
    (template,) = [r for r in resources if r["type"] == "aws_launch_template"]
    specs = template["values"].get("tag_specifications") or []
    tagged = {s["resource_type"]: set((s.get("tags") or {}).keys()) for s in specs}
    instance_tags = propagated | tagged.get("instance", set())
    assert wanted <= instance_tags, f"instances miss {sorted(wanted - instance_tags)}"
    assert wanted <= tagged.get("volume", set()), (
        f"volumes miss {sorted(wanted - tagged.get('volume', set()))}"
    )


@pytest.mark.parametrize("name", FARGATE_VARIANTS)
def test_tags_reach_the_ecs_service_and_its_tasks(moto_tier: MotoTier, name: str) -> None:
    """default_tags reach the ECS service and task definition; the tasks ECS starts get
    only what the service propagates to them."""
    deployment = _deployment(moto_tier, name)
    _ok(deployment.step("apply"), APPLY_LIMIT)
    wanted = {"Project", "Environment", "ManagedBy", "Template"}
    resources = _resources(deployment.state_after_apply)
    (service,) = [r for r in resources if r["type"] == "aws_ecs_service"]
    assert service["values"]["propagate_tags"] == "SERVICE"
    for kind in ("aws_ecs_service", "aws_ecs_task_definition", "aws_ecs_cluster",
                 "aws_appautoscaling_target"):  # fmt: skip
        (resource,) = [r for r in resources if r["type"] == kind]
        assert wanted <= set(resource["values"]["tags_all"]), kind


@pytest.mark.parametrize("name", FARGATE_VARIANTS)
def test_service_roles_and_keys_the_task_roles_are_ecs_s_and_least_privilege(
    moto_tier: MotoTier, name: str
) -> None:
    """Two roles only ECS tasks of this account may assume; the container runs with the
    task role, which gets ECS Exec's channels only when it is turned on."""
    deployment = _deployment(moto_tier, name)
    _ok(deployment.step("apply"), APPLY_LIMIT)
    resources = _resources(deployment.state_after_apply)
    roles = {r["name"]: r["values"] for r in resources if r["type"] == "aws_iam_role"}
    (task_definition,) = [r for r in resources if r["type"] == "aws_ecs_task_definition"]
    assert task_definition["values"]["execution_role_arn"] == roles["execution"]["arn"]
    assert task_definition["values"]["task_role_arn"] == roles["task"]["arn"]
    for role in (roles["execution"], roles["task"]):
        (statement,) = json.loads(role["assume_role_policy"])["Statement"]
        assert statement["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
        assert "aws:SourceAccount" in json.dumps(statement["Condition"])
    policies = [r for r in resources if r["type"] == "aws_iam_role_policy"]
    assert not [r for r in policies if r["name"] == "exec"], "ECS Exec is off by default"
    workload = VARIANT_OF[name][0]
    if not behind_a_load_balancer(name):
        (task_policy,) = [r for r in policies if r["name"] == "task"]
        actions = {
            action
            for statement in json.loads(task_policy["values"]["policy"])["Statement"]
            for action in statement["Action"]
        }
        assert {"ecs:UpdateTaskProtection", "sqs:ReceiveMessage"} <= actions
    elif workload != "webhook":
        assert not [r for r in policies if r["name"] == "task"], "the app needs no AWS access"


@pytest.mark.parametrize("name", ["dynamodb_stream"])
def test_service_roles_and_keys_the_pipe_role_may_use_the_key(
    moto_tier: MotoTier, name: str
) -> None:
    """EventBridge Pipes with a customer managed key: its role needs kms:DescribeKey,
    kms:GenerateDataKey and kms:Decrypt on that key (Pipes' encryption docs)."""
    deployment = _deployment(moto_tier, name)
    _ok(deployment.step("apply"), APPLY_LIMIT)
    resources = _resources(deployment.state_after_apply)
    (pipe,) = [r for r in resources if r["type"] == "aws_pipes_pipe"]
    key = pipe["values"]["kms_key_identifier"]
    role_arn = pipe["values"]["role_arn"]
    granted: set[str] = set()
    for resource in resources:
        if resource["type"] != "aws_iam_role_policy":
            continue
        role = resource["values"]["role"]
        if not role_arn.endswith(f"/{role}"):
            continue
        for statement in json.loads(resource["values"]["policy"])["Statement"]:
            targets = statement["Resource"]
            targets = targets if isinstance(targets, list) else [targets]
            if statement["Effect"] == "Allow" and any(key in t or t == "*" for t in targets):
                actions = statement["Action"]
                granted |= set(actions if isinstance(actions, list) else [actions])
    needed = {"kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"}
    assert needed <= granted, f"the pipe's role lacks {sorted(needed - granted)}"


def test_account_quotas_no_project_adds_an_account_wide_logs_resource_policy(
    projects: dict[str, Path],
) -> None:
    """An account holds 10 CloudWatch Logs resource policies per region (shared with
    Route 53, OpenSearch, EventBridge and vended logs): a project must not spend one."""
    for name, project in projects.items():
        tf = load_terraform(project / "terraform")
        assert tf.of_type("aws_cloudwatch_log_resource_policy") == {}, name


def crowded_apply(project: Path, work: Path, tool: TerraformTool) -> Step:
    """Apply ``project`` into an account that already holds 10 logs resource policies."""
    work.mkdir()
    folder = harness_copy(project, work / "project") / "terraform"
    moto_overrides(folder)
    with MotoServer(work / "moto.log") as server:
        logs = emulator.client(server, "logs")
        for index in range(10):
            logs.put_resource_policy(
                policyName=f"other-{index}",
                policyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "delivery.logs.amazonaws.com"},
                                "Action": "logs:PutLogEvents",
                                "Resource": "*",
                            }
                        ],
                    }
                ),
            )
        write_tfvars(folder, first_tfvars("http_api", prerequisites(server)))
        env = server.env()
        init = _timed(lambda: tool.run(["init", "-input=false", "-no-color"], folder, env=env))
        if init.returncode:
            return init
        apply = ["apply", "-auto-approve", "-input=false", "-no-color"]
        # The provider retries LimitExceeded until the time limit.
        return _timed(lambda: tool.run(apply, folder, env=env, timeout=APPLY_LIMIT))


def test_account_quotas_a_project_applies_in_an_account_with_10_logs_resource_policies(
    moto_tier: MotoTier,
) -> None:
    step = moto_tier.crowded.result()
    assert "LimitExceeded" not in step.output, step.output
    _ok(step, APPLY_LIMIT)


# --- Regions: every region plans ----------------------------------------------------------

#: Regions opened since 2022 (issue 15): the old per-region ELB account map lacks them.
REGIONS_OPENED_SINCE_2022: Final = (
    "eu-central-2",
    "eu-south-2",
    "ap-south-2",
    "ap-southeast-4",
    "me-central-1",
    "il-central-1",
    "ca-west-1",
    "mx-central-1",
)


def product_regions() -> list[str]:
    """The regions the product offers: copier.yml's region table where it exists, plus
    us-east-1 and the regions opened since 2022."""
    data = yaml.safe_load((bundled_template() / "copier.yml").read_text(encoding="utf-8"))
    table = (data.get("aws_regions") or {}).get("default") or {}
    codes = table.keys() if isinstance(table, dict) else [r.get("code") for r in table]
    return sorted({"us-east-1", *REGIONS_OPENED_SINCE_2022, *filter(None, codes)})


def plan_every_region(project: Path, work: Path, tool: TerraformTool) -> dict[str, Step]:
    """``terraform plan`` of a load-balanced project in every region (moto answers)."""
    work.mkdir()
    folder = harness_copy(project, work / "project") / "terraform"
    moto_overrides(folder)
    plans = {}
    with MotoServer(work / "moto.log") as server:
        first = server.env()
        init = _timed(lambda: tool.run(["init", "-input=false", "-no-color"], folder, env=first))
        if init.returncode:
            return {"init": init}

        def plan(region: str) -> Step:
            env = {**server.env(), "AWS_REGION": region, "AWS_DEFAULT_REGION": region}
            account = emulator.prerequisites(server, region)
            values = first_tfvars("http_api", account)
            values["aws_region"] = region
            var_file = work / f"{region}.tfvars.json"
            var_file.write_text(json.dumps(values), encoding="utf-8")
            args = ["plan", "-input=false", "-no-color", "-lock=false", "-refresh=false"]
            args.append(f"-var-file={var_file}")
            return _timed(lambda: tool.run(args, folder, env=env, timeout=300))

        # Only the plan's var file differs: the auto tfvars would pin us-east-1.
        with ThreadPoolExecutor(max_workers=2) as pool:
            regions = product_regions()
            plans = dict(zip(regions, pool.map(plan, regions), strict=True))
    return plans


#: Regions opened after the mirrored AWS provider (5.100) was released: it refuses
#: them before any call. Projects get the newest 6.x (versions.tf allows it; the
#: generated CI validates with it), which knows them; offline, the harness can only
#: check that this is the one reason they fail.
NEWER_THAN_THE_MIRRORED_PROVIDER: Final = ("ap-southeast-6",)


def test_regions_every_region_of_the_product_plans(moto_tier: MotoTier) -> None:
    failed = {
        region: re.findall(r"Error: .*", step.output)[:3] or [step.output[-500:]]
        for region, step in moto_tier.regions.result().items()
        if step.returncode != 0
    }
    assert failed == {
        region: [f"Error: invalid AWS Region: {region}"]
        for region in NEWER_THAN_THE_MIRRORED_PROVIDER
    }


# --- Defaults within their own rules, at the edges of every answer ----------------------

#: The answers that reach Terraform defaults, at the low end of what the CLI accepts.
LOWEST_ANSWERS: Final[dict[str, Any]] = {
    "max_duration_seconds": 1,
    "avg_duration_ms": 1,
    "ephemeral_storage_mb": 512,
}
#: The same answers, raised in this order to the highest value each variant accepts
#: (a longer job allows a longer average; each raised answer stays in the next one's
#: way, as a user's would).
RAISED_ANSWERS: Final = (
    "max_duration_seconds",
    "avg_duration_ms",
    "memory_mb",
    "ephemeral_storage_mb",
    "max_payload_kb",
    "requests_per_month",
)
#: The longest project name (every derived AWS name at its longest).
LONGEST_NAME: Final = "abcdefghij-klmnopqrstuvw"
EDGES: Final = ("lowest", "highest")


def _accepts(name: str, answers: dict[str, Any]) -> bool:
    """Whether `scaffold new` plans a container ``name`` project with ``answers``."""
    workload, compute = VARIANT_OF[name]
    try:
        answers_for(workload=workload, compute=compute, **answers)
    except ScaffoldError:
        return False
    return True


@functools.cache
def highest_answers(name: str) -> dict[str, Any]:
    """The highest answers `scaffold new` accepts for variant ``name`` (each one found by
    bisection between its answer limits, the others held where they are)."""
    limits = load_contract(REPO).table("answer_limits")
    answers: dict[str, Any] = {"project_name": LONGEST_NAME, "avg_duration_ms": 1}
    for key in RAISED_ANSWERS:
        low, high = limits[key]["min"], limits[key]["max"]
        assert _accepts(name, {**answers, key: low}), (name, key, low)
        while low < high:
            middle = (low + high + 1) // 2
            if _accepts(name, {**answers, key: middle}):
                low = middle
            else:
                high = middle - 1
        answers[key] = low
    return answers


def edge_answers(name: str, edge: str) -> dict[str, Any]:
    return dict(LOWEST_ANSWERS) if edge == "lowest" else highest_answers(name)


@pytest.mark.parametrize("name", VARIANTS)
def test_defaults_the_longest_duration_is_what_the_compute_holds_and_longer_is_refused(
    name: str,
) -> None:
    """A duration a generated project cannot hold is refused up front, with the reason,
    instead of rendering a default above its own validation (issue 15: a worker's
    `job_timeout_seconds` above 43,200). The longest accepted one plans (the edge test)."""
    facts = load_contract(REPO).table("capacity_facts")
    longest = {
        "service": facts["tg_max_deregistration_delay_seconds"],
        "inference": facts["tg_max_deregistration_delay_seconds"],
        "worker": facts["sqs_max_visibility_seconds"],
        "websocket": load_contract(REPO).table("answer_limits")["max_duration_seconds"]["max"],
    }[load_contract(REPO).table("workload_defaults")[VARIANT_OF[name][0]]["container_shape"]]
    assert highest_answers(name)["max_duration_seconds"] == longest
    with pytest.raises(ScaffoldError) as refused:
        answers_for(workload=VARIANT_OF[name][0], compute=VARIANT_OF[name][1],
                    max_duration_seconds=longest + 1,
                    avg_duration_ms=1)  # fmt: skip
    message = str(refused.value)
    assert "max_duration_seconds" in message
    assert len(message.splitlines()) == 1, message


#: A plan with every resource and data source mocked: what `terraform plan` checks
#: before any API call (variable validations, preconditions), offline.
HARNESS_PLAN_TEST: Final = """\
mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_vpc" {
    defaults = { cidr_block = "10.0.0.0/16", cidr_block_associations = [] }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\\"Version\\":\\"2012-10-17\\",\\"Statement\\":[]}" }
  }
  mock_data "aws_ssm_parameter" {
    defaults = { value = "ami-0123456789abcdef0" }
  }
  mock_data "aws_ami" {
    defaults = { architecture = "ARCH" }
  }
  mock_data "aws_ec2_instance_type" {
    defaults = { supported_architectures = ["ARCH"] }
  }
}

run "defaults_plan" {
  command = plan
}
"""


def harness_plan_test(architecture: str) -> str:
    """The mocked plan, with the AMI and instance type of ``architecture``."""
    return HARNESS_PLAN_TEST.replace("ARCH", architecture)


@pytest.fixture(scope="module")
def edge_plans(
    tool: TerraformTool, template: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], Any]:
    work = tmp_path_factory.mktemp("edges")
    types = load_contract(REPO).table("instance_types")

    def plan(case: tuple[str, str]) -> Any:
        name, edge = case
        answers = edge_answers(name, edge)
        workload, compute = VARIANT_OF[name]
        project = render(template, work / f"{name}-{edge}", workload=workload, compute=compute,
                         **answers)  # fmt: skip
        recorded = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
        folder = harness_copy(project, work / f"copy-{name}-{edge}") / "terraform"
        moto_overrides(folder)
        write_tfvars(folder, first_tfvars(name, _FAKE_ACCOUNT))
        if "instance_type" in recorded:  # EC2: the AMI must run on the chosen type
            architecture = types[recorded["instance_type"]]["architecture"]
        else:  # Fargate: no instances, no AMI (the mocks are unused)
            architecture = recorded["capacity_plan"]["instances"]["architecture"]
        test_file = folder / "zz_harness_plan.tftest.hcl"
        test_file.write_text(harness_plan_test(architecture), encoding="utf-8")
        tool.init(folder)
        return tool.test(folder, filter_files=["zz_harness_plan.tftest.hcl"])

    cases = [(name, edge) for name in VARIANTS for edge in EDGES]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(cases, pool.map(plan, cases), strict=True))


_FAKE_ACCOUNT: Final = emulator.Account(
    "vpc-0123456789abcdef0",
    ("subnet-0123456789abcdef0", "subnet-0fedcba9876543210"),
    ("subnet-0aaaaaaaaaaaaaaa0", "subnet-0bbbbbbbbbbbbbbb0"),
    "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000",
)


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("name", VARIANTS)
def test_defaults_pass_their_own_validations_for_every_allowed_answer(
    edge_plans: dict[tuple[str, str], Any], name: str, edge: str
) -> None:
    report = edge_plans[name, edge]
    assert report.summary.get("status") == "pass", report.failures or report.raw
