"""The template's layout: two trees of ordinary names, rules in copier.yml, partials that fit.

docs/template-authoring.md describes the layout; these tests keep the template
to it (rendering one project, for a compute the template does not have yet).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from copier import run_copy
from support.render import REPO, plain_template

from infra_scaffold.decision import WORKLOADS

TEMPLATE = REPO / "template"
COPIER = yaml.safe_load((REPO / "copier.yml").read_text(encoding="utf-8"))
LAYOUT = COPIER["project_layout"]["default"]
TREES = sorted(set(LAYOUT["trees"].values()))
#: `{% include 'template/partials/<folder>/' ~ workload ~ '<suffix>' %}`: a variant per workload.
PER_WORKLOAD = re.compile(r"\{%-? include 'template/(partials/[^']+)/' ~ workload ~ '([^']+)'")
#: `{% include 'template/partials/<folder>/' ~ compute ~ '<suffix>' %}`: a variant per compute.
PER_COMPUTE = re.compile(r"\{%-? include 'template/(partials/[^']+)/' ~ compute ~ '([^']+)'")
#: Files copied as they are (no Jinja) that pass 400 lines: generated modules, not templates.
VERBATIM_OVER_400 = {"container/app/worker.py", "container/tests/test_worker.py"}


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _output_path(path: Path, tree: str) -> str:
    """Where a file of a tree lands in the project."""
    return path.relative_to(TEMPLATE / tree).as_posix().removesuffix(".jinja")


def _computes(tree: str) -> set[str]:
    return {compute for compute, name in LAYOUT["trees"].items() if name == tree}


def _receivers(tree: str, output: str) -> set[str]:
    """The workloads whose projects get ``output`` (a path in a project of ``tree``)."""
    computes = _computes(tree)
    workloads = {
        w
        for w in WORKLOADS
        if "lambda" not in computes or w in COPIER["lambda_limits"]["default"]["workloads"]
    }
    rule = LAYOUT["optional_files"][tree].get(output, {})
    if not computes & set(rule.get("computes", computes)):
        return set()
    if "workloads" not in rule and "shapes" not in rule:
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
        assert set(rule) <= {"computes", "workloads", "shapes"}, path
        assert set(rule.get("computes", ())) <= _computes(tree), f"{path}: not a compute of {tree}"


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


@pytest.mark.parametrize("tree", TREES)
def test_per_compute_files_have_a_variant_for_each_compute_of_the_tree(tree):
    for path in _files(TEMPLATE / tree):
        match = PER_COMPUTE.search(path.read_text(encoding="utf-8"))
        if not match:
            continue
        folder, suffix = REPO / "template" / match.group(1), match.group(2)
        names = [p.name for p in folder.iterdir()]
        variants = {name.removesuffix(suffix) for name in names if name.endswith(suffix)}
        assert variants == _computes(tree), path


def test_every_partial_is_included_somewhere():
    sources = "\n".join(p.read_text(encoding="utf-8") for p in _files(TEMPLATE))
    per_workload_folders = {
        f"template/{folder}"
        for pattern in (PER_WORKLOAD, PER_COMPUTE)
        for folder, _ in pattern.findall(sources)
    }
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


def test_computes_that_share_a_tree_get_its_files_but_not_each_other_s(tmp_path):
    """ECS on Fargate renders the container tree without the EC2 Terraform, and with its own."""
    assert LAYOUT["trees"]["fargate"] == LAYOUT["trees"]["container"] == "container"

    template = plain_template(tmp_path / "template")  # this tree, not the repository's tags

    def files(compute: str) -> set[str]:
        data = {"project_name": "other-svc", "workload": "http_api", "compute": compute}
        run_copy(str(template), tmp_path / compute, data=data, defaults=True, quiet=True)
        return {p.relative_to(tmp_path / compute).as_posix() for p in _files(tmp_path / compute)}

    rules = LAYOUT["optional_files"]["container"]
    only = {
        compute: {path for path, rule in rules.items() if rule.get("computes") == [compute]}
        for compute in ("container", "fargate")
    }
    assert only["container"] == {
        "terraform/asg.tf",
        "terraform/user_data.sh.tftpl",
        "terraform/tests/defaults.tftest.hcl",
    }
    assert only["fargate"] == {
        "terraform/ecs.tf", "terraform/scaling.tf", "terraform/tests/ecs.tftest.hcl",
    }  # fmt: skip
    ec2, fargate = files("container"), files("fargate")
    assert only["container"] <= ec2
    assert fargate == (ec2 - only["container"]) | only["fargate"]
