"""The template renders what the last release rendered, except what a change means to change.

Issue 12 reorganised the template (two project trees, Terraform split by
concern, readable Markdown). This test was written before that change and is
kept: every variant is rendered from release ``BASELINE`` and from this
working tree with the same answers, and :func:`support.golden.compare_projects`
finds no difference beyond the declared ``EDITS``, the Terraform split (the
``.tf`` files of a folder, taken together, define the same blocks) and Markdown
escaping (the same HTML under CommonMark).

A later release that changes generated files on purpose lists the change in
``EDITS``, or moves ``BASELINE`` to the release before it.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from copier import run_copy
from support.golden import Comparison, Edit, compare_projects, template_of_release
from support.hostile import HOSTILE
from support.render import answers_for, plain_template

pytestmark = pytest.mark.slow

BASELINE = "0.2.0"

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

#: What the new template changes in generated files on purpose (see RELEASE-NOTES-12.md).
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


def _render(template: Path, dest: Path, given: dict[str, Any]) -> Path:
    given = dict(given)
    record = given.pop("decision_record", None)
    answers = answers_for(**given)
    if record is not None:  # plain copier: no recommendation recorded
        answers["decision_record"] = record
    run_copy(str(template), dest, data=answers, defaults=True, quiet=True)
    return dest


def _compare(baseline: Path, current: Path, work: Path, name: str) -> Comparison:
    given = VARIANTS[name]
    old = _render(baseline, work / "old" / name, given)
    return compare_projects(old, _render(current, work / "new" / name, given), EDITS)


@pytest.fixture(scope="module")
def comparisons(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Comparison]:
    """Every variant rendered from both templates and compared, in parallel processes."""
    work = tmp_path_factory.mktemp("golden")
    try:
        baseline = template_of_release(BASELINE, work / "baseline")
    except LookupError as error:  # a shallow clone: no history to take the release from
        pytest.skip(str(error))
    current = plain_template(work / "current")
    # spawn, not fork: forking a process that may hold threads can deadlock.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(4, os.cpu_count() or 1), mp_context=spawn) as pool:
        jobs = {name: pool.submit(_compare, baseline, current, work, name) for name in VARIANTS}
        return {name: job.result() for name, job in jobs.items()}


@pytest.mark.parametrize("name", VARIANTS)
def test_renders_what_the_release_rendered(comparisons: dict[str, Comparison], name: str) -> None:
    assert comparisons[name].differences == []


def test_every_declared_edit_is_needed(comparisons: dict[str, Comparison]) -> None:
    used = set().union(*(c.used for c in comparisons.values()))
    assert [e for e in EDITS if e not in used] == []
