"""A rendered project's limits are its capacity plan's (issue 10, stage 2).

For each workload, a small, a large and a long-request profile (support.profiles)
is planned as ``scaffold new`` plans it and rendered with copier, once per compute
that can run it. The limits are read back the way the deploy tools read them:
``template.yaml``'s parameter defaults and what CloudFormation resolves them to
(Lambda); the values ``terraform`` itself gives ``variables.tf``, every validation
run on them (containers); and the app's own settings for the timeouts and the
worker processes. The README says what the plan is and why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from support.container_tools import app_value
from support.lambda_tools import load_template, parameter_accepts, resolve
from support.profiles import RENDERED
from support.render import plain_template, render
from support.terraform import TerraformTool, ci, find_terraform, variable_values

from infra_scaffold.capacity import fact
from infra_scaffold.contract import load_contract
from infra_scaffold.decision import CONTAINER_SHAPES, SYNCHRONOUS_WORKLOADS
from infra_scaffold.plan import make_plan

pytestmark = pytest.mark.slow

LAMBDA = [(w, name, given) for compute, w, name, given in RENDERED if compute == "lambda"]
CONTAINER = [(w, name, given) for compute, w, name, given in RENDERED if compute == "container"]


def _ids(cases: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    return [f"{workload}-{name}" for workload, name, _ in cases]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plain_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="module")
def terraform() -> TerraformTool:
    tool = find_terraform()
    if isinstance(tool, str):
        if ci():
            pytest.fail(tool)
        pytest.skip(tool)
    return tool


def _rendered(
    template: Path, dest: Path, compute: str, given: dict[str, Any]
) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """The project, its recorded answers and the plan ``scaffold new`` makes for them."""
    answers = {"project_name": "limits-demo", "compute": compute, **given}
    planned = make_plan(load_contract(template), answers).answers
    path = render(template, dest, **answers)
    recorded = yaml.safe_load((path / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert recorded["capacity_plan"] == planned["capacity_plan"]
    return path, recorded, planned["capacity_plan"]


@pytest.mark.parametrize(("workload", "name", "given"), LAMBDA, ids=_ids(LAMBDA))
def test_a_lambda_project_s_limits_are_its_plan(
    template: Path, tmp_path: Path, workload: str, name: str, given: dict[str, Any]
) -> None:
    path, _, plan = _rendered(template, tmp_path / "project", "lambda", given)
    limits, load = plan["lambda"], plan["load"]
    source = load_template(path / "template.yaml")
    defaults = {k: v["Default"] for k, v in source["Parameters"].items() if "Default" in v}
    resources = resolve(source["Resources"], source, defaults)
    function = resources["Function"]["Properties"]
    readme = (path / "README.md").read_text(encoding="utf-8")

    reserved = limits["reserved_concurrency"]
    assert defaults["ReservedConcurrency"] == reserved
    assert parameter_accepts(source, "ReservedConcurrency", reserved)
    if reserved == -1:  # the plan reserves none, and the README says why
        assert "ReservedConcurrentExecutions" not in function
        assert limits["unreserved_reason"]
        assert f"(`ReservedConcurrency` -1): {limits['unreserved_reason']}." in readme
    else:
        assert function["ReservedConcurrentExecutions"] == reserved >= load["peak_concurrency"]
    assert f"| `ReservedConcurrency` | {reserved} |" in readme

    if workload in SYNCHRONOUS_WORKLOADS:
        route = resources["HttpApi"]["Properties"]["DefaultRouteSettings"]
        rate, burst = limits["throttling_rate_limit"], limits["throttling_burst_limit"]
        assert route == {"ThrottlingRateLimit": rate, "ThrottlingBurstLimit": burst}
        assert rate >= min(load["peak_requests_per_second"], fact("apigw.http.account_rate"))
        assert f"| `ThrottlingRateLimit` | {rate} |" in readme
    else:
        assert "ThrottlingRateLimit" not in source["Parameters"]

    if workload == "sqs_consumer":
        poller = function["Events"]["Messages"]["Properties"]["ScalingConfig"]
        assert poller["MaximumConcurrency"] == limits["sqs_maximum_concurrency"]
        unreserved = resolve(source["Resources"], source, {**defaults, "ReservedConcurrency": -1})
        poller = unreserved["Function"]["Properties"]["Events"]["Messages"]["Properties"]
        expected = limits["sqs_maximum_concurrency_unreserved"]
        assert poller["ScalingConfig"]["MaximumConcurrency"] == expected

    if workload == "scheduled_job":
        schedule = resources["Schedule"]["Properties"]["ScheduleExpression"]
        assert schedule == defaults["ScheduleExpression"] == plan["schedule_expression"]
        assert f"`{schedule}`" in readme


def _variables(shape: str, workload: str) -> list[str]:
    names = ["instance_type", "ami_ssm_parameter", "min_size", "max_size", "stop_timeout_seconds"]
    if shape == "worker":
        names += ["worker_processes", "job_timeout_seconds"]
    else:
        names += ["idle_timeout_seconds", "deregistration_delay_seconds",
                  "graceful_shutdown_seconds"]  # fmt: skip
    if workload == "scheduled_job":
        names.append("schedule_expression")
    return names


@pytest.mark.parametrize(("workload", "name", "given"), CONTAINER, ids=_ids(CONTAINER))
def test_a_container_project_s_limits_are_its_plan(
    template: Path,
    terraform: TerraformTool,
    tmp_path: Path,
    workload: str,
    name: str,
    given: dict[str, Any],
) -> None:
    path, answers, plan = _rendered(template, tmp_path / "project", "container", given)
    shape = CONTAINER_SHAPES[workload]
    fleet, times, load = plan["instances"], plan["timeouts"], plan["load"]
    names = _variables(shape, workload)
    values = variable_values(terraform, path / "terraform", names, tmp_path / "variables")
    settings = app_value(path, "vars(c.Settings.from_env({}))")
    longest = answers["max_duration_seconds"]

    assert values["instance_type"] == fleet["instance_type"] == answers["instance_type"]
    if shape != "inference":
        assert values["ami_ssm_parameter"].endswith(f"-{fleet['architecture']}")
    assert values["min_size"] == fleet["min_size"] == fact("capacity.ha_minimum")
    assert values["max_size"] == fleet["max_size"] >= fleet["count"] >= values["min_size"]
    assert fleet["count"] * fleet["concurrency_each"] >= load["peak_concurrency"] * 0.999
    stop = values["stop_timeout_seconds"]
    assert stop == times["stop_timeout_seconds"]

    if shape == "worker":
        processes = fleet["concurrency_each"]
        assert values["worker_processes"] == settings["worker_processes"] == processes
        job_timeout = values["job_timeout_seconds"]
        assert job_timeout == settings["job_timeout_seconds"] == times["graceful_shutdown_seconds"]
        assert job_timeout == longest
        assert stop > job_timeout
    else:
        idle, drain = values["idle_timeout_seconds"], values["deregistration_delay_seconds"]
        graceful = values["graceful_shutdown_seconds"]
        assert (idle, drain, graceful) == (
            times["alb_idle_timeout_seconds"],
            times["deregistration_delay_seconds"],
            times["graceful_shutdown_seconds"],
        )
        assert settings["graceful_shutdown_seconds"] == graceful
        assert settings["keep_alive_seconds"] > idle
        assert idle <= fact("alb.max_idle_timeout_seconds")
        assert drain <= fact("tg.max_deregistration_delay_seconds")
        if shape != "websocket":  # a WebSocket's silence and lifetime are not a request's
            assert min(idle, drain, graceful) >= longest
        assert stop > graceful

    if workload == "scheduled_job":
        assert values["schedule_expression"] == plan["schedule_expression"]

    readme = (path / "README.md").read_text(encoding="utf-8")
    price = answers["decision_record"]["monthly_usd"]["ec2-asg"]
    assert f"**${price:.2f} a month**" in readme
    assert f"{fleet['count']} {fleet['instance_type']} instances" in readme
    assert f"`max_size` {fleet['max_size']}" in readme


#: The container profiles Fargate can run (all but GPU inference).
FARGATE = [(w, name, given) for w, name, given in CONTAINER if w != "ml_inference"]


@pytest.mark.parametrize(("workload", "name", "given"), FARGATE, ids=_ids(FARGATE))
def test_a_fargate_project_s_limits_are_its_plan(
    template: Path,
    terraform: TerraformTool,
    tmp_path: Path,
    workload: str,
    name: str,
    given: dict[str, Any],
) -> None:
    path, answers, plan = _rendered(template, tmp_path / "project", "fargate", given)
    shape = CONTAINER_SHAPES[workload]
    tasks, times, load = plan["fargate"], plan["timeouts"], plan["load"]
    names = ["task_cpu", "task_memory", "min_tasks", "max_tasks", "stop_timeout_seconds"]
    ec2_only = {"instance_type", "ami_ssm_parameter", "min_size", "max_size"}
    names += [n for n in _variables(shape, workload) if n not in {*ec2_only, *names}]
    values = variable_values(terraform, path / "terraform", names, tmp_path / "variables")
    settings = app_value(path, "vars(c.Settings.from_env({}))")

    assert (values["task_cpu"], values["task_memory"]) == (tasks["cpu"], tasks["memory"])
    assert values["min_tasks"] == tasks["min_count"] == fact("capacity.ha_minimum")
    assert values["max_tasks"] == tasks["max_count"] >= tasks["count"] >= values["min_tasks"]
    assert tasks["count"] * tasks["concurrency_each"] >= load["peak_concurrency"] * 0.999
    assert values["stop_timeout_seconds"] == times["stop_timeout_seconds"]
    if shape == "worker":
        # The task definition always passes WORKER_PROCESSES (the app's own default is
        # the EC2 plan's: the app is the same file for both computes).
        assert values["worker_processes"] == tasks["concurrency_each"]
        assert values["job_timeout_seconds"] == times["graceful_shutdown_seconds"]
        assert settings["job_timeout_seconds"] == values["job_timeout_seconds"]
    else:
        assert (
            values["idle_timeout_seconds"],
            values["deregistration_delay_seconds"],
            values["graceful_shutdown_seconds"],
        ) == (
            times["alb_idle_timeout_seconds"],
            times["deregistration_delay_seconds"],
            times["graceful_shutdown_seconds"],
        )
        assert settings["graceful_shutdown_seconds"] == values["graceful_shutdown_seconds"]
    if workload == "scheduled_job":
        assert values["schedule_expression"] == plan["schedule_expression"]

    readme = (path / "README.md").read_text(encoding="utf-8")
    price = answers["decision_record"]["monthly_usd"]["fargate"]
    assert f"**${price:.2f} a month**" in readme
    assert f"`max_tasks` {tasks['max_count']}" in readme
