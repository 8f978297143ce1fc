"""Answers as users give them: every problem at once, numbers as people write them,
regions with a guess, and another project's answers file without its name."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from infra_scaffold.numbers import RULE, parse_whole


def answers_file(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def data(*pairs: str) -> list[str]:
    return [arg for pair in pairs for arg in ("--data", pair)]


# --- Every problem at once ------------------------------------------------------------


def test_without_a_terminal_every_missing_and_wrong_answer_is_named_at_once(scaffold, tmp_path):
    dest = tmp_path / "svc-one"
    result = scaffold(
        "new", str(dest), *data("workload=http_api", "memory_mb=lots", "aws_region=eu-centrl-1")
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert all(line.startswith("error: ") for line in lines)
    keys = [line.removeprefix("error: ").split(":")[0] for line in lines[:-1]]
    # In the order of the checklist: missing and wrong answers together.
    assert keys == [
        "description", "aws_region", "max_duration_seconds", "traffic_pattern",
        "requests_per_month", "avg_duration_ms", "memory_mb", "max_payload_kb",
        "latency_sensitive", "compute",
    ]  # fmt: skip
    assert "error: description: missing" in lines
    assert "error: compute: missing" in lines
    assert any(
        "aws_region: must be an AWS region code" in x and "eu-central-1?" in x for x in lines
    )
    assert any(line.startswith("error: memory_mb: must be a whole number") for line in lines)
    assert "--data KEY=VALUE" in lines[-1]
    assert "--defaults" in lines[-1]
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_single_missing_answer_is_one_line(scaffold, tmp_path):
    given = ["description=x", "aws_region=us-east-1", "compute=lambda", "api_auth=jwt"]
    given += [f"{k}={v}" for k, v in {"max_duration_seconds": 10, "traffic_pattern": "spiky",
              "requests_per_month": 1000, "avg_duration_ms": 100, "memory_mb": 256,
              "max_payload_kb": 10}.items()]  # fmt: skip
    result = scaffold("new", str(tmp_path / "svc-two"), *data("workload=http_api", *given))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: latency_sensitive: missing; pass --data latency_sensitive=VALUE or --data-file "
        "FILE (no terminal to ask in), or use --defaults"
    ]


def test_recommend_names_every_wrong_answer_at_once(scaffold):
    result = scaffold(
        "recommend", *data("workload=http_api", "memory_mb=lots", "colour=red", "aws_region=x")
    )
    assert result.returncode == 2
    keys = [line.split(":")[1].strip() for line in result.stderr.splitlines()]
    assert keys == ["colour", "aws_region", "memory_mb"]


# --- The decision is refused the same way everywhere ----------------------------------


@pytest.mark.parametrize(
    ("given", "sentence"),
    [
        (["workload=http_api", "max_duration_seconds=3600", "compute=lambda"],
         "compute: lambda is ruled out: One run may take 3,600 s, but Lambda stops"),
        (["workload=http_api", "max_duration_seconds=60", "compute=lambda"],
         "compute: lambda is ruled out: A request may take 60 s, but API Gateway HTTP API"),
        (["workload=ml_inference", "compute=lambda"],
         "compute: lambda is ruled out: It needs a GPU"),
    ],
)  # fmt: skip
def test_recommend_and_new_refuse_a_ruled_out_compute_alike(scaffold, tmp_path, given, sentence):
    recommended = scaffold("recommend", *data(*given))
    created = scaffold("new", str(tmp_path / "ruled-out"), "--defaults", *data(*given))
    for result in (recommended, created):
        assert result.returncode == 2
        assert result.stdout == ""
        assert result.stderr.startswith(f"error: {sentence}")
        assert len(result.stderr.splitlines()) == 1
    assert recommended.stderr == created.stderr
    assert list(tmp_path.iterdir()) == []


# --- Whole numbers: one parser for prompts, --data and options -------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("1000000", 1_000_000), ("1,000,000", 1_000_000), ("1_000_000", 1_000_000),
     ("1e6", 1_000_000), ("1E6", 1_000_000), ("1M", 1_000_000), ("1k", 1000), ("1K", 1000),
     ("2.5M", 2_500_000), ("1.5e3", 1500), ("3B", 3_000_000_000), ("-5", -5), (" 42 ", 42),
     ("1000e-3", 1), (7, 7), (2e6, 2_000_000)],
)  # fmt: skip
def test_whole_numbers_as_people_write_them(text, value):
    assert parse_whole(text) == value


@pytest.mark.parametrize(
    ("text", "rule"),
    [("1.5", RULE), ("1.000", RULE), ("2.0", RULE), ("1,00", RULE), ("1,0000", RULE),
     ("10 000", RULE), ("1__0", RULE), ("", RULE), ("many", RULE), (True, RULE),
     ("1e-3", "must be a whole number (1e-3 is 0.001)"), ("0.5", RULE),
     ("2.5k5", RULE), ("5m", "'m' could mean milli or million: write M for million"),
     (2.5, "must be a whole number (2.5 is not)"), ("1e99", "1e99 is out of range")],
)  # fmt: skip
def test_ambiguous_or_fractional_numbers_are_refused_with_the_rule(text, rule):
    with pytest.raises(ValueError, match=f"^{re.escape(rule)}$"):
        parse_whole(text)


def test_data_and_cost_options_read_numbers_alike(scaffold, tmp_path):
    dest = tmp_path / "numbers-svc"
    created = scaffold(
        "new", str(dest), "--defaults", "--no-git",
        *data("workload=sqs_consumer", "requests_per_month=2.5M", "memory_mb=1_024",
              "avg_duration_ms=1,500"),
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    answers = answers_file(dest)
    assert (answers["requests_per_month"], answers["memory_mb"]) == (2_500_000, 1024)
    assert answers["avg_duration_ms"] == 1500
    costs = [
        json.loads(scaffold("cost", "--json", "--requests-per-month", text).stdout)
        for text in ("20000000", "20M", "2e7", "20,000,000", "20_000_000")
    ]
    assert all(cost == costs[0] for cost in costs)
    bad = scaffold("cost", "--requests-per-month", "1.5M5")
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == [
        f"error: Invalid value for '--requests-per-month': '1.5M5': {RULE}"
    ]
    low = scaffold("cost", "--memory-mb", "64")
    assert low.stderr.strip().endswith("must be from 128 to 10,240 (got 64)")


# --- Regions --------------------------------------------------------------------------------


def test_a_region_typo_is_refused_with_a_guess(scaffold, tmp_path):
    dest = tmp_path / "region-svc"
    result = scaffold(
        "new", str(dest), "--defaults", *data("workload=http_api", "aws_region=eu-centrl-1")
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: aws_region: must be an AWS region code such as us-east-1 (copier.yml's "
        "aws_regions lists them); did you mean eu-central-1?"
    ]
    ok = scaffold(
        "new",
        str(dest),
        "--defaults",
        "--no-git",
        *data("workload=http_api", "aws_region=eu-central-2"),
    )
    assert ok.returncode == 0, ok.stderr
    assert answers_file(dest)["aws_region"] == "eu-central-2"


# --- Another project's answers file ---------------------------------------------------------


def test_another_projects_answers_do_not_lend_their_name(scaffold, tmp_path):
    first = tmp_path / "orders-api"
    made = scaffold("new", str(first), "--defaults", "--no-git", *data("workload=worker"))
    assert made.returncode == 0, made.stderr
    other = first / ".copier-answers.yml"

    second = tmp_path / "billing-api"
    result = scaffold("new", str(second), "--defaults", "--no-git", "--data-file", str(other))
    assert result.returncode == 0, result.stderr
    answers = answers_file(second)
    assert answers["project_name"] == "billing-api"  # from the folder, not the other project
    assert answers["workload"] == "worker"  # the rest is reused

    nameless = scaffold("new", "--defaults", "--no-git", "--data-file", str(other), cwd=tmp_path)
    assert nameless.returncode == 2
    assert nameless.stderr.startswith("error: project_name: missing")

    named = scaffold(
        "new", "--defaults", "--no-git", "--data-file", str(other),
        *data("project_name=orders-api-eu"), cwd=tmp_path,
    )  # fmt: skip
    assert named.returncode == 0, named.stderr
    assert answers_file(tmp_path / "orders-api-eu")["project_name"] == "orders-api-eu"


# --- The recommendation on every path ------------------------------------------------------


def test_new_without_prompts_shows_the_recommendation(scaffold, tmp_path):
    dest = tmp_path / "quick-svc"
    result = scaffold("new", str(dest), "--defaults", "--no-git", *data("workload=http_api"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    summary = " ".join(
        out[out.index("Recommendation: AWS Lambda") : out.index("Next steps:")].split()
    )
    shown = scaffold("recommend", "--json", *data("workload=http_api"))
    reasons = json.loads(shown.stdout)["reasons"]
    # Why, the monthly costs and the break-even: the reasons `recommend` gives.
    assert [r for r in reasons if " ".join(r.split()) not in summary] == []
    assert any("Lambda costs $" in r for r in reasons)
    assert f"scaffold recommend --data-file {dest}/.copier-answers.yml" in summary
    assert "Note:" not in out


def test_new_says_so_when_the_chosen_compute_goes_against_the_recommendation(scaffold, tmp_path):
    dest = tmp_path / "boxed-api"
    result = scaffold(
        "new", str(dest), "--defaults", "--no-git", *data("workload=http_api", "compute=container")
    )
    assert result.returncode == 0, result.stderr
    note = " ".join(result.stdout[result.stdout.index("Note:") :].split())
    assert note.startswith(
        "Note: this project uses Containers (EC2 Auto Scaling group) although the checklist "
        "recommends AWS Lambda; record why in docs/adr/0001-compute-platform.md."
    )


def test_a_blocked_workload_shows_its_first_blocker(scaffold, tmp_path):
    result = scaffold(
        "new", str(tmp_path / "jobs-svc"), "--defaults", "--no-git", *data("workload=worker")
    )
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "Recommendation: Containers (ECS on Fargate) - One run may take 3,600 s" in out
    assert "Note:" not in out
