"""Living templates: releases, `scaffold update`, plain `copier update`, switching compute.

Every test works on a real git repository holding this template with two
tagged releases, made in a temporary folder.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from support.render import REPO

from infra_scaffold import __version__

OLD, NEW = f"v{__version__}", "v99.0.0"
GITIGNORE_ADDITION = "# Added by the new release\n*.new-release\n"


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def commit_all(cwd: Path, message: str) -> None:
    git("add", "--all", cwd=cwd)
    git("-c", "commit.gpgsign=false", "commit", "--quiet", "-m", message, cwd=cwd)


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory) -> Path:
    """This template at OLD (the bundled release), and NEW with two changes."""
    repo = tmp_path_factory.mktemp("template-repo")
    shutil.copy2(REPO / "copier.yml", repo / "copier.yml")
    shutil.copytree(REPO / "template", repo / "template")
    git("init", "--quiet", "--initial-branch=main", cwd=repo)
    commit_all(repo, "release")
    git("tag", OLD, cwd=repo)
    with (repo / "template" / ".gitignore").open("a") as handle:
        handle.write(GITIGNORE_ADDITION)
    (repo / "template" / "CONTRIBUTING.md").write_text("Open an issue first.\n")
    commit_all(repo, "next release")
    git("tag", NEW, cwd=repo)
    return repo


def answers(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def new_project(scaffold, where: Path, name: str, template_repo: Path, *data: str) -> Path:
    args = [a for d in data for a in ("--data", d)]
    result = scaffold(
        "new", str(where / name), "--defaults", "--template", str(template_repo),
        "--vcs-ref", OLD, *args,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return where / name


def test_update_keeps_user_edits_and_records_the_new_release(scaffold, tmp_path, template_repo):
    project = new_project(scaffold, tmp_path, "edited-svc", template_repo, "workload=http_api")
    adr = project / "docs" / "adr" / "0001-compute-platform.md"
    adr.write_text(adr.read_text() + "\nOur own note, kept.\n")  # a file the release leaves
    gitignore = project / ".gitignore"
    gitignore.write_text("# Our own ignores\nscratch/\n" + gitignore.read_text())  # one it changes
    commit_all(project, "our edits")

    result = scaffold("update", str(project))

    assert result.returncode == 0, result.stderr
    assert adr.read_text().endswith("\nOur own note, kept.\n")
    merged = gitignore.read_text()
    assert merged.startswith("# Our own ignores\nscratch/\n")
    assert merged.endswith(GITIGNORE_ADDITION)
    assert (project / "CONTRIBUTING.md").read_text() == "Open an issue first.\n"
    assert answers(project)["_commit"] == NEW
    assert f"from {OLD} to {NEW}" in result.stdout
    assert "CONTRIBUTING.md" in result.stdout


def test_a_clashing_edit_is_marked_as_a_conflict_never_lost(scaffold, tmp_path, template_repo):
    project = new_project(scaffold, tmp_path, "clash-svc", template_repo, "workload=worker")
    gitignore = project / ".gitignore"
    gitignore.write_text(gitignore.read_text() + "# Ours at the very end\nlocal-only/\n")
    commit_all(project, "our edit where the release edits too")

    result = scaffold("update", str(project))

    assert result.returncode == 1
    text = gitignore.read_text()
    assert "<<<<<<< before updating" in text
    assert "local-only/" in text
    assert "*.new-release" in text
    assert ".gitignore (conflict)" in result.stdout
    assert "conflict markers" in result.stderr
    assert answers(project)["_commit"] == NEW


def test_plain_copier_update_works_on_a_bundled_project(scaffold, tmp_path, template_repo):
    from copier import run_update

    project = tmp_path / "bundled-svc"
    made = scaffold(
        "new", str(project), "--defaults", "--data", "workload=sqs_consumer",
        SCAFFOLD_TEMPLATE_REPOSITORY=str(template_repo),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert answers(project)["_src_path"] == str(template_repo)
    assert answers(project)["_commit"] == OLD

    run_update(str(project), defaults=True, overwrite=True, quiet=True, unsafe=False)

    assert answers(project)["_commit"] == NEW
    assert (project / "CONTRIBUTING.md").is_file()
    assert (project / ".gitignore").read_text().endswith(GITIGNORE_ADDITION)


def _snapshot(project: Path) -> tuple[str, dict[str, bytes]]:
    files = {
        str(p.relative_to(project)): p.read_bytes()
        for p in sorted(project.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(project).parts
    }
    return git("status", "--porcelain", cwd=project), files


@pytest.mark.parametrize("case", ["dirty", "no-answers", "not-git"])
def test_projects_copier_cannot_update_are_refused_and_left_alone(
    scaffold, tmp_path, template_repo, case
):
    project = new_project(scaffold, tmp_path, "refused-svc", template_repo, "workload=http_api")
    if case == "dirty":
        (project / "scratch.txt").write_text("work in progress")
        expected = "has uncommitted changes"
    elif case == "no-answers":
        (project / ".copier-answers.yml").unlink()
        commit_all(project, "lose the answers")
        expected = "has no .copier-answers.yml"
    else:
        shutil.rmtree(project / ".git")
        expected = "is not a git repository"
    before = _snapshot(project) if case != "not-git" else (None, _snapshot_files(project))

    result = scaffold("update", str(project))

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert expected in result.stderr
    after = _snapshot(project) if case != "not-git" else (None, _snapshot_files(project))
    assert after == before


def _snapshot_files(project: Path) -> dict[str, bytes]:
    return {str(p.relative_to(project)): p.read_bytes() for p in project.rglob("*") if p.is_file()}


def _fresh(scaffold, where: Path, name: str, template_repo: Path, *data: str) -> dict[str, bytes]:
    args = [a for d in data for a in ("--data", d)]
    result = scaffold(
        "new", str(where / name), "--defaults", "--no-git", "--template", str(template_repo),
        "--vcs-ref", NEW, *args,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return _snapshot_files(where / name)


def test_switching_compute_both_ways_equals_a_fresh_render(scaffold, tmp_path, template_repo):
    base = ["workload=http_api", "description=Orders API"]
    project = new_project(scaffold, tmp_path / "p", "orders-api", template_repo, *base)
    (project / "NOTES.md").write_text("Our own file.\n")
    commit_all(project, "our notes")

    to_container = scaffold("update", str(project), "--data", "compute=container")
    assert to_container.returncode == 0, to_container.stderr
    fresh = _fresh(
        scaffold, tmp_path / "c", "orders-api", template_repo, *base, "compute=container"
    )
    assert _snapshot(project)[1] == {**fresh, "NOTES.md": b"Our own file.\n"}
    assert not (project / "template.yaml").exists()
    assert (project / "Dockerfile").is_file()

    commit_all(project, "move to containers")
    to_lambda = scaffold("update", str(project), "--data", "compute=lambda")
    assert to_lambda.returncode == 0, to_lambda.stderr
    fresh = _fresh(scaffold, tmp_path / "l", "orders-api", template_repo, *base, "compute=lambda")
    assert _snapshot(project)[1] == {**fresh, "NOTES.md": b"Our own file.\n"}
    assert not (project / "Dockerfile").exists()


def test_update_reports_a_changed_recommendation_with_the_switch_command(
    scaffold, tmp_path, template_repo
):
    project = new_project(scaffold, tmp_path, "growing-api", template_repo, "workload=http_api")
    result = scaffold(
        "update", str(project), "--data", "traffic_pattern=steady",
        "--data", "requests_per_month=900000000",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "The checklist now recommends container (this project uses lambda)." in result.stdout
    assert "saves $" in result.stdout
    assert f"To switch: scaffold update {project} --data compute=container" in result.stdout
    record = answers(project)["decision_record"]
    assert record["recommended"] == "container"
    assert answers(project)["compute"] == "lambda"


def test_update_refuses_a_lambda_a_blocker_rules_out(scaffold, tmp_path, template_repo):
    project = new_project(scaffold, tmp_path, "gpu-svc", template_repo, "workload=ml_inference")
    result = scaffold("update", str(project), "--data", "compute=lambda")
    assert result.returncode == 2
    assert "compute: lambda is ruled out" in result.stderr
    assert git("status", "--porcelain", cwd=project) == ""


def test_the_template_needs_no_trust():
    raw = yaml.safe_load((REPO / "copier.yml").read_text())
    assert not {"_tasks", "_migrations", "_jinja_extensions"} & set(raw)


def test_generated_projects_check_for_template_releases(tmp_path):
    from support.render import plain_template, render

    for compute, workload in (("lambda", "http_api"), ("container", "worker")):
        project = render(
            plain_template(tmp_path / "t"), tmp_path / compute, workload=workload, compute=compute
        )
        workflow = yaml.safe_load(
            (project / ".github" / "workflows" / "template-update.yml").read_text()
        )
        steps = workflow["jobs"]["check-update"]["steps"]
        assert any("copier check-update" in step.get("run", "") for step in steps)
        assert "schedule" in workflow[True]  # YAML 1.1 reads the key `on` as True


def test_the_capacity_plan_is_recorded_and_copier_update_renders_it_again(
    scaffold, tmp_path, template_repo
):
    from copier import run_update

    project = new_project(
        scaffold, tmp_path, "busy-api", template_repo, "workload=http_api", "compute=container",
        "traffic_pattern=steady", "requests_per_month=300000000",
    )  # fmt: skip
    before = answers(project)["capacity_plan"]
    assert before["sized"] is True
    assert before["instances"]["count"] > 2

    run_update(str(project), defaults=True, overwrite=True, quiet=True, unsafe=False)

    assert answers(project)["_commit"] == NEW
    assert answers(project)["capacity_plan"] == before  # from the recorded answers only


def test_scaffold_update_sizes_the_plan_for_the_new_answers(scaffold, tmp_path, template_repo):
    from infra_scaffold.contract import load_contract
    from infra_scaffold.plan import make_plan

    project = new_project(scaffold, tmp_path, "growing-worker", template_repo, "workload=worker")
    small = answers(project)["capacity_plan"]

    result = scaffold("update", str(project), "--data", "requests_per_month=3000000")

    assert result.returncode == 0, result.stderr
    recorded = answers(project)
    given = {k: v for k, v in recorded.items() if not k.startswith("_")}
    given = {k: v for k, v in given.items() if k not in ("decision_record", "capacity_plan")}
    expected = make_plan(load_contract(template_repo), given).answers
    assert recorded["capacity_plan"] == expected["capacity_plan"]
    assert recorded["capacity_plan"]["instances"]["count"] > small["instances"]["count"]
    assert recorded["decision_record"] == expected["decision_record"]


def test_a_project_without_a_sized_plan_gets_one_from_scaffold_update(
    scaffold, tmp_path, template_repo
):
    project = new_project(scaffold, tmp_path, "older-job", template_repo, "workload=scheduled_job")
    path = project / ".copier-answers.yml"
    lines = path.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("capacity_plan:"))
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith(" "))
    path.write_text("".join(lines[:start] + lines[end:]))  # as a project made before plans
    commit_all(project, "an answers file from before capacity plans")

    result = scaffold("update", str(project))

    assert result.returncode == 0, result.stderr
    plan = answers(project)["capacity_plan"]
    assert plan["sized"] is True
    assert plan["schedule_expression"] == "rate(1 hour)"  # 730 runs a month


def test_an_instance_type_the_new_answers_outgrow_is_refused_with_the_plan_s_choice(
    scaffold, tmp_path, template_repo
):
    from infra_scaffold.contract import load_contract
    from infra_scaffold.plan import make_plan

    project = new_project(
        scaffold, tmp_path, "small-jobs", template_repo, "workload=worker", "memory_mb=1024"
    )
    recorded = answers(project)["instance_type"]
    given = {"project_name": "small-jobs", "workload": "worker", "memory_mb": 8192}
    choice = make_plan(load_contract(template_repo), given).answers["instance_type"]

    result = scaffold("update", str(project), "--data", "memory_mb=8192")

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert f"instance_type: {recorded} cannot hold one request (8192 MB" in result.stderr
    assert f"--data instance_type={choice} (the plan's choice)" in result.stderr
    assert git("status", "--porcelain", cwd=project) == ""


def test_moving_to_containers_takes_the_plan_s_instance_type(scaffold, tmp_path, template_repo):
    from infra_scaffold.capacity import Demand, instance_fleet
    from infra_scaffold.contract import load_contract
    from infra_scaffold.plan import make_plan

    busy = ["workload=http_api", "compute=lambda", "traffic_pattern=steady",
            "requests_per_month=2000000000"]  # fmt: skip
    project = new_project(scaffold, tmp_path, "busy-lambda", template_repo, *busy)
    assert "instance_type" not in answers(project)

    result = scaffold("update", str(project), "--data", "compute=container")

    assert result.returncode == 0, result.stderr
    given = dict(item.split("=", 1) for item in busy)
    planned = make_plan(
        load_contract(template_repo),
        {**given, "project_name": "busy-lambda", "compute": "container"},
    ).answers
    recorded = answers(project)
    assert recorded["instance_type"] == planned["instance_type"]
    assert recorded["capacity_plan"]["instances"]["instance_type"] == planned["instance_type"]
    # Copier's own default is the cheapest type that holds one request; at this
    # volume the plan's fleet is of another type, and the update must not mix them.
    memory = load_contract(template_repo).workload_table("http_api")["memory_mb"]
    assert planned["instance_type"] != instance_fleet(Demand(0, 1, memory)).size
