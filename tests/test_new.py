"""`scaffold new`: answers without prompts, bad input, atomic rendering, template sources."""

from __future__ import annotations

import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from support.render import REPO, template_tree, template_trees
from support.wheel import build_wheel, install_wheel

from infra_scaffold import __version__
from infra_scaffold.release import RECORD, digest, parse_record, tree_files
from infra_scaffold.sources import DEFAULT_REPOSITORY


def answers_file(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def test_defaults_render_a_committed_project_recording_the_template_release(scaffold, tmp_path):
    from infra_scaffold import __version__

    dest = tmp_path / "orders-api"
    result = scaffold("new", str(dest), "--defaults", "--data", "workload=sqs_consumer")
    assert result.returncode == 0, result.stderr
    answers = answers_file(dest)
    assert answers["_src_path"] == DEFAULT_REPOSITORY
    assert answers["_commit"] == f"v{__version__}"
    assert answers["project_name"] == "orders-api"
    assert answers["compute"] == "lambda"
    assert answers["decision_record"]["recommended"] == "lambda"
    log = subprocess.run(
        ["git", "log", "--format=%s"], cwd=dest, capture_output=True, text=True, check=True
    )
    assert log.stdout.splitlines() == [f"Scaffold orders-api with infra-scaffold {__version__}"]
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=dest, capture_output=True, text=True, check=True
    )
    assert status.stdout == ""
    assert "Next steps:" in result.stdout
    assert "make test" in result.stdout


def test_no_git_leaves_a_plain_folder(scaffold, tmp_path):
    dest = tmp_path / "plain-svc"
    result = scaffold("new", str(dest), "--defaults", "--no-git", "--data", "workload=worker")
    assert result.returncode == 0, result.stderr
    assert not (dest / ".git").exists()
    answers = answers_file(dest)
    # compute defaults to the recommendation: for a default worker, a container option
    assert answers["compute"] == answers["decision_record"]["recommended"]
    assert answers["compute"] in {"container", "fargate"}


def test_data_file_with_data_overrides(scaffold, tmp_path):
    org = tmp_path / "org.yml"
    org.write_text("aws_region: eu-west-1\nworkload: webhook\nrequests_per_month: 5\n")
    dest = tmp_path / "hooks"
    result = scaffold(
        "new", str(dest), "--defaults", "--data-file", str(org), "--data", "requests_per_month=7"
    )
    assert result.returncode == 0, result.stderr
    answers = answers_file(dest)
    assert (answers["aws_region"], answers["workload"]) == ("eu-west-1", "webhook")
    assert answers["requests_per_month"] == 7


def test_without_a_terminal_missing_answers_stop_it_before_anything_is_written(scaffold, tmp_path):
    dest = tmp_path / "svc-one"
    result = scaffold("new", str(dest), "--data", "workload=http_api")
    assert result.returncode == 2
    assert result.stderr.startswith("error: description: missing")
    assert "--defaults" in result.stderr
    assert not dest.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (["project_name=Orders_API"], "project_name: must be a slug"),
        (["project_name=" + "a" * 25], "project_name: must be 3 to 24 characters long"),
        (["project_name=terraform"], "project_name: is a reserved word"),
        (["project_name=aws-orders"], "project_name: must not start with aws"),
        (["memory_mb=99999999"], "memory_mb: must be an integer from 128 to 262144"),
        (["max_duration_seconds=0"], "max_duration_seconds: must be an integer from 1"),
        (["workload=batch"], "workload: must be one of"),
        (["traffic_pattern=bursty"], "traffic_pattern: must be one of: spiky, steady"),
        (["aws_region=moon-1"], "aws_region: must be an AWS region code"),
        (["description=bell\x07"], "description: must not contain control characters"),
        (["workload=worker", "compute=lambda"], "compute: lambda is ruled out: One run may take"),
        (["workload=ml_inference", "compute=lambda"], "compute: lambda is ruled out: It needs"),
        (["workload=ml_inference", "compute=fargate"],
         "compute: fargate is ruled out: It needs a GPU and Fargate has none"),
        (["workload=ml_inference", "needs_gpu=true", "compute=fargate", "traffic_pattern=steady"],
         "compute: fargate is ruled out: It needs a GPU and Fargate has none"),
        (["workload=worker", "compute=container", "instance_type=m5.huge"],
         "instance_type: must be one of"),
        (["workload=ml_inference", "compute=container", "instance_type=t4g.small"],
         "instance_type: a GPU workload needs a GPU instance type"),
        (["workload=worker", "compute=container", "memory_mb=4096", "instance_type=t4g.medium"],
         "instance_type: t4g.medium cannot hold one request (4096 MB, 1.00 vCPU)"),
        (["max_duration_seconds=3601", "compute=container"],
         "max_duration_seconds: a load-balanced service must answer within 3600 s"),
    ],
)  # fmt: skip
def test_every_invalid_answer_is_one_line_exit_2_and_nothing_written(
    scaffold, tmp_path, data, message
):
    dest = tmp_path / "new-svc"
    args = [a for d in ["workload=http_api", *data] for a in ("--data", d)]
    result = scaffold("new", str(dest), "--defaults", *args)
    assert result.returncode == 2, result.stdout
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: {message}")
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_non_empty_destination_is_refused_with_a_pointer_to_update(scaffold, tmp_path):
    dest = tmp_path / "existing"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    result = scaffold("new", str(dest), "--defaults", "--data", "workload=http_api")
    assert result.returncode == 2
    assert f"scaffold update {dest}" in result.stderr
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]


def test_an_empty_destination_folder_is_fine(scaffold, tmp_path):
    dest = tmp_path / "empty-svc"
    dest.mkdir()
    result = scaffold("new", str(dest), "--defaults", "--data", "workload=http_api")
    assert result.returncode == 0, result.stderr
    assert (dest / ".copier-answers.yml").is_file()


def test_missing_parent_folders_are_created(scaffold, tmp_path):
    dest = tmp_path / "a" / "b" / "deep-svc"
    result = scaffold("new", str(dest), "--defaults", "--data", "workload=http_api")
    assert result.returncode == 0, result.stderr
    assert dest.is_dir()


def test_a_render_failure_leaves_nothing_behind(scaffold, tmp_path):
    fork = tmp_path / "fork"
    shutil.copytree(REPO / "template", fork / "template")
    shutil.copy2(REPO / "copier.yml", fork / "copier.yml")
    (template_tree(fork, "lambda") / "broken.txt.jinja").write_text(
        "{{ no_such_answer.attribute }}"
    )
    dest = tmp_path / "out" / "broken-svc"
    result = scaffold(
        "new", str(dest), "--defaults", "--data", "workload=http_api", "--template", str(fork)
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: the template could not be rendered")
    assert not (tmp_path / "out").exists()


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def _template_repo(path: Path, tags: list[str]) -> Path:
    """A git repository holding this template, tagged with ``tags`` in order."""
    path.mkdir(parents=True)
    shutil.copy2(REPO / "copier.yml", path / "copier.yml")
    shutil.copytree(REPO / "template", path / "template")
    _git("init", "--quiet", "--initial-branch=main", cwd=path)
    for tag in tags:
        for tree in template_trees(path):
            (tree / "RELEASE.jinja").write_text(f"{tag}\n")
        _git("add", "--all", cwd=path)
        _git("-c", "commit.gpgsign=false", "commit", "--quiet", "-m", tag, cwd=path)
        _git("tag", tag, cwd=path)
    return path


def test_a_local_template_path_is_recorded_absolute(scaffold, tmp_path):
    fork = tmp_path / "forks" / "ours"
    shutil.copytree(REPO / "template", fork / "template")
    shutil.copy2(REPO / "copier.yml", fork / "copier.yml")
    dest = tmp_path / "svc-from-fork"
    result = scaffold(
        "new", str(dest), "--defaults", "--data", "workload=http_api",
        "--template", "forks/ours", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert answers_file(dest)["_src_path"] == str(fork)


def test_git_template_renders_the_latest_tag_or_the_asked_ref(scaffold, tmp_path):
    repo = _template_repo(tmp_path / "tpl", ["v1.0.0", "v1.1.0", "v2.0.0rc1"])
    latest = tmp_path / "svc-latest"
    pinned = tmp_path / "svc-pinned"
    env = {"SCAFFOLD_TEMPLATE": str(repo)}
    first = scaffold("new", str(latest), "--defaults", "--data", "workload=http_api", **env)
    second = scaffold(
        "new", str(pinned), "--defaults", "--data", "workload=http_api", "--vcs-ref", "v1.0.0",
        **env,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert (latest / "RELEASE").read_text() == "v1.1.0\n"
    assert answers_file(latest)["_commit"] == "v1.1.0"
    assert (pinned / "RELEASE").read_text() == "v1.0.0\n"
    assert answers_file(pinned)["_commit"] == "v1.0.0"


def test_vcs_ref_without_a_template_renders_a_release_of_the_bundled_history(scaffold, tmp_path):
    from copier import run_copy

    from infra_scaffold import history

    oldest = history.releases()[0]
    dest = tmp_path / "svc-old"
    result = scaffold(
        "new", str(dest), "--defaults", "--no-git", "--vcs-ref", f"v{oldest}",
        "--data", "workload=worker",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert answers_file(dest)["_src_path"] == DEFAULT_REPOSITORY
    assert answers_file(dest)["_commit"] == f"v{oldest}"
    recorded = {k: v for k, v in answers_file(dest).items() if not k.startswith("_")}
    theirs = tmp_path / "theirs"
    template = history.release_template(oldest, tmp_path / "release")
    run_copy(str(template), theirs, data=recorded, defaults=True, quiet=True)
    assert _tree(dest) == _tree(theirs)  # that release, exactly

    missing = scaffold("new", str(tmp_path / "svc-x"), "--defaults", "--vcs-ref", "v1.0.0")
    assert missing.returncode == 2
    assert "template release 1.0.0 is not in the release history" in missing.stderr
    assert f"(it holds {', '.join(history.releases())})" in missing.stderr
    assert not (tmp_path / "svc-x").exists()


def test_plain_copier_copy_of_the_repo_gives_the_same_project(scaffold, tmp_path):
    """The repo root is the template: copier alone makes what `scaffold new` makes."""
    from copier import run_copy

    root = tmp_path / "checkout"
    shutil.copytree(
        REPO, root, ignore=shutil.ignore_patterns(".venv*", ".git", "*_cache", "__pycache__")
    )
    _git("init", "--quiet", cwd=root)
    _git("add", "--all", cwd=root)
    _git("-c", "commit.gpgsign=false", "commit", "--quiet", "-m", "snapshot", cwd=root)
    for workload in ("http_api", "worker"):
        ours = tmp_path / f"ours-{workload.replace('_', '-')}"
        result = scaffold(
            "new", str(ours), "--defaults", "--no-git", "--data", f"workload={workload}"
        )
        assert result.returncode == 0, result.stderr
        recorded = {k: v for k, v in answers_file(ours).items() if not k.startswith("_")}
        theirs = tmp_path / f"theirs-{workload.replace('_', '-')}"
        run_copy(str(root), theirs, data=recorded, defaults=True, quiet=True, vcs_ref="HEAD")
        assert _tree(ours) == _tree(theirs)


def _tree(root: Path) -> dict[str, str]:
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            if path.name == ".copier-answers.yml":
                lines = text.splitlines()
                text = "\n".join(x for x in lines if not x.startswith(("_src_path", "_commit")))
            files[str(path.relative_to(root))] = text
    return files


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout's wheel, built once for the module."""
    return build_wheel(tmp_path_factory.mktemp("dist"))


def test_the_built_wheel_works_offline_outside_the_checkout(wheel, tmp_path):
    """pip install of the wheel carries the template: no repo, no network needed."""
    installed = install_wheel(wheel, tmp_path / "venv")
    assert installed.package.is_relative_to(tmp_path / "venv")
    # The wheel bundles exactly the template this version released.
    released = parse_record((REPO / RECORD).read_text(encoding="utf-8"))[__version__]
    assert digest(tree_files(installed.package / "_template")) == released
    work = tmp_path / "elsewhere"
    work.mkdir()
    result = subprocess.run(
        [installed.scaffold, "new", "wheel-svc", "--defaults", "--data", "workload=scheduled_job"],
        cwd=work, env=installed.env, capture_output=True, text=True, check=False, timeout=300,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    answers = answers_file(work / "wheel-svc")
    assert answers["_src_path"] == DEFAULT_REPOSITORY
    assert answers["workload"] == "scheduled_job"
    assert (work / "wheel-svc" / "docs" / "adr" / "0001-compute-platform.md").is_file()


#: What a developer's checkout, or pip, leaves in the template folder: planted in
#: the installed template, at its top and inside a conditional folder.
STRAYS = (
    ".DS_Store", "Thumbs.db", "desktop.ini", "._README.md", "notes.txt~", "~$draft.docx",
    ".Makefile.jinja.swp", "main.tf.orig", "main.tf.rej", ".idea/workspace.xml",
    ".vscode/settings.json", ".pytest_cache/README.md", ".ruff_cache/CACHEDIR.TAG",
    ".mypy_cache/3.11/x.json", ".hypothesis/examples/x", ".coverage", ".terraform/x",
    ".aws-sam/build.toml", ".venv/pyvenv.cfg", ".tox/x", ".nox/x", ".svn/entries",
    ".git/HEAD", "stale.pyo",
)  # fmt: skip


def _variants(contract) -> list[tuple[str, str]]:
    """Every (compute, workload) the template renders: the file set depends on nothing else."""
    limits = contract.table("lambda_limits")
    workloads = contract.question("workload").choice_values
    return [("container", w) for w in workloads] + [("lambda", w) for w in limits["workloads"]]


def test_projects_from_the_wheel_carry_no_stray_files(wheel, tmp_path, contract):
    """Every variant rendered from the installed wheel holds nothing `_exclude` names."""
    import pathspec

    installed = install_wheel(wheel, tmp_path / "venv")
    bundled = installed.package / "_template" / "template"
    compiled = list(bundled.rglob("__pycache__/*.pyc"))
    assert compiled, "pip byte-compiles the bundled template: the case this test is about"
    for folder in (bundled, next(p.parent for p in bundled.rglob("healthcheck.py"))):
        for stray in STRAYS:
            (folder / stray).parent.mkdir(parents=True, exist_ok=True)
            (folder / stray).write_text("stray\n")
    patterns = yaml.safe_load((REPO / "copier.yml").read_text())["_exclude"]
    excluded = pathspec.PathSpec.from_lines("gitignore", patterns)  # as copier matches them

    def make(numbered: tuple[int, tuple[str, str]]) -> Path:
        number, (compute, workload) = numbered
        dest = tmp_path / "projects" / f"variant-{number}"
        result = subprocess.run(
            [installed.scaffold, "new", str(dest), "--defaults", "--no-git",
             "--data", f"workload={workload}", "--data", f"compute={compute}"],
            env=installed.env, capture_output=True, text=True, check=False, timeout=300,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return dest

    with ThreadPoolExecutor(max_workers=2) as pool:
        projects = list(pool.map(make, enumerate(_variants(contract))))
    assert len(projects) == 15
    names = {Path(s).parts[0] for s in STRAYS}
    for project in projects:
        found = [p.relative_to(project) for p in project.rglob("*")]
        assert found, project
        stray = [str(p) for p in found if excluded.match_file(str(p)) or p.parts[0] in names]
        stray += [str(p) for p in found if "__pycache__" in p.parts or p.suffix == ".pyc"]
        assert stray == [], project.name


def _shape_of(value):
    if isinstance(value, dict):
        return {k: _shape_of(v) for k, v in value.items()}
    return type(value).__name__ if not isinstance(value, int | float) else "number"


def test_plain_copier_records_an_unsized_plan_and_refuses_what_cannot_fit(tmp_path):
    """Without the CLI: the limits that follow from single answers, an unsized fleet."""
    from copier import run_copy
    from support.render import plain_template

    from infra_scaffold.capacity import timeouts
    from infra_scaffold.contract import load_contract
    from infra_scaffold.plan import make_plan

    template = plain_template(tmp_path / "template")
    data = {"project_name": "slow-api", "workload": "http_api", "compute": "container",
            "max_duration_seconds": 300, "avg_duration_ms": 20_000}  # fmt: skip
    run_copy(str(template), tmp_path / "plain", data=data, defaults=True, quiet=True)
    plan = answers_file(tmp_path / "plain")["capacity_plan"]
    sized = make_plan(load_contract(REPO), data).answers["capacity_plan"]
    assert plan["sized"] is False
    assert sized["sized"] is True
    assert _shape_of(plan) == _shape_of(sized)
    assert plan["timeouts"] == sized["timeouts"]
    assert (
        plan["timeouts"]["alb_idle_timeout_seconds"]
        == timeouts("service", 300).alb_idle_timeout_seconds
    )
    assert plan["instances"]["instance_type"] == answers_file(tmp_path / "plain")["instance_type"]
    assert plan["notes"]  # says it is not sized, and how to size it

    unfit = {**data, "workload": "worker", "memory_mb": 4096, "instance_type": "t4g.medium",
             "max_duration_seconds": 600}  # fmt: skip
    with pytest.raises(ValueError, match=r"t4g.medium cannot hold one request \(4096 MB"):
        run_copy(str(template), tmp_path / "unfit", data=unfit, defaults=True, quiet=True)
    too_long = {**data, "max_duration_seconds": 3601}
    with pytest.raises(ValueError, match="must answer within 3600 s"):
        run_copy(str(template), tmp_path / "long", data=too_long, defaults=True, quiet=True)


def test_a_folder_name_that_is_no_project_name_says_where_the_name_came_from(scaffold, tmp_path):
    """The project name defaults to the folder's: a refusal says so, and how to choose one."""
    dest = tmp_path / "my_service"
    result = scaffold("new", str(dest), "--defaults", "--no-git", "--data", "workload=http_api")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: project_name: must be a slug")
    assert line.endswith("(taken from the folder name: pass --data project_name=NAME)")
    assert not dest.exists()
    named = scaffold(
        "new",
        str(dest),
        "--defaults",
        "--no-git",
        "--data",
        "workload=http_api",
        "--data",
        "project_name=my-service",
    )
    assert named.returncode == 0, named.stderr


def test_an_ec2_project_the_checklist_would_put_on_fargate_says_it_runs_on_ec2(scaffold, tmp_path):
    """Fargate runs containers too: the README names what the project runs on instead."""
    dest = tmp_path / "ec2-worker"
    result = scaffold(
        "new",
        str(dest),
        "--defaults",
        "--no-git",
        "--data",
        "workload=worker",
        "--data",
        "compute=container",
    )
    assert result.returncode == 0, result.stderr
    recorded = answers_file(dest)["decision_record"]["recommended"]
    readme = (dest / "README.md").read_text(encoding="utf-8")
    assert recorded == "fargate"
    assert "recommended **fargate**; this project runs on EC2 instead" in readme
    assert "runs in containers anyway" not in readme
