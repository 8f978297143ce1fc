"""The template's layout: two trees of ordinary names, rules in copier.yml, partials that fit.

docs/template-authoring.md describes the layout; these tests keep the template
to it, without rendering anything.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from support.render import REPO

from infra_scaffold.decision import WORKLOADS

TEMPLATE = REPO / "template"
COPIER = yaml.safe_load((REPO / "copier.yml").read_text(encoding="utf-8"))
LAYOUT = COPIER["project_layout"]["default"]
TREES = sorted(set(LAYOUT["trees"].values()))
#: `{% include 'template/partials/<folder>/' ~ workload ~ '<suffix>' %}`: a variant per workload.
PER_WORKLOAD = re.compile(r"\{%-? include 'template/(partials/[^']+)/' ~ workload ~ '([^']+)'")
#: Files copied as they are (no Jinja) that pass 400 lines: generated modules, not templates.
VERBATIM_OVER_400 = {"container/app/worker.py", "container/tests/test_worker.py"}


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _output_path(path: Path, tree: str) -> str:
    """Where a file of a tree lands in the project."""
    return path.relative_to(TEMPLATE / tree).as_posix().removesuffix(".jinja")


def _receivers(tree: str, output: str) -> set[str]:
    """The workloads whose projects get ``output`` (a path in a project of ``tree``)."""
    computes = {c for c, t in LAYOUT["trees"].items() if t == tree}
    workloads = {
        w
        for w in WORKLOADS
        if "lambda" not in computes or w in COPIER["lambda_limits"]["default"]["workloads"]
    }
    rule = LAYOUT["optional_files"][tree].get(output)
    if rule is None:
        return workloads
    shapes = COPIER["workload_defaults"]["default"]
    return {
        w
        for w in workloads
        if w in rule.get("workloads", []) or shapes[w]["container_shape"] in rule.get("shapes", [])
    }


def test_copier_renders_one_tree_per_compute():
    assert COPIER["_subdirectory"] == "template/{{ project_layout.trees[compute] }}"
    assert set(LAYOUT["trees"]) == set(COPIER["compute"]["choices"].values())
    assert {p.name for p in TEMPLATE.iterdir()} == {*TREES, "partials"}


def test_no_path_holds_a_condition_in_more_than_one_component():
    conditional = {
        path.relative_to(TEMPLATE).as_posix(): parts
        for path in _files(TEMPLATE)
        if len(parts := [p for p in path.relative_to(TEMPLATE).parts if "{%" in p]) > 1
    }
    assert conditional == {}
    named_by_rule = [p for p in _files(TEMPLATE) if "{%" in p.relative_to(TEMPLATE).as_posix()]
    assert named_by_rule == [], "optional files belong in project_layout.optional_files"


@pytest.mark.parametrize("tree", TREES)
def test_every_optional_file_is_in_its_tree(tree):
    outputs = {_output_path(p, tree) for p in _files(TEMPLATE / tree)}
    assert set(LAYOUT["optional_files"][tree]) - outputs == set()
    for path, rule in LAYOUT["optional_files"][tree].items():
        assert _receivers(tree, path), f"{path}: no project receives it"
        assert set(rule) <= {"workloads", "shapes"}, path


@pytest.mark.parametrize("tree", TREES)
def test_per_workload_files_have_a_variant_for_each_project_that_gets_them(tree):
    stubs = 0
    for path in _files(TEMPLATE / tree):
        match = PER_WORKLOAD.search(path.read_text(encoding="utf-8"))
        if not match:
            continue
        stubs += 1
        folder, suffix = REPO / "template" / match.group(1), match.group(2)
        variants = {p.name.removesuffix(suffix) for p in folder.iterdir()}
        assert variants == _receivers(tree, _output_path(path, tree)), path
    assert stubs > 0


def test_every_partial_is_included_somewhere():
    sources = "\n".join(p.read_text(encoding="utf-8") for p in _files(TEMPLATE))
    per_workload_folders = {f"template/{folder}" for folder, _ in PER_WORKLOAD.findall(sources)}
    unused = [
        name
        for path in _files(TEMPLATE / "partials")
        if (name := path.relative_to(REPO).as_posix()) not in sources
        and path.parent.relative_to(REPO).as_posix() not in per_workload_folders
    ]
    assert unused == []


def test_no_template_passes_400_lines():
    long = {
        path.relative_to(TEMPLATE).as_posix()
        for path in _files(TEMPLATE)
        if path.read_text(encoding="utf-8").count("\n") > 400
    }
    assert long == VERBATIM_OVER_400
    assert not any(name.endswith(".jinja") for name in long)
