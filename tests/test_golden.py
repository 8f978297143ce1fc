"""The template renders what the last release rendered, except what a change means to change.

Issue 12 reorganised the template (two project trees, Terraform split by
concern, readable Markdown) in release ``LAYOUT``. This test was written before
that change and is kept: every variant is rendered from release ``BASELINE``
and from release ``LAYOUT`` (both from the release history the package
carries, so it runs in any clone) with the answers ``scaffold new`` planned
for it when ``LAYOUT`` was released (``tests/golden/answers-0.3.0.json``; later
answers may hold values those releases never offered), and
:func:`support.golden.compare_projects` finds no difference beyond the
declared ``EDITS``, the Terraform split (the ``.tf`` files of a folder, taken
together, define the same blocks) and Markdown escaping (the same HTML under
CommonMark).

``VARIANTS`` and :func:`_answers` made that file: run ``python -c "import
test_golden as t; t.write_answers()"`` from ``tests/`` only to golden-test a
new layout change against a new pair of releases.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from copier import run_copy
from support.golden import Comparison, Edit, compare_projects, template_of_release
from support.hostile import HOSTILE
from support.render import answers_for

pytestmark = pytest.mark.slow

BASELINE = "0.2.0"
LAYOUT = "0.3.0"
ANSWERS = Path(__file__).parent / "golden" / f"answers-{LAYOUT}.json"

#: Every workload of both kinds, and the option combinations the other tests render.
VARIANTS: dict[str, dict[str, Any]] = {
    **{
        f"lambda-{workload}": {"compute": "lambda", "workload": workload}
        for workload in (
            "http_api", "webhook", "s3_events", "sqs_consumer", "dynamodb_stream", "scheduled_job"
        )
    },
    "lambda-http_api-warm": {
        "compute": "lambda", "workload": "http_api", "latency_sensitive": True,
        "provisioned_concurrency": 3,
    },
    "lambda-http_api-public": {"compute": "lambda", "workload": "http_api", "api_auth": "none"},
    "lambda-webhook-warm": {"compute": "lambda", "workload": "webhook", "latency_sensitive": True},
    "lambda-sqs_consumer-45s": {
        "compute": "lambda", "workload": "sqs_consumer", "max_duration_seconds": 45,
    },
    **{
        f"container-{workload}": {"compute": "container", "workload": workload}
        for workload in (
            "http_api", "webhook", "websocket", "worker", "ml_inference", "sqs_consumer",
            "s3_events", "dynamodb_stream", "scheduled_job",
        )
    },
    "container-ml_inference-g5": {
        "compute": "container", "workload": "ml_inference", "instance_type": "g5.xlarge",
    },
    "container-http_api-gpu": {
        "compute": "container", "workload": "http_api", "instance_type": "g4dn.xlarge",
    },
    "lambda-scheduled_job-plain": {
        "compute": "lambda", "workload": "scheduled_job", "decision_record": {},
    },
    "container-http_api-plain": {
        "compute": "container", "workload": "http_api", "decision_record": {},
    },
    **{
        f"{compute}-hostile-{number}": {
            "compute": compute, "workload": workload, "description": text,
        }
        for number, text in enumerate(HOSTILE)
        for compute, workload in (("lambda", "http_api"), ("container", "websocket"))
    },
}  # fmt: skip

#: What the new template changes in generated files on purpose (CHANGELOG.md, 0.3.0).
EDITS: tuple[Edit, ...] = (
    # terraform/main.tf became one file per concern: what points at it points at the concern.
    Edit("app/jobs.py", '(terraform/main.tf, "Event source")', "(terraform/events.tf)"),
    Edit("tests/test_jobs.py", "sends (terraform/main.tf)", "sends (terraform/events.tf)"),
    Edit(
        "README.md",
        "`variables.tf`, `main.tf`, `outputs.tf`,",
        "`variables.tf`, `outputs.tf`, `main.tf` (lookups and names the other files share), one"
        " file per concern (`kms.tf`, `iam.tf`, `network.tf`, `asg.tf`, `alarms.tf`, ...; each"
        " opens with what it holds),",
    ),
)


def _answers(given: dict[str, Any]) -> dict[str, Any]:
    """The answers ``scaffold new`` planned for a variant when the layout was released."""
    given = dict(given)
    record = given.pop("decision_record", None)
    answers = answers_for(**given)
    if record is not None:  # plain copier: no recommendation recorded
        answers["decision_record"] = record
    return answers


def _render(template: Path, dest: Path, answers: dict[str, Any]) -> Path:
    run_copy(str(template), dest, data=answers, defaults=True, quiet=True)
    return dest


def write_answers() -> None:
    """(Re)take the answers of every variant from today's planner (see the module docstring)."""
    from infra_scaffold.contract import load_contract

    with tempfile.TemporaryDirectory() as folder:
        keys = set(load_contract(template_of_release(LAYOUT, Path(folder))).keys)
    planned = {
        name: {k: v for k, v in _answers(given).items() if k in keys or k == "decision_record"}
        for name, given in VARIANTS.items()
    }
    ANSWERS.write_text(json.dumps(planned, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _compare(baseline: Path, layout: Path, work: Path, name: str) -> Comparison:
    answers = json.loads(ANSWERS.read_text(encoding="utf-8"))[name]
    old = _render(baseline, work / "old" / name, answers)
    return compare_projects(old, _render(layout, work / "new" / name, answers), EDITS)


@pytest.fixture(scope="module")
def comparisons(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Comparison]:
    """Every variant rendered from both templates and compared, in parallel processes."""
    work = tmp_path_factory.mktemp("golden")
    baseline = template_of_release(BASELINE, work / "baseline")
    layout = template_of_release(LAYOUT, work / "layout")
    # spawn, not fork: forking a process that may hold threads can deadlock.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(4, os.cpu_count() or 1), mp_context=spawn) as pool:
        jobs = {name: pool.submit(_compare, baseline, layout, work, name) for name in VARIANTS}
        return {name: job.result() for name, job in jobs.items()}


@pytest.mark.parametrize("name", VARIANTS)
def test_renders_what_the_release_rendered(comparisons: dict[str, Comparison], name: str) -> None:
    assert comparisons[name].differences == []


def test_every_declared_edit_is_needed(comparisons: dict[str, Comparison]) -> None:
    used = set().union(*(c.used for c in comparisons.values()))
    assert [e for e in EDITS if e not in used] == []
