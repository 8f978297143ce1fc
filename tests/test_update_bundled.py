"""Projects made from the bundled template: updated offline, from the package's releases.

Such a project records the template repository and its release tag, neither
of which a user can reach; `scaffold update` reads the release history the
package carries instead. Here that history is the package's own plus two
releases made in the test: 99.0.0 (this checkout's template) and 99.1.0 (two
changes on top), passed to `scaffold` through SCAFFOLD_HISTORY. Git may use
no protocol but local files, and every proxy points nowhere: nothing here
reaches a network. No repository the tests touch has a tag.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt
from support.git_tools import (
    commit_all,
    current_template,
    git,
    history_with,
    tags,
    with_changes,
)
from support.render import REPO
from support.wheel import install_wheel

from infra_scaffold import history
from infra_scaffold.release import RECORD, parse_record
from infra_scaffold.sources import DEFAULT_REPOSITORY

GITIGNORE_ADDITION = b"# Added by the new release\n*.new-release\n"
ADR_1 = "docs/adr/0001-compute-platform.md"
WORKFLOW = ".github/workflows/template-update.yml"
OFFLINE = {
    "GIT_ALLOW_PROTOCOL": "file",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "ALL_PROXY": "http://127.0.0.1:9",
}
FLIP = ("--data", "traffic_pattern=steady", "--data", "requests_per_month=900000000")


@pytest.fixture(scope="module")
def releases(tmp_path_factory) -> dict[str, str]:
    """The environment of a package whose history ends in 99.0.0 and 99.1.0."""
    current = current_template()
    shared_gitignore = "template/partials/shared/.gitignore"
    gitignore = next(f for f in current if f[0] == shared_gitignore)
    following = with_changes(
        current,
        {
            shared_gitignore: gitignore[2] + GITIGNORE_ADDITION,
            **{
                f"{tree}/CONTRIBUTING.md": b"Open an issue first.\n"
                for tree in ("template/lambda", "template/container")
            },
        },
    )
    root = history_with(
        tmp_path_factory.mktemp("releases") / "history", {"99.0.0": current, "99.1.0": following}
    )
    return {"SCAFFOLD_HISTORY": str(root), **OFFLINE}


def answers(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def made(scaffold, where: Path, env: dict[str, str], *data: str, release: str = "99.0.0") -> Path:
    """A project made from the bundled history's ``release``, committed."""
    args = [a for d in data for a in ("--data", d)]
    result = scaffold(
        "new", str(where), "--defaults", "--vcs-ref", f"v{release}", *args, **env
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert answers(where)["_src_path"] == DEFAULT_REPOSITORY
    assert answers(where)["_commit"] == f"v{release}"
    return where


def test_a_bundled_project_updates_offline_from_the_release_history(scaffold, tmp_path, releases):
    project = made(scaffold, tmp_path / "orders-api", releases, "workload=http_api")
    gitignore = project / ".gitignore"
    gitignore.write_text("# Our own ignores\nscratch/\n" + gitignore.read_text())
    adr = project / ADR_1
    adr.write_text(adr.read_text() + "\nOur own note, kept.\n")
    (project / "NOTES.md").write_text("Our own file.\n")
    commit_all(project, "our edits")
    cache = tmp_path / "user-cache"

    result = scaffold("update", str(project), XDG_CACHE_HOME=str(cache), **releases)

    assert result.returncode == 0, result.stderr
    assert "from v99.0.0 to v99.1.0 (the release history of infra-scaffold" in result.stdout
    assert answers(project)["_src_path"] == DEFAULT_REPOSITORY  # the record is kept
    assert answers(project)["_commit"] == "v99.1.0"
    assert (project / "CONTRIBUTING.md").read_text() == "Open an issue first.\n"
    merged = gitignore.read_bytes()
    assert merged.startswith(b"# Our own ignores\nscratch/\n")
    assert merged.endswith(GITIGNORE_ADDITION)
    assert adr.read_text().endswith("\nOur own note, kept.\n")
    assert (project / "NOTES.md").read_text() == "Our own file.\n"
    assert tags(project) == []
    assert not cache.exists()  # copier's mirror of the history never reached the user's cache


def test_update_finds_the_project_from_a_folder_inside_it(scaffold, tmp_path, releases):
    project = made(scaffold, tmp_path / "deep-svc", releases, "workload=sqs_consumer")

    result = scaffold("update", cwd=project / "docs" / "adr", **releases)

    assert result.returncode == 0, result.stderr
    assert f"Updated {project} from v99.0.0 to v99.1.0" in result.stdout
    assert answers(project)["_commit"] == "v99.1.0"


# -- decision records ------------------------------------------------------------


def test_a_flipped_recommendation_adds_a_record_and_leaves_adr_0001_as_it_was(
    scaffold, tmp_path, releases
):
    project = made(scaffold, tmp_path / "growing-api", releases, "workload=http_api")
    (project / "docs" / "adr" / "0002-use-dynamodb.md").write_text("# ADR 0002: DynamoDB\n")
    commit_all(project, "a decision of our own")
    first = (project / ADR_1).read_bytes()

    result = scaffold("update", str(project), *FLIP, **releases)

    assert result.returncode == 0, result.stderr
    assert (project / ADR_1).read_bytes() == first
    assert "this project follows it" in first.decode()
    new = (project / "docs" / "adr" / "0003-compute-platform.md").read_text()
    assert new.startswith("# ADR 0003: Compute platform\n")
    assert "- Supersedes: [ADR 0001](0001-compute-platform.md)" in new
    assert "| Requests per month | 900,000,000 | 1,000,000 |" in new
    assert "| Traffic pattern | steady | spiky |" in new
    assert "The service stays on **AWS Lambda**" in new
    container = answers(project)["decision_record"]["recommended"]  # EC2 or Fargate by cost
    assert container in {"container", "fargate"}
    assert f"The checklist recommended **{container}**; the team chose **lambda** instead." in new
    assert "### Cost comparison when this record was made" in new
    assert "docs/adr/0003-compute-platform.md supersedes docs/adr/0001" in result.stdout
    history_ = answers(project)["decision_history"]
    assert [(e["number"], e["compute"], e["recommendation"]["recommended"]) for e in history_] == [
        (1, "lambda", "lambda"),
        (3, "lambda", container),
    ]
    assert history_[1]["recommendation"] == answers(project)["decision_record"]
    tokens = [t.type for t in MarkdownIt("commonmark").enable("table").parse(new)]
    assert tokens.count("table_open") == 2  # the answers, the costs
    assert tokens.count("tr_open") == 12 + 5  # header and 11 answers; header and 4 options


def test_every_record_renders_again_from_the_answers_with_plain_copier(
    scaffold, tmp_path, releases
):
    """What docs/updating.md tells plain copier users to do, for records lost on disk."""
    project = made(scaffold, tmp_path / "records-svc", releases, "workload=webhook")
    flipped = scaffold("update", str(project), *FLIP, **releases)
    assert flipped.returncode == 0, flipped.stderr
    commit_all(project, "the update")
    records = {p.name: p.read_bytes() for p in (project / "docs" / "adr").iterdir()}
    assert sorted(records) == ["0001-compute-platform.md", "0002-compute-platform.md"]
    shutil.rmtree(project / "docs" / "adr")
    commit_all(project, "records lost")
    repository = tmp_path / "releases.git"
    exported = scaffold("releases", "--repository", str(repository), **releases)
    assert exported.returncode == 0, exported.stderr

    env = {
        **os.environ,
        **OFFLINE,
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.{repository}.insteadOf",
        "GIT_CONFIG_VALUE_0": DEFAULT_REPOSITORY,
        "COPIER_CACHE_DIR": str(tmp_path / "copier-cache"),
    }
    plain = subprocess.run(
        [sys.executable, "-m", "copier", "update", "--defaults", "--skip-answered"],
        cwd=project, env=env, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip

    assert plain.returncode == 0, plain.stderr
    assert {p.name: p.read_bytes() for p in (project / "docs" / "adr").iterdir()} == records


@pytest.mark.parametrize(
    "release",
    [
        v
        for v in history.releases()
        if b"decision_history:" not in history.release_file(v, "copier.yml")
    ],
)
def test_a_project_made_before_records_had_a_history_keeps_its_adr_0001(
    scaffold, tmp_path, releases, release
):
    project = made(scaffold, tmp_path / "old-api", releases, "workload=http_api", release=release)
    recorded = answers(project)
    assert "decision_history" not in recorded
    adr = project / ADR_1
    adr.write_text(adr.read_text() + "\nReviewed by the team.\n")
    commit_all(project, "our review")
    first = adr.read_bytes()

    result = scaffold("update", str(project), *FLIP, **releases)

    assert result.returncode == 0, result.stderr
    assert adr.read_bytes() == first
    entries = answers(project)["decision_history"]
    assert entries[0]["recommendation"] == recorded["decision_record"]
    assert entries[0]["answers"]["requests_per_month"] == recorded["requests_per_month"]
    assert entries[1]["number"] == 2
    assert (project / "docs" / "adr" / "0002-compute-platform.md").is_file()


# -- errors ------------------------------------------------------------------------


def _repoint(project: Path, src: str | None = None, commit: str | None = None) -> None:
    text = (project / ".copier-answers.yml").read_text()
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if src and line.startswith("_src_path:"):
            lines[i] = f"_src_path: {src}\n"
        if commit and line.startswith("_commit:"):
            lines[i] = f"_commit: {commit}\n"
    (project / ".copier-answers.yml").write_text("".join(lines))
    commit_all(project, "the recorded source changed")


UNREACHABLE = "https://git.invalid/platform/infra-scaffold.git"
RECORDED_SOURCE = "cannot read the template source recorded in .copier-answers.yml"
#: case: (what the answers file records instead, update arguments, words of the error);
#: {gone} is a folder that does not exist, {held} the releases the history holds.
ERRORS = {
    "unreachable-source": (
        {"src": UNREACHABLE}, [], [f"{RECORDED_SOURCE}, {UNREACHABLE}", "pass --template URL|PATH"]
    ),
    "bad-answer-before-the-network": (
        {"src": UNREACHABLE}, ["--data", "memory_mb=1"], ["memory_mb: must be an integer from 128"]
    ),
    "scaffold-fills-it-in": (
        {"src": UNREACHABLE}, ["--data", "decision_history=[]"], ["decision_history: is filled in"]
    ),
    "missing-release": ({}, ["--vcs-ref", "v9.9.9"], ["release 9.9.9 is not in", "{held}"]),
    "unknown-project-release": (
        {"commit": "v99.0.5"}, [], ["made from template release v99.0.5, which is not in"]
    ),
    "project-newer-than-the-package": (
        {"commit": "v100.0.0"}, [], ["at template release 100.0.0, newer than", "--upgrade"]
    ),
    "downgrade": ({}, ["--vcs-ref", "v0.1.0"], ["v0.1.0 is older", "cannot go back"]),
    "recorded-folder-gone": ({"src": "{gone}"}, [], ["records the template folder", "is gone"]),
}  # fmt: skip


def _refused(scaffold, where: Path, args: list[str], expected: list[str], env: dict[str, str]):
    """Update in ``where``: one line, exit 2, ``expected`` said, nothing changed."""
    before = (git("rev-parse", "HEAD", cwd=where), git("status", "--porcelain", cwd=where))

    result = scaffold("update", *args, cwd=where, **env)

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    for words in expected:
        assert words in result.stderr
    assert "git init" not in result.stderr
    assert (git("rev-parse", "HEAD", cwd=where), git("status", "--porcelain", cwd=where)) == before


@pytest.fixture(scope="module")
def refused_project(releases, tmp_path_factory) -> Path:
    """One project for every refusal (the `scaffold` fixture is per test); each case
    puts it back to its first commit."""
    project = tmp_path_factory.mktemp("refused") / "svc-under-test"
    made_ = subprocess.run(
        [sys.executable, "-m", "infra_scaffold", "new", str(project), "--defaults",
         "--vcs-ref", "v99.0.0", "--data", "workload=http_api"],
        env={**os.environ, **releases}, capture_output=True, text=True, check=False,
        stdin=subprocess.DEVNULL, timeout=300,
    )  # fmt: skip
    assert made_.returncode == 0, made_.stderr
    return project


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_each_update_error_is_one_line_exit_2_and_changes_nothing(
    scaffold, tmp_path, releases, refused_project, case
):
    project = refused_project
    first = git("rev-list", "--max-parents=0", "HEAD", cwd=project).strip()
    git("reset", "--quiet", "--hard", first, cwd=project)
    recorded, args, expected = ERRORS[case]
    values = {
        "gone": str(tmp_path / "moved-away"),
        "held": "it holds " + ", ".join(history.releases(Path(releases["SCAFFOLD_HISTORY"]))),
    }
    recorded = {key: value.format(**values) for key, value in recorded.items()}
    if recorded:
        _repoint(project, **recorded)
    _refused(scaffold, project, args, [e.format(**values) for e in expected], releases)


def test_a_template_that_is_not_a_git_repository_is_refused(scaffold, tmp_path, releases):
    project = made(scaffold, tmp_path / "svc-plain", releases, "workload=http_api")
    folder = tmp_path / "plain-copy"
    shutil.copytree(REPO / "template", folder / "template")
    shutil.copy2(REPO / "copier.yml", folder)
    expected = [f"{folder} is not a git repository"]
    _refused(scaffold, project, ["--template", str(folder)], expected, releases)


def test_a_folder_of_a_repository_without_a_project_is_refused_without_git_init(
    scaffold, tmp_path, releases
):
    outer = tmp_path / "monorepo"
    (outer / "services" / "api").mkdir(parents=True)
    (outer / "README.md").write_text("Not a project.\n")
    git("init", "--quiet", cwd=outer)
    commit_all(outer, "a repository without a project")
    expected = ["has no .copier-answers.yml, nor has any folder above it up to the repository root"]
    _refused(scaffold, outer / "services" / "api", [], expected, releases)


# -- the generated template-update workflow ----------------------------------------


def _run_step(project: Path, name: str, tmp_path: Path, **env: str) -> tuple[int, str, str, str]:
    """Run one step of the project's workflow as GitHub's runner would (bash -e)."""
    workflow = yaml.safe_load((project / WORKFLOW).read_text())
    (step,) = [s for s in workflow["jobs"]["check-update"]["steps"] if s.get("name") == name]
    runner = tmp_path / "runner"
    (runner / "bin").mkdir(parents=True, exist_ok=True)
    wrapper = runner / "bin" / "scaffold"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m infra_scaffold "$@"\n')
    wrapper.chmod(0o755)
    python = runner / "bin" / "python"
    python.unlink(missing_ok=True)
    python.symlink_to(sys.executable)
    output, summary = runner / "output", runner / "summary"
    for path in (output, summary):
        path.write_text("")
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-e", "-c", step["run"]],
        cwd=project, capture_output=True, text=True, check=False, timeout=300,
        env={
            **os.environ, **env,
            "PATH": f"{runner / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary),
            "RUNNER_TEMP": str(runner),
        },
    )  # fmt: skip
    return done.returncode, done.stdout, summary.read_text(), output.read_text()


CHECK = "Is a newer template release out?"


def test_the_update_workflow_reports_a_new_release_and_changes_nothing(
    scaffold, tmp_path, releases
):
    project = made(scaffold, tmp_path / "wf-svc", releases, "workload=http_api")
    head = git("rev-parse", "HEAD", cwd=project)

    code, out, summary, _ = _run_step(project, CHECK, tmp_path, **releases)

    assert code == 0, out
    assert "::warning title=Template update available::" in out
    assert "changes 3 file(s), 0 with conflicts" in summary  # answers, .gitignore, CONTRIBUTING
    assert "from v99.0.0 to v99.1.0" in summary
    assert git("status", "--porcelain", cwd=project) == ""
    assert git("rev-parse", "HEAD", cwd=project) == head


def test_the_update_workflow_says_when_the_project_is_up_to_date(scaffold, tmp_path, releases):
    project = made(scaffold, tmp_path / "wf-new", releases, "workload=worker", release="99.1.0")

    code, out, summary, _ = _run_step(project, CHECK, tmp_path, **releases)

    assert code == 0, out
    assert "::warning" not in out
    assert f"{project} is up to date with the template (v99.1.0" in summary


def test_the_update_workflow_never_fails_when_it_cannot_check(scaffold, tmp_path, releases):
    project = made(scaffold, tmp_path / "wf-fork", releases, "workload=http_api")
    _repoint(project, src=UNREACHABLE)

    code, out, summary, _ = _run_step(project, CHECK, tmp_path, **releases)

    assert code == 0, out
    (notice,) = [line for line in out.splitlines() if line.startswith("::notice")]
    assert f"cannot read the template source recorded in .copier-answers.yml, {UNREACHABLE}" in (
        notice
    )
    assert summary == ""

    code, out, _, output = _run_step(
        project, "Install infra-scaffold", tmp_path,
        SCAFFOLD_PACKAGE=str(tmp_path / "no-such-package.whl"), PIP_NO_INDEX="1",
    )  # fmt: skip
    assert code == 0, out
    assert "::notice title=Template update not checked::could not install" in out
    assert "installed=true" not in output


def test_the_update_workflow_runs_weekly_and_only_reads(scaffold, tmp_path, releases):
    project = made(scaffold, tmp_path / "wf-shape", releases, "workload=worker")
    workflow = yaml.safe_load((project / WORKFLOW).read_text())
    assert "schedule" in workflow[True]  # YAML 1.1 reads the key `on` as True
    assert workflow["permissions"] == {"contents": "read"}
    steps = workflow["jobs"]["check-update"]["steps"]
    assert steps[0]["with"]["persist-credentials"] is False
    assert "scaffold update" in next(s for s in steps if s.get("name") == CHECK)["run"]


# -- the wheel, offline ---------------------------------------------------------------


def _release_copy(tmp_path: Path) -> Path:
    """This checkout's package and template, released as 99.0.0 by scripts/release.py."""
    copy = tmp_path / "source"
    tracked = git(
        "ls-files", "--cached", "--others", "--exclude-standard", "--", "pyproject.toml",
        "README.md", "CHANGELOG.md", RECORD, "copier.yml", "template", "src", cwd=REPO,
    ).splitlines()  # fmt: skip
    for name in tracked:
        if not (REPO / name).is_file():  # deleted, not yet committed
            continue
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    with (copy / "CHANGELOG.md").open("a") as changelog:
        changelog.write("\n## 99.0.0\n\nThis checkout's template.\n")
    git("init", "--quiet", "--initial-branch=main", cwd=copy)
    for key, value in {"user.email": "t@example.com", "user.name": "t"}.items():
        git("config", key, value, cwd=copy)
    commit_all(copy, "this checkout")
    released = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "release.py"), "99.0.0", "--root", str(copy)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert released.returncode == 0, released.stderr
    git("tag", "--delete", "v99.0.0", cwd=copy)  # nothing may need a tag
    assert tags(copy) == []
    return copy


def test_the_installed_wheel_updates_projects_of_every_release_offline(tmp_path):
    """pip install, no network: projects of each earlier release come up to the newest."""
    source = _release_copy(tmp_path)
    dist = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "-w", str(dist), str(source)],
        check=False, capture_output=True, text=True,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("infra_scaffold-99.0.0-*.whl")
    sdist = subprocess.run(
        [sys.executable, "-c", "import sys; from hatchling.build import build_sdist; "
         "print(build_sdist(sys.argv[1]))", str(dist)],
        cwd=source, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    recorded = parse_record((source / RECORD).read_text())
    with tarfile.open(dist / sdist) as tar:
        names = tar.getnames()
    for version in recorded:
        assert any(n.endswith(f"src/infra_scaffold/_history/releases/{version}") for n in names)

    installed = install_wheel(wheel, tmp_path / "venv")
    venv, py = installed.venv, installed.python
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCAFFOLD_", "PYTHON"))}
    env.update(OFFLINE)

    def scaffold(*args: str, cwd: Path = work) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [venv / "bin" / "scaffold", *args], cwd=cwd, env=env, capture_output=True,
            text=True, check=False, timeout=300, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    check = subprocess.run(
        [py, "-c", "from infra_scaffold import history, release; "
         "print('\\n'.join(f'{v} {release.digest(history.release_files(v))}' "
         "for v in history.releases()))"],
        cwd=work, env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert parse_record(check) == recorded  # the wheel carries every release, exactly

    current = scaffold("new", "svc-current", "--defaults", "--data", "workload=scheduled_job")
    assert current.returncode == 0, current.stderr
    assert answers(work / "svc-current")["_commit"] == "v99.0.0"
    assert not list((work / "svc-current").rglob("__pycache__"))  # pip compiled the template

    workloads = ["worker", "http_api", "webhook", "s3_events"]
    for index, version in enumerate(v for v in recorded if v != "99.0.0"):
        workload = workloads[index % len(workloads)]
        name = f"svc-{version.replace('.', '-')}"
        made_ = scaffold("new", name, "--defaults", "--vcs-ref", f"v{version}",
                         "--data", f"workload={workload}")  # fmt: skip
        assert made_.returncode == 0, made_.stderr
        project = work / name
        assert answers(project)["_commit"] == f"v{version}"
        readme = project / "README.md"
        readme.write_text(readme.read_text() + "\nOur own closing words.\n")
        adr = project / ADR_1
        adr.write_text(adr.read_text() + "\nOur own note, kept.\n")
        (project / "NOTES.md").write_text("Our own file.\n")
        commit_all(project, "our edits")

        result = scaffold("update", cwd=project)

        assert result.returncode in (0, 1), result.stderr
        assert answers(project)["_commit"] == "v99.0.0"
        assert answers(project)["_src_path"] == DEFAULT_REPOSITORY
        assert "Our own closing words." in readme.read_text()  # merged, or inside a conflict
        assert adr.read_text().endswith("\nOur own note, kept.\n")
        assert (project / "NOTES.md").read_text() == "Our own file.\n"
        conflicted = [line for line in result.stdout.splitlines() if line.endswith("(conflict)")]
        assert (result.returncode == 1) == bool(conflicted)
        for line in conflicted:
            path = line.split()[-2]
            assert "<<<<<<< before updating" in (project / path).read_text()
        assert tags(project) == []
