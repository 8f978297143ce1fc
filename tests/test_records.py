"""Decision records: when a record is added, its number, and the template's files for them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from copier import run_copy
from support.render import REPO, answers_for, plain_template

from infra_scaffold import records

TREES = (REPO / "template" / "lambda", REPO / "template" / "container")


def _answers(**given):
    return answers_for(workload="http_api", **given)


def test_a_new_project_has_one_record_from_its_answers():
    answers = _answers()
    (entry,) = answers["decision_history"]
    assert entry["number"] == 1
    assert entry["compute"] == answers["compute"] == "lambda"
    assert entry["recommendation"] == answers["decision_record"]
    assert entry["answers"]["requests_per_month"] == answers["requests_per_month"]
    assert "project_name" not in entry["answers"]  # the checklist only


def test_a_project_from_before_the_history_gets_its_adr_0001_back():
    answers = _answers()
    legacy = {k: v for k, v in answers.items() if k != "decision_history"}
    assert records.recorded_history(legacy) == answers["decision_history"]
    plain = {**legacy, "decision_record": {}}  # rendered by plain copier
    assert records.recorded_history(plain)[0]["recommendation"] == {}


@pytest.mark.parametrize(
    ("change", "added"),
    [
        ({}, False),
        ({"requests_per_month": 2_000_000}, False),  # same recommendation, same compute
        ({"traffic_pattern": "steady", "requests_per_month": 900_000_000}, True),
        ({"compute": "container"}, True),
    ],
)
def test_a_record_is_added_when_the_recommendation_or_the_compute_changes(change, added):
    before = _answers()
    after = _answers(**change)
    longer = records.next_history(
        before["decision_history"], after, after["decision_record"], taken=()
    )
    assert (longer is not None) == added
    if longer:
        assert longer[0] == before["decision_history"][0]
        assert longer[1]["number"] == 2
        assert longer[1]["compute"] == after["compute"]
        assert longer[1]["recommendation"] == after["decision_record"]


def test_a_project_without_a_recorded_recommendation_gets_no_record_for_its_first_one():
    plain = records.recorded_history({**_answers(), "decision_history": [], "decision_record": {}})
    after = _answers()
    assert records.next_history(plain, after, after["decision_record"]) is None


def test_a_new_record_takes_the_next_number_free_in_docs_adr():
    before, after = _answers(), _answers(compute="container")
    taken = records.taken_numbers(
        ["0001-compute-platform.md", "0002-use-dynamodb.md", "0007-queues.md", "README.md"]
    )
    assert taken == {1, 2, 7}
    longer = records.next_history(
        before["decision_history"], after, after["decision_record"], taken
    )
    assert longer is not None
    assert longer[-1]["number"] == 8
    assert records.record_name(longer[-1]) == "docs/adr/0008-compute-platform.md"


@pytest.mark.parametrize("tree", TREES, ids=lambda tree: tree.name)
def test_the_template_has_a_file_for_each_record_it_renders(tree):
    adr = tree / "docs" / "adr"
    slots = [p.name for p in adr.iterdir() if "decision_record_files[" in p.name]
    indices = sorted(int(re.search(r"decision_record_files\[(\d+)\]", n).group(1)) for n in slots)
    assert indices == list(range(1, records.RECORD_SLOTS))  # 0001 is the first record


def test_records_past_the_last_file_stay_in_the_answers_and_the_rest_render(tmp_path):
    answers = _answers()
    history = answers["decision_history"]
    for number in range(2, records.RECORD_SLOTS + 3):
        compute = "container" if number % 2 == 0 else "lambda"
        history = records.next_history(
            history, {**answers, "compute": compute}, answers["decision_record"]
        )
        assert history is not None
    project = tmp_path / "p"
    run_copy(
        str(plain_template(tmp_path / "t")), project,
        data={**answers, "decision_history": history}, defaults=True, quiet=True,
    )  # fmt: skip
    rendered = sorted(p.name for p in (project / "docs" / "adr").iterdir())
    assert rendered == [f"{n:04d}-compute-platform.md" for n in range(1, records.RECORD_SLOTS + 1)]
    ninth = project / "docs" / "adr" / f"{records.RECORD_SLOTS:04d}-compute-platform.md"
    assert f"[ADR {records.RECORD_SLOTS - 1:04d}]" in ninth.read_text()


def test_the_partial_is_never_a_file_of_its_own(tmp_path):
    project = tmp_path / "p"
    run_copy(str(plain_template(tmp_path / "t")), project, data=_answers(), defaults=True)
    assert not list(Path(project).rglob("_record*"))
