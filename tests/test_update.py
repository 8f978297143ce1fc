"""Living templates from git: `scaffold update`, plain `copier update`, switching compute.

Every test works on a real git repository holding this template with two
tagged releases, made in a temporary folder: a platform team's fork, as
projects made with `--template` record it. (Projects made from the bundled
template update from the package's release history: test_update_bundled.py.)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from support.git_tools import commit_all, git, tags
from support.render import REPO, template_trees

from infra_scaffold import __version__
from infra_scaffold.contract import COMPUTED_ANSWERS

OLD, NEW = f"v{__version__}", "v99.0.0"
GITIGNORE_ADDITION = "# Added by the new release\n*.new-release\n"
ADR_1 = "docs/adr/0001-compute-platform.md"


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory) -> Path:
    """This template at OLD (the bundled release), and NEW with two changes."""
    repo = tmp_path_factory.mktemp("template-repo")
    shutil.copy2(REPO / "copier.yml", repo / "copier.yml")
    shutil.copytree(REPO / "template", repo / "template")
    git("init", "--quiet", "--initial-branch=main", cwd=repo)
    commit_all(repo, "release")
    git("tag", OLD, cwd=repo)
    with (repo / "template" / "partials" / "shared" / ".gitignore").open("a") as handle:
        handle.write(GITIGNORE_ADDITION)
    for tree in template_trees(repo):
        (tree / "CONTRIBUTING.md").write_text("Open an issue first.\n")
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
        expected = "has uncommitted changes (scratch.txt)"
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


def _same_but_the_records(project: Path, fresh: dict[str, bytes], records: int) -> dict[str, bytes]:
    """The project is the fresh render plus our file, but for its decision records.

    Returns the project's records (path: content) for the caller to check.
    """
    files = _snapshot(project)[1]
    ours = {k: files.pop(k) for k in list(files) if k.startswith("docs/adr/")}
    fresh = dict(fresh)
    fresh.pop(ADR_1)  # a fresh project's only record is about its compute
    answers_now = yaml.safe_load(files.pop(".copier-answers.yml"))
    answers_fresh = yaml.safe_load(fresh.pop(".copier-answers.yml"))
    history, (first,) = answers_now.pop("decision_history"), answers_fresh.pop("decision_history")
    assert answers_now == answers_fresh
    assert len(history) == records
    assert history[-1] == {**first, "number": records}
    assert files == {**fresh, "NOTES.md": b"Our own file.\n"}
    assert sorted(ours) == [f"docs/adr/{n:04d}-compute-platform.md" for n in range(1, records + 1)]
    return ours


def test_switching_compute_both_ways_equals_a_fresh_render_plus_a_record(
    scaffold, tmp_path, template_repo
):
    base = ["workload=http_api", "description=Orders API"]
    project = new_project(scaffold, tmp_path / "p", "orders-api", template_repo, *base)
    (project / "NOTES.md").write_text("Our own file.\n")
    commit_all(project, "our notes")
    first = (project / ADR_1).read_bytes()

    to_container = scaffold("update", str(project), "--data", "compute=container")
    assert to_container.returncode == 0, to_container.stderr
    fresh = _fresh(
        scaffold, tmp_path / "c", "orders-api", template_repo, *base, "compute=container"
    )
    records = _same_but_the_records(project, fresh, 2)
    assert records[ADR_1] == first
    second = records["docs/adr/0002-compute-platform.md"].decode()
    assert "- Supersedes: [ADR 0001](0001-compute-platform.md)" in second
    assert "The service moves from AWS Lambda to **containers on EC2**" in second
    assert not (project / "template.yaml").exists()
    assert (project / "Dockerfile").is_file()

    commit_all(project, "move to containers")
    to_lambda = scaffold("update", str(project), "--data", "compute=lambda")
    assert to_lambda.returncode == 0, to_lambda.stderr
    fresh = _fresh(scaffold, tmp_path / "l", "orders-api", template_repo, *base, "compute=lambda")
    records = _same_but_the_records(project, fresh, 3)
    assert records[ADR_1] == first
    assert records["docs/adr/0002-compute-platform.md"].decode() == second
    third = records["docs/adr/0003-compute-platform.md"].decode()
    assert "- Supersedes: [ADR 0002](0002-compute-platform.md)" in third
    assert "The service moves from containers on EC2 to **AWS Lambda**" in third
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
    record = answers(project)["decision_record"]
    container = record["recommended"]  # EC2 or Fargate, whichever is cheaper for this load
    assert container in {"container", "fargate"}
    assert f"The checklist now recommends {container} (this project uses lambda)." in result.stdout
    assert "saves $" in result.stdout
    assert f"To switch: scaffold update {project} --data compute={container}" in result.stdout
    assert answers(project)["compute"] == "lambda"
    assert "docs/adr/0002-compute-platform.md supersedes" in result.stdout


def test_update_with_template_points_a_project_at_a_fork_and_records_it(
    scaffold, tmp_path, template_repo
):
    """A project made from one fork moves to another that holds its release."""
    project = new_project(scaffold, tmp_path, "moving-svc", template_repo, "workload=webhook")
    other = tmp_path / "other-fork"
    git("clone", "--quiet", str(template_repo), str(other), cwd=tmp_path)
    for tree in template_trees(other):
        (tree / "CODEOWNERS").write_text("* @platform-team\n")
    commit_all(other, "the other fork's own file")
    git("tag", "v99.1.0", cwd=other)
    (project / "NOTES.md").write_text("Our own file.\n")
    commit_all(project, "our notes")

    result = scaffold("update", str(project), "--template", str(other))

    assert result.returncode == 0, result.stderr
    assert answers(project)["_src_path"] == str(other)
    assert answers(project)["_commit"] == "v99.1.0"
    assert (project / "CODEOWNERS").read_text() == "* @platform-team\n"
    assert (project / "CONTRIBUTING.md").is_file()  # v99.0.0's change came along
    assert (project / "NOTES.md").read_text() == "Our own file.\n"
    assert f"now records its template source as {other}" in result.stdout
    assert tags(project) == []

    for tree in template_trees(other):
        (tree / "CODEOWNERS").write_text("* @platform-team @security\n")
    commit_all(other, "the next release of the other fork")
    git("tag", "v99.2.0", cwd=other)
    commit_all(project, "the update")
    from copier import run_update

    run_update(str(project), defaults=True, overwrite=True, quiet=True, unsafe=False)

    assert answers(project)["_commit"] == "v99.2.0"
    assert (project / "CODEOWNERS").read_text() == "* @platform-team @security\n"


def test_update_refuses_a_lambda_a_blocker_rules_out(scaffold, tmp_path, template_repo):
    project = new_project(scaffold, tmp_path, "gpu-svc", template_repo, "workload=ml_inference")
    result = scaffold("update", str(project), "--data", "compute=lambda")
    assert result.returncode == 2
    assert "compute: lambda is ruled out" in result.stderr
    assert git("status", "--porcelain", cwd=project) == ""


def test_the_template_needs_no_trust():
    raw = yaml.safe_load((REPO / "copier.yml").read_text())
    assert not {"_tasks", "_migrations", "_jinja_extensions"} & set(raw)


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
    given = {k: v for k, v in given.items() if k not in COMPUTED_ANSWERS}
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


def test_a_recorded_instance_type_the_new_answers_outgrow_gives_way_to_the_plan_s_choice(
    scaffold, tmp_path, template_repo
):
    from infra_scaffold.contract import load_contract
    from infra_scaffold.plan import make_plan

    project = new_project(
        scaffold, tmp_path, "small-jobs", template_repo, "workload=worker", "memory_mb=1024",
        "compute=container",
    )  # fmt: skip
    recorded = answers(project)["instance_type"]
    given = {
        "project_name": "small-jobs", "workload": "worker", "memory_mb": 8192,
        "compute": "container",
    }  # fmt: skip
    choice = make_plan(load_contract(template_repo), given).answers["instance_type"]
    assert choice != recorded

    result = scaffold("update", str(project), "--data", "memory_mb=8192")

    assert result.returncode == 0, result.stderr
    notice = " ".join(result.stdout.split())
    assert f"instance_type: {recorded} -> {choice}: {recorded} cannot hold one request" in notice
    assert answers(project)["instance_type"] == choice
    assert answers(project)["capacity_plan"]["instances"]["instance_type"] == choice


def test_an_instance_type_given_that_cannot_hold_a_request_is_refused(
    scaffold, tmp_path, template_repo
):
    project = new_project(scaffold, tmp_path, "tiny-jobs", template_repo, "workload=worker")

    result = scaffold(
        "update", str(project), "--data", "memory_mb=8192", "--data", "instance_type=t4g.small"
    )

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "instance_type: t4g.small cannot hold one request (8192 MB" in result.stderr
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


# --- From the last release to this template ----------------------------------------------

#: Edits a team made to terraform/main.tf of a 0.2.0 project: one in a block this
#: template keeps in main.tf (the locals), one in a block it moved to waf.tf.
MAIN_TF_EDITS = (
    ('  asg_name   = "${var.project_name}-asg"\n',
     '  asg_name   = "${var.project_name}-asg"\n  team       = "payments" # our own local\n'),
    ("        limit              = var.waf_rate_limit\n",
     "        limit              = 500 # our own limit\n"),
)  # fmt: skip


@pytest.fixture(scope="module")
def release_repo(tmp_path_factory) -> Path:
    """A template repository holding release 0.2.0 and, tagged NEW, this template."""
    from support.golden import template_of_release

    repo = tmp_path_factory.mktemp("release-repo")
    template_of_release("0.2.0", repo)
    git("init", "--quiet", "--initial-branch=main", cwd=repo)
    commit_all(repo, "0.2.0")
    git("tag", "v0.2.0", cwd=repo)
    shutil.rmtree(repo / "template")
    shutil.copy2(REPO / "copier.yml", repo / "copier.yml")
    shutil.copytree(REPO / "template", repo / "template")
    commit_all(repo, "this template")
    git("tag", NEW, cwd=repo)
    return repo


def _project_of_0_2_0(scaffold, where: Path, release_repo: Path) -> Path:
    result = scaffold(
        "new", str(where), "--defaults", "--template", str(release_repo), "--vcs-ref", "v0.2.0",
        "--data", "workload=http_api", "--data", "compute=container",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (where / "terraform" / "main.tf").read_text().count("\nresource ") > 40
    return where


def test_a_0_2_0_project_updates_to_terraform_by_concern(scaffold, tmp_path, release_repo):
    project = _project_of_0_2_0(scaffold, tmp_path / "plain-svc", release_repo)
    adr_before = (project / ADR_1).read_bytes()

    result = scaffold("update", str(project))

    assert result.returncode == 0, result.stderr
    fresh = _fresh(
        scaffold, tmp_path / "fresh", "plain-svc", release_repo,
        "workload=http_api", "compute=container",
    )  # fmt: skip
    updated = _snapshot_files(project)
    updated.pop(".copier-answers.yml"), fresh.pop(".copier-answers.yml")
    # A decision record is history: ADR 0001 stays as 0.2.0 wrote it.
    assert updated.pop(ADR_1) == adr_before
    fresh.pop(ADR_1)
    assert {k: v for k, v in updated.items() if not k.startswith(".git/")} == fresh
    assert (project / "terraform" / "waf.tf").is_file()


def test_edits_to_main_tf_of_0_2_0_are_kept_or_marked(scaffold, tmp_path, release_repo):
    project = _project_of_0_2_0(scaffold, tmp_path / "edited-svc", release_repo)
    main_tf = project / "terraform" / "main.tf"
    text = main_tf.read_text()
    for before, after in MAIN_TF_EDITS:
        assert text.count(before) == 1
        text = text.replace(before, after)
    main_tf.write_text(text)
    commit_all(project, "our terraform edits")

    result = scaffold("update", str(project))

    merged = main_tf.read_text()
    for _, after in MAIN_TF_EDITS:
        assert after in merged, merged  # never lost: merged, or inside conflict markers
    assert result.returncode == 1, result.stdout + result.stderr
    assert "terraform/main.tf (conflict)" in result.stdout
    assert "<<<<<<< before updating" in merged
    assert (project / "terraform" / "waf.tf").is_file()


def test_switching_between_ec2_and_fargate_keeps_the_edits_in_app(
    scaffold, tmp_path, template_repo
):
    """EC2 -> Fargate -> EC2 with the user's own job code: the app is the same on both, so
    only the infrastructure changes, and each move records a superseding decision."""
    base = ["workload=worker", "description=Resize images", "compute=container"]
    project = new_project(scaffold, tmp_path / "p", "resizer", template_repo, *base)
    jobs = project / "app" / "jobs.py"
    edited = jobs.read_text() + "\n\nRESIZE_TO = (640, 480)  # our own edit\n"
    jobs.write_text(edited)
    (project / "NOTES.md").write_text("Our own file.\n")
    commit_all(project, "our job and notes")
    first = (project / ADR_1).read_bytes()

    to_fargate = scaffold("update", str(project), "--data", "compute=fargate")
    assert to_fargate.returncode == 0, to_fargate.stderr
    assert jobs.read_text() == edited
    assert answers(project)["compute"] == "fargate"
    assert (project / "terraform" / "ecs.tf").is_file()
    assert not (project / "terraform" / "asg.tf").exists()
    assert not (project / "terraform" / "user_data.sh.tftpl").exists()
    fresh = _fresh(scaffold, tmp_path / "f", "resizer", template_repo,
                   *base[:-1], "compute=fargate")  # fmt: skip
    fresh["app/jobs.py"] = edited.encode()
    records = _same_but_the_records(project, fresh, 2)
    assert records[ADR_1] == first
    second = records["docs/adr/0002-compute-platform.md"].decode()
    assert "- Supersedes: [ADR 0001](0001-compute-platform.md)" in second
    assert "The service moves from containers on EC2 to **containers on ECS Fargate**" in second

    commit_all(project, "move to Fargate")
    to_ec2 = scaffold("update", str(project), "--data", "compute=container")
    assert to_ec2.returncode == 0, to_ec2.stderr
    assert jobs.read_text() == edited
    assert (project / "terraform" / "asg.tf").is_file()
    assert not (project / "terraform" / "ecs.tf").exists()
    assert not (project / "terraform" / "tests" / "ecs.tftest.hcl").exists()
    third = (project / "docs/adr/0003-compute-platform.md").read_text()
    assert "- Supersedes: [ADR 0002](0002-compute-platform.md)" in third
    assert "The service moves from containers on ECS Fargate to **containers on EC2**" in third
    assert (project / "NOTES.md").read_text() == "Our own file.\n"
