"""`scaffold recommend` and `scaffold cost` as users run them: real processes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

ARTICLE = [
    "cost", "--requests-per-month", "1000000", "--avg-duration-ms", "200", "--memory-mb", "128",
    "--architecture", "x86_64", "--api-gateway", "http", "--no-free-tier", "--json",
    "--instance-type", "t4g.small",
]  # fmt: skip


def as_json(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def monthly(data, option_id):
    return next(o["monthly_usd"] for o in data["options"] if o["id"] == option_id)


def test_article_figures_come_out_of_scaffold_cost(scaffold):
    one = as_json(scaffold(*ARTICLE))
    assert monthly(one, "lambda") == pytest.approx(1.62, abs=0.005)
    assert monthly(one, "ec2-single") == pytest.approx(12.26, abs=0.005)
    ten = as_json(scaffold(*[a if a != "1000000" else "10000000" for a in ARTICLE]))
    assert monthly(ten, "ec2-single") < monthly(ten, "lambda")
    assert ten["break_even_requests_per_month"]["ec2-single"] == pytest.approx(7.6e6, rel=0.01)
    assert set(one) == {"assumptions", "options", "break_even_requests_per_month"}
    assert {"id", "monthly_usd", "breakdown"} <= set(one["options"][0])
    # The article's load fits one t4g.small, so its figures stand.
    single = next(o for o in one["options"] if o["id"] == "ec2-single")
    assert single["capacity"]["count"] == 1
    assert single["available"] is True


def test_json_shows_the_plan_next_to_every_price(scaffold):
    data = as_json(scaffold("cost", "--json", "--gpu", "--memory-mb", "8192"))
    assert {"peak_to_average", "target_cpu_utilization"} <= set(data["assumptions"])
    options = {o["id"]: o for o in data["options"]}
    for option in options.values():
        assert {"available", "unavailable_reason", "capacity"} <= set(option)
    assert set(options["lambda"]["capacity"]) == {"peak_concurrency", "peak_requests_per_second"}
    for option_id in ("ec2-single", "ec2-asg", "fargate"):
        assert set(options[option_id]["capacity"]) == {
            "size", "count", "vcpus_each", "memory_mb_each", "concurrency_each",
        }  # fmt: skip
    # Neither Lambda nor Fargate has a GPU: shown, never cheaper, no break-even.
    for option_id in ("lambda", "fargate"):
        assert options[option_id]["available"] is False
        assert "GPU" in options[option_id]["unavailable_reason"]
    assert options["ec2-asg"]["available"] is True
    assert options["ec2-asg"]["unavailable_reason"] is None
    assert set(data["break_even_requests_per_month"].values()) == {None}


def test_recommend_json_carries_the_cost_of_the_same_profile(scaffold):
    data = as_json(
        scaffold(
            "recommend", "--json", "--data", "workload=http_api",
            "--data", "requests_per_month=3000000", "--data", "latency_sensitive=true",
        )
    )  # fmt: skip
    assert data["compute"] == "lambda"
    assert data["blockers"] == []
    # The generated Lambda project: arm64, HTTP API, no free tier, one warm
    # environment; the container projects: the planned instances (with their 30 GB
    # root volumes, plus the 512 MB of scratch space) or tasks behind an ALB with
    # WAF, sized for http_api's spiky peaks.
    same = as_json(
        scaffold(
            "cost", "--json", "--requests-per-month", "3000000", "--avg-duration-ms", "120",
            "--memory-mb", "256", "--architecture", "arm64", "--api-gateway", "http",
            "--no-free-tier", "--provisioned-concurrency", "1", "--load-balancer", "--waf",
            "--traffic-pattern", "spiky", "--root-volume-gb", "31",
        )
    )  # fmt: skip
    assert data["costs"] == same


def test_recommend_reports_blockers(scaffold):
    data = as_json(scaffold("recommend", "--json", "--data", "workload=ml_inference"))
    assert data["compute"] == "container"
    assert [b["id"] for b in data["blockers"]] == ["gpu", "workload"]
    assert data["mitigations"] == []


def test_recommend_reads_a_data_file_such_as_an_answers_file(scaffold, tmp_path):
    answers = tmp_path / ".copier-answers.yml"
    answers.write_text(
        "_src_path: https://example.invalid/t.git\n_commit: v0.1.0\ncompute: lambda\n"
        "project_name: demo-svc\nworkload: http_api\ntraffic_pattern: steady\n"
        "requests_per_month: 900000000\ndecision_record: {recommended: lambda}\n"
    )
    result = scaffold("recommend", "--data-file", str(answers))
    assert result.returncode == 0, result.stderr
    assert "Recommendation: Containers" in result.stdout
    assert "This project uses AWS Lambda." in result.stdout


def test_the_panel_explains_blockers_reasons_costs_and_break_even(scaffold):
    result = scaffold("recommend", "--data", "workload=worker")
    out = result.stdout
    expected = (
        "Lambda or not?", "Hard blockers for Lambda", "[timeout]", "Why:",
        "Monthly cost for this profile", "cheaper than Lambda above", "ec2-asg",
    )  # fmt: skip
    for text in expected:
        assert text in out
    assert all(len(line) <= 100 for line in out.splitlines())


def test_the_cost_report_has_table_chart_and_assumptions(scaffold):
    out = scaffold("cost").stdout
    assert "requests per month (log scale)" in out
    assert "100k" in out
    assert "1B" in out
    assert "S on the axis: ec2-single is cheaper above" in out
    assert "Assumptions:" in out
    assert "Not included anywhere" in out


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["recommend", "--data", "workload=batch"], "workload: must be one of"),
        (["recommend", "--data", "workload=http_api", "--data", "memory_mb=-5"], "memory_mb:"),
        (["recommend", "--data", "workload=http_api", "--data", "memory_mb=lots"], "memory_mb:"),
        (["recommend", "--data", "workload=http_api", "--data", "colour=blue"], "colour: unknown"),
        (["recommend", "--data", "noequals"], "noequals: expected KEY=VALUE"),
        (["recommend"], "workload: missing"),
        (["recommend", "--data-file", "/nonexistent/answers.yml"], "--data-file"),
        (["cost", "--requests-per-month", "-5"], "'--requests-per-month'"),
        (["cost", "--requests-per-month", "many"], "'--requests-per-month'"),
        (["cost", "--memory-mb", "20000"], "'--memory-mb'"),
        (["cost", "--architecture", "sparc"], "'--architecture'"),
        (["cost", "--instance-type", "m5.large"], "'--instance-type'"),
        (
            ["cost", "--instance-type", "t4g.micro", "--memory-mb", "1024"],
            "'--instance-type': t4g.micro cannot hold one request (1024 MB",
        ),
        (
            ["cost", "--gpu", "--instance-type", "t4g.small"],
            "a GPU workload needs a GPU instance type",
        ),
        (["cost", "--peak-to-average", "0.5"], "'--peak-to-average'"),
        (
            ["recommend", "--data", "workload=worker", "--data", "instance_type=t4g.small"],
            "instance_type: t4g.small cannot hold one request (2048 MB, 1.00 vCPU)",
        ),
        (
            ["recommend", "--data", "workload=http_api", "--data", "max_duration_seconds=4000"],
            "max_duration_seconds: a load-balanced service must answer within 3600 s",
        ),
        (
            ["recommend", "--data", "workload=ml_inference", "--data", "memory_mb=200000"],
            "memory_mb: no GPU instance type offered holds one request",
        ),
        (
            ["recommend", "--data", "workload=http_api", "--data", "peak_to_average=0.5"],
            "peak_to_average: must be 0 or a number from 1 to 1000",
        ),
    ],
)
def test_bad_input_is_one_line_naming_the_field_and_exit_2(scaffold, args, field):
    result = scaffold(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert field in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "content", [b"workload: [oops\n", b"just text", b"\xff\xfe"], ids=["yaml", "scalar", "binary"]
)
def test_malformed_data_files_are_one_line(scaffold, tmp_path, content):
    path = tmp_path / "data.yml"
    path.write_bytes(content)
    result = scaffold("recommend", "--data-file", str(path))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(f"error: --data-file {path}")


PROBE = """
import json, sys
from infra_scaffold.cli import main
sys.argv = ["scaffold", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"copier", "questionary", "rich",
                "jinja2", "pydantic", "plumbum"})
print("HEAVY=" + json.dumps(heavy), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "args",
    [["--help"], ["recommend", "--data", "workload=http_api"],
     ["recommend", "--json", "--data", "workload=worker"], ["cost"], ["cost", "--json"]],
)  # fmt: skip
def test_fast_commands_never_import_copier_or_questionary(args):
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=False
    )
    heavy = json.loads(result.stderr.rsplit("HEAVY=", 1)[1])
    assert heavy == []


def test_version(scaffold):
    from infra_scaffold import __version__

    assert scaffold("--version").stdout.strip() == f"scaffold {__version__}"
