"""Every valid answer set renders, and free text renders inertly in every file type.

A property-based test walks the answer space; a table of hostile strings
checks the escaping in YAML, JSON, TOML, HCL, Python, Markdown, Dockerfiles
and Makefiles of both project kinds. Markdown is read with a CommonMark parser:
the text must show as plain text, however little of it is escaped.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.files import parse, strings, structured_files
from support.hostile import HOSTILE
from support.markdown import paragraphs, shown_as_text
from support.render import REPO

from infra_scaffold.capacity import CATALOGUE, Demand, misfit
from infra_scaffold.contract import load_contract
from infra_scaffold.decision import CONTAINER_SHAPES, WORKLOADS
from infra_scaffold.plan import make_plan
from infra_scaffold.render import render_project
from infra_scaffold.sources import resolve_source

CONTRACT = load_contract(REPO)
MARK = "DESC:"


def _render(given: dict, folder: Path) -> Path:
    plan = make_plan(CONTRACT, given)
    dest = folder / str(given["project_name"])
    render_project(plan, dest, resolve_source(None, None), git=False)
    return dest


def _check_project(project: Path, description: str) -> None:
    seen_in = set()
    for path in structured_files(project):
        data = parse(path)  # raises if the file does not parse
        for text in strings(data):
            if MARK in text:
                assert description in text, f"{path.relative_to(project)}: {text!r}"
                seen_in.add(path.suffix)
    assert {".yml", ".toml"} <= seen_in, seen_in  # answers file; pyproject.toml
    for path in project.rglob("*"):
        if not path.is_file() or ".git" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        if path.name in ("Dockerfile", "Makefile", ".dockerignore") or path.suffix == ".sh":
            assert MARK not in text, f"free text in {path.name}"
    _check_markdown(project, description)


def _check_markdown(project: Path, description: str) -> None:
    """Every Markdown file holding the text shows it literally: plain text in a paragraph."""
    shown = shown_as_text(description).strip()
    holding = set()
    for path in project.rglob("*.md"):
        for paragraph in paragraphs(path.read_text(encoding="utf-8")):
            if MARK not in paragraph.text:
                continue
            where = path.relative_to(project)
            assert (paragraph.block, paragraph.level) == ("paragraph_open", 0), where
            assert paragraph.markup == frozenset(), f"{where}: {sorted(paragraph.markup)}"
            assert shown in paragraph.text, f"{where}: {paragraph.text!r}"
            holding.add(where.as_posix())
    assert holding == {"README.md", "docs/adr/0001-compute-platform.md"}


descriptions = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
    | st.sampled_from(["\n", "\t", "\r", "$", "{", "%", "\\", '"', "'", "#", "!"]),
    max_size=60,
).map(lambda text: f"{MARK}{text}")


@st.composite
def answer_sets(draw: st.DrawFn) -> dict[str, Any]:
    workload = draw(st.sampled_from(WORKLOADS))
    limit = draw(st.integers(1, 3600))
    name = draw(st.from_regex(r"[a-z][a-z0-9]{1,8}-[a-z0-9]{1,8}", fullmatch=True))
    if name.startswith(("aws", "ssm", "amazon", "xn")):
        name = "p" + name[1:]
    answers: dict[str, Any] = {
        "project_name": name,
        "description": draw(descriptions),
        "aws_region": draw(st.sampled_from(["us-east-1", "eu-west-1", "ap-southeast-2"])),
        "workload": workload,
        "max_duration_seconds": limit,
        "needs_websockets": workload == "websocket" and draw(st.booleans()),
        "needs_gpu": workload == "ml_inference" and draw(st.booleans()),
        "traffic_pattern": draw(st.sampled_from(["spiky", "steady"])),
        "requests_per_month": draw(st.integers(0, 10**10)),
        "avg_duration_ms": draw(st.integers(1, limit * 1000)),
        "memory_mb": draw(st.integers(128, 16_384)),
        "latency_sensitive": draw(st.booleans()),
    }
    blocked = make_plan(CONTRACT, answers).recommendation.blockers
    answers["compute"] = "container" if blocked else draw(st.sampled_from(["lambda", "container"]))
    if answers["compute"] == "container":
        job = Demand(
            0, 1, answers["memory_mb"], worker=CONTAINER_SHAPES[workload] == "worker",
            gpu=answers["needs_gpu"],
        )  # fmt: skip
        answers["instance_type"] = draw(
            st.sampled_from([t.name for t in CATALOGUE if misfit(t, job) is None])
        )
    elif workload == "http_api":
        answers["api_auth"] = draw(st.sampled_from(["jwt", "none"]))
    return answers


@pytest.mark.slow
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(answers=answer_sets())
def test_every_valid_answer_set_renders_and_parses(answers):
    with tempfile.TemporaryDirectory() as folder:
        project = _render(answers, Path(folder))
        _check_project(project, answers["description"])


@pytest.mark.slow
@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize(
    ("workload", "compute"), [("http_api", "lambda"), ("websocket", "container")]
)
def test_hostile_free_text_renders_inertly(tmp_path, hostile, workload, compute):
    description = f"{MARK}{hostile}"
    answers = {"project_name": "hostile-svc", "workload": workload, "compute": compute,
               "description": description}  # fmt: skip
    _check_project(_render(answers, tmp_path), description)
