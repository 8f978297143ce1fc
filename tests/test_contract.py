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

from infra_scaffold import decision
from infra_scaffold.contract import (
    cast_answer,
    load_contract,
    parse_data_file,
    parse_data_options,
)
from infra_scaffold.errors import AnswerError, ConfigError, MissingAnswerError
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
    assert contract.question("compute").choice_values == ("lambda", "container")
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
            if key not in ("workload", "provisioned_concurrency"):
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
    "aws_region": ["us-east-1", "eu-west-3", "us-gov-west-1", "US-EAST-1", "mars-1", ""],
    "max_duration_seconds": [0, 1, 900, 86_400, 86_401],
    "requests_per_month": [-1, 0, 100_000_000_000, 100_000_000_001],
    "avg_duration_ms": [0, 1, 10_000, 10_001],
    "memory_mb": [127, 128, 262_144, 262_145],
    "max_payload_kb": [0, 1, 1_048_576, 1_048_577],
    "ephemeral_storage_mb": [511, 512, 1_048_576, 1_048_577],
    "provisioned_concurrency": [0, 1, 1000, 1001],
}  # fmt: skip


@pytest.mark.parametrize(
    ("name", "value"), [(n, v) for n, values in BOUNDARIES.items() for v in values]
)
def test_python_and_copier_validators_agree(contract, name, value):
    answers = {"workload": "http_api", "max_duration_seconds": 10}
    ours, theirs = (
        python_error(contract, name, value, answers),
        copier_error(contract, name, value, answers),
    )
    assert ours == theirs


@pytest.mark.parametrize(
    ("name", "value", "context"),
    [
        ("needs_websockets", True, {"workload": "websocket"}),
        ("needs_websockets", True, {"workload": "http_api"}),
        ("needs_gpu", True, {"workload": "ml_inference"}),
        ("needs_gpu", True, {"workload": "worker"}),
        ("instance_type", "t4g.small", {"needs_gpu": True}),
        ("instance_type", "g5.xlarge", {"needs_gpu": True}),
        ("instance_type", "t4g.small", {"needs_gpu": False}),
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
        ("latency_sensitive", "yes", True), ("latency_sensitive", "OFF", False),
        ("latency_sensitive", True, True), ("workload", "worker", "worker"),
    ],
)  # fmt: skip
def test_answers_are_cast_like_copier_casts_them(contract, question, raw, expected):
    assert cast_answer(contract.question(question), raw) == expected


@pytest.mark.parametrize(
    ("question", "raw", "rule"),
    [
        ("memory_mb", "lots", "must be an integer"),
        ("memory_mb", "1.5", "must be an integer"),
        ("memory_mb", True, "must be an integer"),
        ("latency_sensitive", "maybe", "must be true or false"),
        ("workload", "batch", "must be one of: http_api"),
        ("description", ["a", "list"], "must be text"),
    ],
)
def test_bad_answers_name_the_key_and_the_rule(contract, question, raw, rule):
    with pytest.raises(AnswerError, match=rule) as error:
        cast_answer(contract.question(question), raw)
    assert str(error.value).startswith(f"{question}: ")


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
    assert plan.answers["compute"] == "container"
    assert plan.answers["decision_record"]["recommended"] == "container"
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
    assert box["instance_type"] == "t4g.small"


def test_data_options_parse():
    assert parse_data_options(["a=1", "b = x=y", "c="]) == {"a": "1", "b": " x=y", "c": ""}
    with pytest.raises(AnswerError, match="expected KEY=VALUE"):
        parse_data_options(["novalue"])


def test_data_file_parses_answers_files(tmp_path):
    path = tmp_path / "answers.yml"
    path.write_text("_src_path: x\n_commit: v1\nworkload: worker\ndecision_record: {}\n")
    assert parse_data_file(path) == {"workload": "worker"}


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
        for match in re.finditer(r'\w*(?:name|_prefix)\s*=\s*"([^"]*)"', text):
            value = match[1].replace("${var.project_name}", "{project}")
            value = value.replace("{{ project_name }}", "{project}")
            if "{project}" in value:
                if "{{ prefix }}" in value:
                    written.update(value.replace("{{ prefix }}", p) for p in prefixes)
                else:
                    written.add(value)
        for match in re.finditer(r'"/\$\{AWS::StackName\}/([\w-]+)"', text):
            written.add(f"/{{project}}/{match[1]}")
    assert written - known == set()
