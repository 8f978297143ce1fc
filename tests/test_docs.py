"""Docs that match the code: every documented example runs, every figure is the model's."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from support.render import REPO

from infra_scaffold.capacity import CATALOGUE, FACTS, Demand, instance_fleet
from infra_scaffold.contract import load_contract
from infra_scaffold.cost import PRICE_TABLE, CostInputs, estimate
from infra_scaffold.decision import WorkloadProfile, find_blockers, recommend

DOCS = [*sorted((REPO / "docs").glob("*.md")), REPO / "README.md", REPO / "CHANGELOG.md"]
SNAPSHOTS = Path(__file__).parent / "snapshots"


def code_blocks(path: Path) -> list[str]:
    return re.findall(r"```(?:sh|text|yaml)?\n(.*?)```", path.read_text(), flags=re.S)


def documented_commands() -> list[tuple[str, str]]:
    found = []
    for path in DOCS:
        for block in code_blocks(path):
            for line in block.splitlines():
                command = line.split("  #")[0].strip()
                if re.match(r"scaffold (recommend|cost)\b", command):
                    found.append((path.name, command))
    return found


@pytest.mark.parametrize(("doc", "command"), documented_commands())
def test_every_documented_recommend_and_cost_example_runs(scaffold, doc, command):
    args = shlex.split(command)[1:]
    if "--data-file" in args:  # an answers file: use a real one
        return
    result = scaffold(*args)
    assert result.returncode == 0, f"{doc}: {command}\n{result.stderr}"


def test_the_readme_quickstart_is_two_commands_and_ci_runs_the_second():
    readme = (REPO / "README.md").read_text()
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = [b.strip() for b in re.findall(r"```sh\n(.*?)```", quickstart, flags=re.S)]
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    assert "scaffold new" in commands[0]
    assert commands[1] in (REPO / ".ci" / "run").read_text()


def test_the_quickstart_render_command_works(scaffold, tmp_path):
    readme = (REPO / "README.md").read_text()
    first = re.findall(r"```sh\n(.*?)```", readme.split("## Quickstart", 1)[1], flags=re.S)[0]
    render = first.split("&&")[-1].strip()
    args = shlex.split(render.replace('"$(mktemp -d)/orders-api"', str(tmp_path / "orders-api")))
    result = scaffold(*args[1:])
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "orders-api" / "template.yaml").is_file()


def test_the_cli_reference_is_generated_from_the_current_help():
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_cli_docs.py"), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def _section(text: str, heading: str) -> str:
    return text.split(f"\n## {heading}", 1)[1].split("\n## ", 1)[0]


def test_the_documented_price_table_is_the_model_s():
    text = _section((REPO / "docs" / "cost-model.md").read_text(), "Prices")
    rows = dict(re.findall(r"^\| `([a-z0-9_.]+)` \| ([0-9.]+) \|", text, flags=re.M))
    model = {p.key: p.usd for p in PRICE_TABLE if not p.key.startswith("ec2.")}
    assert {k: float(v) for k, v in rows.items()} == model


def test_the_documented_catalogue_and_facts_are_the_model_s():
    text = (REPO / "docs" / "cost-model.md").read_text()
    rows = re.findall(
        r"^\| `([a-z0-9.]+)` \| (\d+) \| (\d+) \| (\w+) \| ([^|]+) \| ([^|]+) \| ([0-9.]+) \|$",
        _section(text, "The instance catalogue"),
        flags=re.M,
    )
    documented = [
        (name, int(vcpus), int(memory), arch, gpu.strip() != "-", base.strip(), float(usd))
        for name, vcpus, memory, arch, gpu, base, usd in rows
    ]
    model = [
        (t.name, t.vcpus, t.memory_mb, t.architecture, t.gpu,
         f"{round(t.baseline * 100)}%" if t.baseline else "-", t.usd_per_hour)
        for t in CATALOGUE
    ]  # fmt: skip
    assert documented == model
    facts = re.findall(r"^\| `([a-z0-9_.]+)` \| ([0-9.]+) \|", _section(text, "The capacity facts"),
                       flags=re.M)  # fmt: skip
    assert {k: float(v) for k, v in facts} == {f.key: f.value for f in FACTS}


def test_the_worked_sizing_example_is_what_the_model_says():
    text = " ".join(_section((REPO / "docs" / "cost-model.md").read_text(), "Sizing").split())
    report = estimate(CostInputs(200_000_000, 500, 256))
    demand = report.inputs.demand
    asg = report.option("ec2-asg")
    figures = [
        f"{demand.average_rps:.1f} requests/s", f"{demand.peak_rps:.1f} requests/s",
        f"**{demand.peak_concurrency:.1f}**", f"**{demand.cpu_share:.3f} vCPU**",
        f"**{asg.capacity['concurrency_each']} at once**", f"**{asg.capacity['count']} instances**",
        f"**${asg.monthly_usd:,.2f}**", f"**${report.option('lambda').monthly_usd:,.2f}**",
        f"{report.break_even_requests_per_month['ec2-asg']:,} requests/month",
        f"${instance_fleet(demand, 'c7g.large').usd_per_month:,.2f}",
    ]  # fmt: skip
    assert asg.capacity["size"] == "t4g.small"
    assert not report.option("ec2-single").available
    for figure in figures:
        assert figure in text, figure
    plan = recommend(
        WorkloadProfile("http_api", 10, False, False, "steady", 200_000_000, 500, 256)
    ).capacity.record()
    assert f"**{plan['lambda']['reserved_concurrency']}**" in text
    assert f"**{plan['lambda']['throttling_rate_limit']} requests/s**" in text


def _usd(inputs: CostInputs, option: str) -> str:
    return f"${estimate(inputs).option(option).monthly_usd:,.2f}"


def test_the_worked_check_of_the_article_is_what_the_model_says():
    text = (REPO / "docs" / "cost-model.md").read_text()
    article = {"avg_duration_ms": 200, "memory_mb": 128, "architecture": "x86_64",
               "instance_type": "t4g.small"}  # fmt: skip
    for volume in (1_000_000, 10_000_000):
        cases = [
            (CostInputs(volume, **article, api_gateway="none"), "lambda"),
            (CostInputs(volume, **article, api_gateway="http"), "lambda"),
            (CostInputs(volume, **article, api_gateway="http", free_tier=True), "lambda"),
            (CostInputs(volume, **article), "ec2-single"),
            (CostInputs(volume, **article, waf=False), "ec2-asg"),
            (CostInputs(volume, **article), "ec2-asg"),
        ]
        for inputs, option in cases:
            assert _usd(inputs, option) in text, (volume, option)
    evens = estimate(CostInputs(1, **article)).break_even_requests_per_month
    assert f"{evens['ec2-single']:,}" in text
    no_waf = estimate(CostInputs(1, **article, waf=False)).break_even_requests_per_month
    assert f"{no_waf['ec2-asg'] / 1e6:.1f}M" in text
    assert f"{evens['ec2-asg'] / 1e6:.1f}M" in text
    alone = estimate(CostInputs(1, **article, api_gateway="none")).break_even_requests_per_month
    assert f"{alone['ec2-single'] / 1e6:.1f}M" in text
    # The article's load fits one t4g.small at 10M: its figures stand.
    ten = estimate(CostInputs(10_000_000, **article))
    assert ten.option("ec2-single").available
    assert ten.option("ec2-asg").capacity["count"] == 2
    flat = " ".join(text.split())
    assert f"holds {ten.option('ec2-single').capacity['concurrency_each']} at once" in flat


def test_every_blocker_is_documented():
    from dataclasses import replace

    from test_decision import BASE

    text = (REPO / "docs" / "decision.md").read_text()
    profiles = [
        replace(BASE, workload="http_api", max_duration_seconds=901, needs_gpu=True,
                memory_mb=20_000, max_payload_kb=9_999, ephemeral_storage_mb=20_000),
        replace(BASE, workload="websocket", needs_websockets=True),
        replace(BASE, workload="http_api", max_duration_seconds=60),
    ]  # fmt: skip
    ids = {b.id for p in profiles for b in find_blockers(p)}
    assert ids == {"timeout", "api_timeout", "persistent_connections", "gpu", "memory",
                   "payload", "storage", "workload"}  # fmt: skip
    for blocker_id in ids:
        assert f"| `{blocker_id}` |" in text


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(path):
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text()):
        assert (path.parent / target).exists(), f"{path.name}: {target}"


REPORTS = {
    "recommend-worker.txt": ["recommend", "--data", "workload=worker"],
    "recommend-http-api-latency.txt": [
        "recommend", "--data", "workload=http_api", "--data", "latency_sensitive=true",
    ],
    "cost-article.txt": [
        "cost", "--requests-per-month", "1000000", "--avg-duration-ms", "200",
        "--memory-mb", "128", "--architecture", "x86_64", "--api-gateway", "http",
        "--instance-type", "t4g.small",
    ],
    "cost-gpu.txt": ["cost", "--gpu", "--memory-mb", "8192", "--avg-duration-ms", "300",
                     "--api-gateway", "none"],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_reports_people_read_are_pinned(scaffold, name):
    """Snapshot: a change to what users read is reviewed, not accidental.

    Refresh with UPDATE_SNAPSHOTS=1 after checking the new output.
    """
    result = scaffold(*REPORTS[name])
    assert result.returncode == 0, result.stderr
    snapshot = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS"):
        snapshot.write_text(result.stdout)
    assert result.stdout == snapshot.read_text()


def _tree_files(block: str) -> tuple[str, set[str]]:
    """The root and the files of a ``tree``-style listing (notes after the names ignored)."""
    root, *lines = block.splitlines()
    files: set[str] = set()
    folders: list[str] = []
    for line in lines:
        match = re.match(r"((?:│   |    )*)[├└]── (\S+)", line)
        assert match, line
        depth, name = len(match.group(1)) // 4, match.group(2)
        folders[depth:] = [name.rstrip("/")]
        if not name.endswith("/"):
            files.add("/".join(folders))
    return root.rstrip("/"), files


def test_the_template_trees_in_the_docs_are_the_template():
    doc = (REPO / "docs" / "template-authoring.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```text\n(template/.*?)```", doc, flags=re.S)
    shown = dict(_tree_files(block) for block in blocks)
    assert set(shown) == {"template/lambda", "template/container", "template/partials"}
    for root, files in shown.items():
        actual = {p.relative_to(REPO / root).as_posix() for p in (REPO / root).rglob("*")}
        assert files == {f for f in actual if (REPO / root / f).is_file()}, root


def test_the_plan_s_throughput_next_to_the_benchmark_is_the_model_s():
    """Each served shape's default answers: the CPU a request is planned to keep busy,
    and what one vCPU serves at the target utilisation, as the plan computes them."""
    text = " ".join(
        _section((REPO / "docs" / "cost-model.md").read_text(), "Measured throughput").split()
    )
    defaults = load_contract(REPO).table("workload_defaults")
    for workload in ("http_api", "webhook", "websocket", "ml_inference"):
        answers = defaults[workload]
        demand = Demand(1, answers["avg_duration_ms"], answers["memory_mb"])
        cpu_ms = demand.cpu_share * demand.avg_duration_ms
        row = (
            f"| `{workload}` | {answers['avg_duration_ms']} ms, {answers['memory_mb']} MB |"
            f" {demand.cpu_share:.3f} vCPU | {cpu_ms:.1f} ms | {1000 / cpu_ms:,.1f} |"
            f" {1000 / cpu_ms * demand.utilization:,.1f} |"
        )
        assert row in text, row
