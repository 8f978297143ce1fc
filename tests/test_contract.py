"""copier.yml is the one list of questions: the CLI reads it, and agrees with copier.

The CLI checks answers in Python (fast, no Jinja); copier checks the same rules
with the Jinja validators in copier.yml. These tests hold the two together.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
import yaml
from jinja2.sandbox import SandboxedEnvironment

from infra_scaffold import capacity, decision
from infra_scaffold.contract import (
    cast_answer,
    load_contract,
    parse_data_file,
    parse_data_options,
)
from infra_scaffold.errors import AnswerError, AnswerProblems, ConfigError, MissingAnswerError
from infra_scaffold.plan import make_plan

REPO = Path(__file__).resolve().parents[1]
RAW = yaml.safe_load((REPO / "copier.yml").read_text())
CONTRACT_KEYS = [
    "project_name", "description", "aws_region", "workload", "max_duration_seconds",
    "needs_websockets", "needs_gpu", "traffic_pattern", "requests_per_month",
    "avg_duration_ms", "memory_mb", "latency_sensitive", "compute",
]  # fmt: skip
JINJA = SandboxedEnvironment(extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"])


def jinja(expression, contract, **answers):
    """Evaluate a copier.yml expression as copier does."""
    return JINJA.from_string(expression).render(**contract.tables, **answers).strip()


def copier_error(contract, name, value, answers):
    validator = RAW[name].get("validator", "")
    return jinja(validator, contract, **{**answers, name: value}) if validator else ""


def python_error(contract, name, value, answers):
    try:
        contract.check(contract.question(name), value, answers)
    except AnswerError as error:
        return error.rule
    return ""


def test_the_contract_keys_are_questions_in_order(contract):
    keys = list(contract.keys)
    assert [k for k in keys if k in CONTRACT_KEYS] == CONTRACT_KEYS
    assert contract.question("workload").choice_values == decision.WORKLOADS
    assert contract.question("compute").choice_values == decision.COMPUTES
    assert contract.question("traffic_pattern").choice_values == ("spiky", "steady")


def test_no_question_needs_trust():
    settings = {k for k in RAW if k.startswith("_")}
    assert not settings & {"_tasks", "_migrations", "_jinja_extensions", "_external_data"}


def test_lambda_limits_mirror_the_decision_engine(contract):
    limits = contract.table("lambda_limits")
    assert limits == {
        "workloads": list(decision.LAMBDA_WORKLOADS),
        "synchronous_workloads": list(decision.SYNCHRONOUS_WORKLOADS),
        "max_timeout_seconds": decision.LAMBDA_MAX_TIMEOUT_SECONDS,
        "http_api_timeout_seconds": decision.HTTP_API_TIMEOUT_SECONDS,
        "max_memory_mb": decision.LAMBDA_MAX_MEMORY_MB,
        "max_sync_payload_kb": decision.LAMBDA_MAX_SYNC_PAYLOAD_KB,
        "max_async_payload_kb": decision.LAMBDA_MAX_ASYNC_PAYLOAD_KB,
        "max_ephemeral_storage_mb": decision.LAMBDA_MAX_EPHEMERAL_MB,
    }


def test_every_workload_has_a_complete_table(contract):
    table = contract.table("workload_defaults")
    assert set(table) == set(decision.WORKLOADS)
    for values in table.values():
        for key in decision.PROFILE_KEYS:
            # Not per workload: the capacity plan derives these from the answers.
            derived = ("instance_type", "peak_to_average", "vcpus_per_request")
            if key not in ("workload", "provisioned_concurrency", *derived):
                assert key in values
        assert set(values["ask"]) <= set(contract.keys)


@pytest.mark.parametrize("workload", decision.WORKLOADS)
def test_cli_defaults_and_ask_agree_with_copier(contract, workload):
    answers = {"project_name": "demo-svc", "workload": workload}
    for question in contract.questions:
        if question.name in answers or question.default is None:
            continue
        raw = RAW[question.name].get("default")
        if isinstance(raw, str) and "{{" in raw:
            copier_value = cast_answer(question, jinja(raw, contract, **answers))
        else:
            copier_value = raw
        assert contract.default(question, answers) == copier_value, question.name
        ask = RAW[question.name].get("ask", True)
        copier_ask = ask if isinstance(ask, bool) else jinja(ask, contract, **answers) == "True"
        assert contract.asks(question, answers) == copier_ask, question.name
        answers[question.name] = copier_value


BOUNDARIES: dict[str, list[object]] = {
    "project_name": ["ab", "abc", "a" * 24, "a" * 25, "orders-api", "Orders", "9lives",
                     "a--b", "ab-", "test", "tests-x", "aws-thing", "ssm1", "amazonian",
                     "xn--abc", "my_app", "ünï", "internal-tools", "internal", "internalx",
                     "sthree-data", "amzn-s3-demo-x", "sg-api", "sgapi",
                     "abcdefghij-klmnopqrstuvw"],
    "description": ["", "x" * 200, "x" * 201, "tab\there", "new\nline", "bell\x07",
                    "nul\x00", "c1\x85", "ok ${x} %{y} {{ z }} !Ref a # b"],
    "aws_region": ["us-east-1", "eu-west-3", "us-gov-west-1", "cn-north-1", "mx-central-1",
                   "US-EAST-1", "eu-centrl-1", "us-iso-east-1", "mars-1", ""],
    "max_duration_seconds": [0, 1, 900, 86_400, 86_401],
    "requests_per_month": [-1, 0, 100_000_000_000, 100_000_000_001],
    "avg_duration_ms": [0, 1, 10_000, 10_001],
    "memory_mb": [127, 128, 262_144, 262_145],
    "max_payload_kb": [0, 1, 1_048_576, 1_048_577],
    "ephemeral_storage_mb": [511, 512, 1_048_576, 1_048_577],
    "provisioned_concurrency": [0, 1, 1000, 1001],
    "peak_to_average": [-1.0, 0.0, 0.5, 1.0, 2.5, 1000.0, 1000.5],
    "vcpus_per_request": [-0.5, 0.0, 0.005, 0.01, 0.25, 8.0, 8.5],
}  # fmt: skip


@pytest.mark.parametrize(
    ("name", "value"), [(n, v) for n, values in BOUNDARIES.items() for v in values]
)
def test_python_and_copier_validators_agree(contract, name, value):
    answers = {"workload": "http_api", "max_duration_seconds": 10, "memory_mb": 256,
               "needs_gpu": False}  # fmt: skip
    ours, theirs = (
        python_error(contract, name, value, answers),
        copier_error(contract, name, value, answers),
    )
    if name == "aws_region" and "did you mean" in ours:  # a guess only Python can make
        ours = ours.split("; did you mean")[0]
    assert ours == theirs


GPU = {"workload": "ml_inference", "needs_gpu": True, "memory_mb": 8192, "vcpus_per_request": 0.0}
SERVICE = {"workload": "http_api", "needs_gpu": False, "vcpus_per_request": 0.0}
WORKER = {"workload": "worker", "needs_gpu": False, "vcpus_per_request": 0.0}


@pytest.mark.parametrize(
    ("name", "value", "context"),
    [
        ("needs_websockets", True, {"workload": "websocket"}),
        ("needs_websockets", True, {"workload": "http_api"}),
        ("needs_gpu", True, {"workload": "ml_inference"}),
        ("needs_gpu", True, {"workload": "worker"}),
        ("instance_type", "t4g.small", GPU),
        ("instance_type", "g5.xlarge", GPU),
        ("instance_type", "t4g.small", {**GPU, "needs_gpu": False}),
        # Memory after the OS (512 MB, or a tenth of larger instances) and the
        # vCPU one request keeps busy (1,769 MB = 1 vCPU; services at 65 % CPU,
        # workers at 100 %, burstable types at their baseline).
        ("instance_type", "c7g.medium", {**SERVICE, "memory_mb": 1536}),
        ("instance_type", "c7g.medium", {**SERVICE, "memory_mb": 1537}),
        ("instance_type", "t4g.micro", {**SERVICE, "memory_mb": 256}),
        ("instance_type", "t4g.micro", {**SERVICE, "memory_mb": 512}),
        ("instance_type", "t4g.medium", {**WORKER, "memory_mb": 2048}),
        ("instance_type", "m7g.medium", {**WORKER, "memory_mb": 2048}),
        ("instance_type", "m7g.medium", {**SERVICE, "memory_mb": 2048}),
        ("instance_type", "r7g.large", {**SERVICE, "memory_mb": 14745}),
        ("instance_type", "r7g.large", {**SERVICE, "memory_mb": 14746}),
        ("instance_type", "t4g.small", {**SERVICE, "memory_mb": 256, "vcpus_per_request": 0.4}),
        ("instance_type", "t4g.small", {**SERVICE, "memory_mb": 256, "vcpus_per_request": 0.41}),
        ("memory_mb", 117_965, GPU),
        ("memory_mb", 117_966, GPU),
        ("memory_mb", 1024, {**GPU, "vcpus_per_request": 8.0}),
        ("memory_mb", 262_144, {**SERVICE, "vcpus_per_request": 8.0}),
        # Longer than a load balancer can hold, or than SQS keeps a job hidden.
        ("max_duration_seconds", 3600, {"workload": "http_api"}),
        ("max_duration_seconds", 3601, {"workload": "webhook"}),
        ("max_duration_seconds", 3601, {"workload": "ml_inference"}),
        ("max_duration_seconds", 86_400, {"workload": "websocket"}),
        ("max_duration_seconds", 43_200, {"workload": "worker"}),
        ("max_duration_seconds", 43_201, {"workload": "s3_events"}),
    ],
)
def test_cross_answer_rules_agree(contract, name, value, context):
    ours = python_error(contract, name, value, context)
    theirs = copier_error(contract, name, value, context)
    assert ours == theirs


GRID = itertools.product(
    decision.WORKLOADS, [899, 900, 901, 31], [8192, 10_241], [1024, 1025, 6145], [10_240, 10_241]
)


@pytest.mark.parametrize(("workload", "duration", "memory", "payload", "storage"), list(GRID))
def test_copier_refuses_lambda_exactly_when_a_blocker_applies(
    contract, workload, duration, memory, payload, storage
):
    answers = {
        "workload": workload, "max_duration_seconds": duration, "memory_mb": memory,
        "max_payload_kb": payload, "ephemeral_storage_mb": storage,
        "needs_websockets": workload == "websocket", "needs_gpu": workload == "ml_inference",
    }  # fmt: skip
    profile = decision.WorkloadProfile(
        traffic_pattern="spiky", requests_per_month=1000, avg_duration_ms=1, **answers
    )
    blocked = bool(decision.find_blockers(profile))
    assert bool(copier_error(contract, "compute", "lambda", answers)) == blocked
    assert copier_error(contract, "compute", "container", answers) == ""


@pytest.mark.parametrize(
    ("question", "raw", "expected"),
    [
        ("memory_mb", "512", 512), ("memory_mb", 512, 512), ("memory_mb", "1_024", 1024),
        ("requests_per_month", "1,000,000", 1_000_000), ("requests_per_month", "1e6", 1_000_000),
        ("requests_per_month", "1M", 1_000_000), ("requests_per_month", "20k", 20_000),
        ("requests_per_month", "2.5M", 2_500_000), ("requests_per_month", 1e6, 1_000_000),
        ("latency_sensitive", "yes", True), ("latency_sensitive", "OFF", False),
        ("latency_sensitive", True, True), ("workload", "worker", "worker"),
    ],
)  # fmt: skip
def test_answers_are_cast_like_copier_casts_them(contract, question, raw, expected):
    assert cast_answer(contract.question(question), raw) == expected


@pytest.mark.parametrize(
    ("question", "raw", "rule"),
    [
        ("memory_mb", "lots", "must be a whole number: 1000000, 1,000,000"),
        ("memory_mb", "1.5", "must be a whole number"),
        ("memory_mb", "1.000", "a decimal point only with an exponent or k/M/B"),
        ("memory_mb", "1,00", "must be a whole number"),
        ("memory_mb", "1e-3", r"must be a whole number \(1e-3 is 0.001\)"),
        ("memory_mb", "512m", "'m' could mean milli or million"),
        ("memory_mb", True, "must be a whole number"),
        ("latency_sensitive", "maybe", "must be true or false"),
        ("workload", "batch", "must be one of: http_api"),
        ("description", ["a", "list"], "must be text"),
    ],
)
def test_bad_answers_name_the_key_and_the_rule(contract, question, raw, rule):
    with pytest.raises(AnswerError, match=rule) as error:
        cast_answer(contract.question(question), raw)
    assert str(error.value).startswith(f"{question}: ")


def test_a_region_typo_is_refused_with_a_guess(contract):
    with pytest.raises(AnswerError, match=r"did you mean eu-central-1\?$"):
        contract.resolve({"aws_region": "eu-centrl-1"}, only=["aws_region"])
    with pytest.raises(AnswerError) as far_off:
        contract.resolve({"aws_region": "moon-1"}, only=["aws_region"])
    assert "did you mean" not in far_off.value.rule


def test_the_region_table_is_every_public_aws_region(contract):
    """aws_regions holds the aws, aws-cn and aws-us-gov partitions' regions, by botocore."""
    import importlib.util
    import json

    botocore = importlib.util.find_spec("botocore")
    assert botocore is not None
    assert botocore.origin is not None
    endpoints = json.loads((Path(botocore.origin).parent / "data" / "endpoints.json").read_text())
    known = {
        code: region["description"]
        for partition in endpoints["partitions"]
        if partition["partition"] in ("aws", "aws-cn", "aws-us-gov")
        for code, region in partition["regions"].items()
    }
    table = contract.table("aws_regions")
    assert {code: row["name"] for code, row in table.items()} == known
    # Logs are written by the region's ELB account, or (regions opened since
    # August 2022) by the log delivery service principal.
    for code, row in table.items():
        if row["alb_log_delivery"] == "elb_account":
            assert len(row["elb_account_id"]) == 12, code
            assert row["elb_account_id"].isdigit(), code
        else:
            assert row["alb_log_delivery"] == "service_principal", code
            assert "elb_account_id" not in row, code
    opened_since_2022 = ["eu-central-2", "ap-southeast-4", "me-central-1", "il-central-1",
                         "ca-west-1", "mx-central-1", "ap-south-2", "eu-south-2"]  # fmt: skip
    for code in opened_since_2022:
        assert table[code]["alb_log_delivery"] == "service_principal", code
    assert table["us-east-1"]["elb_account_id"] == "127311923021"


def test_every_problem_of_the_given_answers_is_reported_at_once(contract):
    given = {"colour": "red", "aws_region": "eu-centrl-1", "memory_mb": "lots", "workload": "x"}
    with pytest.raises(AnswerProblems) as error:
        contract.resolve(given, only=tuple(given), respect_when=False)
    assert [p.key for p in error.value.problems] == [
        "colour",
        "aws_region",
        "workload",
        "memory_mb",
    ]


def test_resolve_refuses_unknown_and_computed_keys(contract):
    with pytest.raises(AnswerError, match="unknown key"):
        contract.resolve({"workload": "http_api", "colour": "blue"})
    with pytest.raises(AnswerError, match="filled in by scaffold"):
        contract.resolve({"workload": "http_api", "decision_record": "{}"})


def test_resolve_requires_what_has_no_default(contract):
    with pytest.raises(MissingAnswerError, match="project_name"):
        contract.resolve({"workload": "http_api"}, required=("project_name", "workload"))


def test_plan_defaults_compute_to_the_recommendation_and_refuses_blocked_lambda(contract):
    plan = make_plan(contract, {"project_name": "demo-svc", "workload": "worker"})
    assert plan.answers["compute"] == "fargate"
    assert plan.answers["decision_record"]["recommended"] == "fargate"
    with pytest.raises(AnswerError, match=r"compute: lambda is ruled out: One run may take"):
        make_plan(contract, {"project_name": "demo-svc", "workload": "worker", "compute": "lambda"})


def test_plan_leaves_out_answers_that_do_not_apply(contract):
    lam = make_plan(contract, {"project_name": "demo-svc", "workload": "http_api"}).answers
    box = make_plan(
        contract, {"project_name": "demo-svc", "workload": "http_api", "compute": "container"}
    ).answers
    assert lam["api_auth"] == "jwt"
    assert "instance_type" not in lam
    assert "api_auth" not in box
    # At this volume the cheapest fleet is two of the cheapest type that fits,
    # which is what plain copier's default picks.
    plain = jinja(RAW["instance_type"]["default"], contract, **{**box, "vcpus_per_request": 0.0})
    assert box["instance_type"] == plain
    assert box["capacity_plan"]["instances"]["instance_type"] == plain


def test_data_options_parse():
    assert parse_data_options(["a=1", "b = x=y", "c="]) == {"a": "1", "b": " x=y", "c": ""}
    with pytest.raises(AnswerError, match="expected KEY=VALUE"):
        parse_data_options(["novalue"])


def test_data_file_parses_answers_files(tmp_path):
    path = tmp_path / "answers.yml"
    path.write_text("_src_path: x\n_commit: v1\nworkload: worker\ndecision_record: {}\n")
    assert parse_data_file(path) == {"workload": "worker"}


def test_another_projects_answers_file_does_not_lend_its_name(tmp_path):
    """Its project_name would give the new project the same AWS resource names."""
    answers = tmp_path / ".copier-answers.yml"
    answers.write_text("_src_path: x\n_commit: v1\nproject_name: orders-api\nworkload: worker\n")
    assert parse_data_file(answers) == {"workload": "worker"}
    defaults = tmp_path / "org.yml"  # an organisation's defaults may name a project
    defaults.write_text("project_name: orders-api\nworkload: worker\n")
    assert parse_data_file(defaults) == {"project_name": "orders-api", "workload": "worker"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read it"),
        (b"workload: [unclosed\n", "not valid YAML at line 2"),
        (b"- a\n- list\n", "expected a mapping"),
        (b"\xff\xfe\x00", "not UTF-8"),
    ],
)
def test_bad_data_files_are_one_clear_error(tmp_path, content, message):
    path = tmp_path / "answers.yml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        parse_data_file(path)


def test_a_broken_copier_yml_is_a_config_error(tmp_path):
    (tmp_path / "copier.yml").write_text("a: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_contract(tmp_path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_contract(tmp_path / "missing")


# --- The capacity plan's mirrors in copier.yml -------------------------------------

#: copier.yml's capacity_facts key -> infra_scaffold.capacity.FACTS key.
FACT_MIRROR = {
    "lambda_mb_per_vcpu": "lambda.mb_per_vcpu",
    "max_vcpus_per_request": "lambda.max_vcpus_per_request",
    "target_cpu_utilization": "capacity.target_cpu_utilization",
    "worker_cpu_utilization": "capacity.worker_cpu_utilization",
    "os_reserve_mb": "capacity.os_reserve_mb",
    "os_reserve_share": "capacity.os_reserve_share",
    "ha_minimum": "capacity.ha_minimum",
    "schedule_rate_tolerance": "scheduler.rate_tolerance",
    "timeout_margin_seconds": "timeout.margin_seconds",
    "stop_margin_seconds": "timeout.stop_margin_seconds",
    "worker_stop_margin_seconds": "timeout.worker_stop_margin_seconds",
    "alb_default_idle_timeout_seconds": "alb.default_idle_timeout_seconds",
    "alb_max_idle_timeout_seconds": "alb.max_idle_timeout_seconds",
    "tg_max_deregistration_delay_seconds": "tg.max_deregistration_delay_seconds",
    "drain_floor_seconds": "service.drain_floor_seconds",
    "websocket_idle_timeout_seconds": "websocket.idle_timeout_seconds",
    "websocket_drain_floor_seconds": "websocket.drain_floor_seconds",
    "sqs_max_visibility_seconds": "sqs.max_visibility_seconds",
    "sqs_poller_max_concurrency": "sqs.poller_max_concurrency",
    "unreserved_poller_concurrency": "sqs.unreserved_poller_concurrency",
    "reserved_floor": "lambda.reserved_floor",
    "throttling_rate_floor": "apigw.throttling_rate_floor",
    "throttling_burst_floor": "apigw.throttling_burst_floor",
    "fargate_max_vcpus": "fargate.max_vcpus",
    "fargate_max_memory_mb": "fargate.max_memory_mb",
    "fargate_max_ephemeral_storage_gib": "fargate.max_ephemeral_storage_gib",
    "fargate_included_ephemeral_storage_gib": "fargate.included_ephemeral_storage_gib",
    "fargate_image_storage_gib": "fargate.image_storage_gib",
    "fargate_max_stop_timeout_seconds": "fargate.max_stop_timeout_seconds",
}


def test_copier_yml_mirrors_the_capacity_facts(contract):
    mirror = dict(contract.table("capacity_facts"))
    assert mirror.pop("peak_to_average") == dict(capacity.PEAK_TO_AVERAGE)
    assert mirror.pop("seconds_per_month") == capacity.SECONDS_PER_MONTH
    # Plain copier's fleet is not sized: the group keeps today's max_size.
    assert mirror.pop("unsized_max_size") == 10
    sizes = mirror.pop("fargate_sizes")
    assert [(cpu, tuple(memory)) for cpu, memory in sizes.items()] == list(capacity.FARGATE_SIZES)
    assert {k: mirror[k] for k in FACT_MIRROR} == {
        k: capacity.fact(v) for k, v in FACT_MIRROR.items()
    }
    assert set(mirror) == set(FACT_MIRROR)


def test_copier_yml_mirrors_the_instance_catalogue(contract):
    mirror = contract.table("instance_types")
    assert list(mirror) == [row.name for row in capacity.CATALOGUE]  # cheapest first
    assert contract.question("instance_type").choice_values == tuple(mirror)
    for row in capacity.CATALOGUE:
        assert mirror[row.name] == {
            "vcpus": row.vcpus, "memory_mb": row.memory_mb, "architecture": row.architecture,
            "gpu": row.gpu, "baseline": row.baseline,
        }  # fmt: skip


def test_copier_yml_names_the_same_container_shapes(contract):
    shapes = {w: v["container_shape"] for w, v in contract.table("workload_defaults").items()}
    assert shapes == dict(decision.CONTAINER_SHAPES)


DEFAULT_GRID = list(
    itertools.product(
        ["http_api", "worker", "ml_inference", "websocket"],
        [128, 512, 1536, 2048, 3584, 8192, 30_000, 117_965],
        [0.0, 0.5, 3.0],
    )
)


@pytest.mark.parametrize(("workload", "memory", "vcpus"), DEFAULT_GRID)
def test_plain_copier_s_default_type_is_the_cheapest_that_fits(contract, workload, memory, vcpus):
    gpu = workload == "ml_inference"
    answers = {"workload": workload, "needs_gpu": gpu, "memory_mb": memory,
               "vcpus_per_request": vcpus}  # fmt: skip
    if python_error(contract, "memory_mb", memory, answers):
        return  # refused before: no type holds it
    shape = decision.CONTAINER_SHAPES[workload]
    demand = capacity.Demand(0, 1, memory, vcpus_per_request=vcpus, worker=shape == "worker",
                             gpu=gpu)  # fmt: skip
    # At small volumes the plan's cheapest fleet is two of the cheapest type that fits.
    expected = capacity.instance_fleet(demand).size
    assert jinja(RAW["instance_type"]["default"], contract, **answers) == expected
    assert python_error(contract, "instance_type", expected, answers) == ""


FALLBACK_GRID = list(
    itertools.product(
        decision.WORKLOADS, [1, 25, 56, 300, 3600, 7200, 43_200], [0, 1, 7, 30, 100, 730, 50_000]
    )
)


@pytest.mark.parametrize(("workload", "seconds", "runs"), FALLBACK_GRID)
def test_plain_copier_s_plan_sets_the_same_timeouts_and_schedule(contract, workload, seconds, runs):
    shape = decision.CONTAINER_SHAPES[workload]
    if capacity.duration_refusal(shape, seconds):
        return
    answers = {
        "workload": workload, "max_duration_seconds": seconds, "requests_per_month": runs,
        "avg_duration_ms": 100, "memory_mb": 512, "vcpus_per_request": 0.0,
        "peak_to_average": 0.0, "traffic_pattern": "steady", "latency_sensitive": False,
        "provisioned_concurrency": 1, "needs_gpu": workload == "ml_inference",
    }  # fmt: skip
    answers["instance_type"] = jinja(RAW["instance_type"]["default"], contract, **answers)
    plan = yaml.safe_load(jinja(RAW["capacity_plan"]["default"], contract, **answers))
    limits = capacity.timeouts(shape, seconds)
    assert plan["timeouts"] == {
        "alb_idle_timeout_seconds": limits.alb_idle_timeout_seconds,
        "deregistration_delay_seconds": limits.deregistration_delay_seconds,
        "graceful_shutdown_seconds": limits.graceful_shutdown_seconds,
        "stop_timeout_seconds": limits.stop_timeout_seconds,
    }
    assert plan["schedule_expression"] == capacity.schedule_expression(runs)
    assert plan["sized"] is False
    sized = make_plan(contract, {"project_name": "demo-svc", **answers}).answers
    assert _keys(plan) == _keys(sized["capacity_plan"])


def _keys(value):
    if isinstance(value, dict):
        return {k: _keys(v) for k, v in value.items()}
    return None


def test_a_fork_that_offers_fewer_instance_types_is_planned_among_its_own(tmp_path):
    raw = yaml.safe_load((REPO / "copier.yml").read_text())
    offered = ["c7g.xlarge", "r7g.large", "g6.xlarge"]
    raw["instance_type"]["choices"] = offered
    raw["instance_types"]["default"] = {k: raw["instance_types"]["default"][k] for k in offered}
    (tmp_path / "copier.yml").write_text(yaml.safe_dump(raw, sort_keys=False))
    fork = load_contract(tmp_path)
    for workload in ("http_api", "worker", "ml_inference"):
        plan = make_plan(fork, {"project_name": "demo-svc", "workload": workload,
                                "compute": "container"})  # fmt: skip
        assert plan.answers["instance_type"] in offered
        assert plan.recommendation.costs.option("ec2-asg").fleet.size in offered


# --- Names derived from project_name (issue 15) ----------------------------------------

#: Each kind of rule an AWS name derived from project_name can break, with a project
#: name that breaks it and the name it would make (all rendered before 0.3.0).
NAME_EDGES = [
    ("internal-tools", "internal-tools-alb", "may not begin with internal-"),
    ("sthree-data", "sthree-data-alb-logs-", "may not begin with sthree-"),
    ("amzn-s3-demo-x", "amzn-s3-demo-x-alb-logs-", "may not begin with amzn-s3-demo-"),
    ("sg-api", "sg-api-instances", "may not begin with sg-"),
]


@pytest.mark.parametrize(("project_name", "made", "rule"), NAME_EDGES)
def test_names_that_aws_would_refuse_are_refused_up_front_with_the_reason(
    contract, scaffold, tmp_path, project_name, made, rule
):
    ours = python_error(contract, "project_name", project_name, {})
    assert ours == copier_error(contract, "project_name", project_name, {})
    assert made in ours
    assert rule in ours
    result = scaffold("new", str(tmp_path / "p"), "--defaults", "--data",
                      f"project_name={project_name}", "--data", "workload=http_api")  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert rule in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "p").exists()


def _derived(contract, project_name):
    return [e["name"].replace("{project}", project_name) for e in contract.table("aws_names")]


def test_names_the_longest_project_name_makes_fit_every_service(contract):
    longest = "a" * contract.table("answer_limits")["project_name"]["max_length"]
    assert python_error(contract, "project_name", longest, {}) == ""
    for entry, name in zip(contract.table("aws_names"), _derived(contract, longest), strict=True):
        if entry.get("max_length"):
            assert len(name) <= entry["max_length"], (name, entry)


def test_names_the_table_lists_every_name_the_templates_derive(contract):
    """Every name a template builds from project_name is in the table, with its rules."""
    known = {e["name"] for e in contract.table("aws_names")}
    written = set()
    for path in (REPO / "template").rglob("*"):
        if not path.is_file() or path.suffix not in (".jinja", ".tf", ".yaml", ".toml"):
            continue
        text = path.read_text(encoding="utf-8")
        # The log-bucket macro's prefixes, as its calls instantiate them.
        prefixes = re.findall(r'log_bucket\("\w+", "([^"]+)"', text)
        # What runs the containers, named per compute (network.tf): both names.
        units = re.findall(r"set units = '(\w+)' if compute == 'fargate' else '(\w+)'", text)
        for match in re.finditer(r'\w*(?:name|_prefix)\s*=\s*"([^"]*)"', text):
            value = match[1].replace("${var.project_name}", "{project}")
            value = value.replace("{{ project_name }}", "{project}")
            # A port in a name: the table holds its longest form.
            value = value.replace("${var.container_port}", "65535")
            if "{project}" in value:
                if "{{ prefix }}" in value:
                    written.update(value.replace("{{ prefix }}", p) for p in prefixes)
                elif "{{ units }}" in value:
                    written.update(value.replace("{{ units }}", u) for u in units[0])
                else:
                    written.add(value)
        for match in re.finditer(r'"/\$\{AWS::StackName\}/([\w-]+)"', text):
            written.add(f"/{{project}}/{match[1]}")
    assert written - known == set()
