"""The release history the package carries: complete, exact, deterministic, rebuildable."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest
from packaging.version import Version
from support.git_tools import commit_all, git, tags

from infra_scaffold import history
from infra_scaffold.errors import MissingReleaseError
from infra_scaffold.release import RECORD, archive_files, digest, parse_record, tree_files

REPO = Path(__file__).resolve().parents[1]
RECORDED = parse_record((REPO / RECORD).read_text(encoding="utf-8"))
IN_ORDER = tuple(sorted(RECORDED, key=Version))
_SPEC = importlib.util.spec_from_file_location("release_script", REPO / "scripts" / "release.py")
assert _SPEC is not None
assert _SPEC.loader is not None
release_script = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(release_script)


def test_the_history_holds_every_recorded_release_and_nothing_else():
    assert history.releases() == IN_ORDER


@pytest.mark.parametrize("version", IN_ORDER)
def test_each_release_in_the_history_is_the_recorded_template(version, tmp_path):
    assert digest(history.release_files(version)) == RECORDED[version]
    written = history.release_template(f"v{version}", tmp_path / version)
    assert written == tmp_path / version
    assert digest(tree_files(written)) == RECORDED[version]
    assert (written / "copier.yml").read_bytes() == history.release_file(version, "copier.yml")


def test_a_missing_release_is_named_with_the_ones_there_are(tmp_path):
    with pytest.raises(MissingReleaseError) as raised:
        history.release_template("9.9.9", tmp_path)
    message = str(raised.value)
    assert "template release 9.9.9 is not in the release history" in message
    assert f"(it holds {', '.join(history.releases())})" in message
    assert raised.value.exit_code == 2
    assert not any(tmp_path.iterdir())


def test_the_repository_has_one_tagged_commit_per_release_and_is_the_same_every_time(tmp_path):
    first = history.build_repository(tmp_path / "a.git")
    second = history.build_repository(tmp_path / "b.git")
    versions = history.releases()
    assert tags(first) == sorted(f"v{v}" for v in versions)
    ids = [git("rev-parse", f"v{v}^{{commit}}", cwd=first).strip() for v in versions]
    assert ids == [git("rev-parse", f"v{v}^{{commit}}", cwd=second).strip() for v in versions]
    assert git("rev-parse", "main", cwd=first).strip() == ids[-1]
    log = git("log", "--format=%H %P", "main", cwd=first).splitlines()
    assert [line.split()[0] for line in reversed(log)] == ids  # each on top of the one before
    for version in versions:
        archive = subprocess.run(
            ["git", "archive", f"v{version}", "copier.yml", "template"],
            cwd=first, capture_output=True, check=True,
        ).stdout  # fmt: skip
        assert digest(archive_files(archive)) == RECORDED[version]


def test_a_release_imported_into_a_fork_is_a_tag_of_its_template(tmp_path):
    fork = tmp_path / "fork.git"
    git("init", "--bare", "--quiet", str(fork), cwd=tmp_path)
    oldest = history.releases()[0]
    assert history.import_release(fork, oldest) == f"v{oldest}"
    assert tags(fork) == [f"v{oldest}"]
    assert git("branch", "--list", cwd=fork) == ""  # the fork's branches are its own
    archive = subprocess.run(
        ["git", "archive", f"v{oldest}", "copier.yml", "template"],
        cwd=fork, capture_output=True, check=True,
    ).stdout  # fmt: skip
    assert digest(archive_files(archive)) == RECORDED[oldest]


def test_a_release_stores_only_contents_no_release_had(tmp_path):
    root = tmp_path / "history"
    base = [("copier.yml", False, b"a: 1\n"), ("template/run.sh", True, b"echo\n")]
    history.add_release(root, "1.0.0", base)
    history.add_release(root, "1.1.0", [("copier.yml", False, b"a: 2\n"), base[1]])
    assert len(list((root / "objects").iterdir())) == 3
    assert history.releases(root) == ("1.0.0", "1.1.0")
    assert sorted(history.release_files("1.1.0", root)) == [
        ("copier.yml", False, b"a: 2\n"),
        ("template/run.sh", True, b"echo\n"),
    ]
    (root / "releases" / "1.0.0").unlink()
    assert len(history.prune(root)) == 1  # a: 1 was only in 1.0.0
    assert len(list((root / "objects").iterdir())) == 2


# -- rebuilding from git --------------------------------------------------------


def _repo_of_releases(tmp_path: Path) -> Path:
    """A repository whose commits are the recorded releases, then today's template."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git("init", "--quiet", "--initial-branch=main", cwd=repo)
    for key, value in {"user.email": "t@example.com", "user.name": "t"}.items():
        git("config", key, value, cwd=repo)
    for version in history.releases():
        (repo / "copier.yml").unlink(missing_ok=True)
        shutil.rmtree(repo / "template", ignore_errors=True)
        history.release_template(version, repo)
        commit_all(repo, f"template as released in {version}")
    shutil.copy2(REPO / RECORD, repo / RECORD)
    commit_all(repo, "the record")
    return repo


def test_rebuilding_the_history_from_git_gives_the_history_the_package_carries(tmp_path):
    repo = _repo_of_releases(tmp_path)

    rebuilt = release_script.rebuild_history(repo)

    assert rebuilt == list(history.releases())
    target = repo / release_script.HISTORY
    assert _files(target) == _files(history.history_root())
    assert tags(repo) == []  # found by digest, without tags


def test_rebuilding_names_the_releases_no_commit_holds(tmp_path):
    repo = _repo_of_releases(tmp_path)
    (repo / RECORD).write_text(
        (repo / RECORD).read_text() + f"9.0.0 {'0' * 64}\n", encoding="utf-8"
    )
    commit_all(repo, "a release this clone lacks")
    with pytest.raises(release_script.ReleaseError, match=r"recorded for 9\.0\.0: fetch"):
        release_script.rebuild_history(repo)
    assert not (repo / release_script.HISTORY).exists()


def test_the_committed_history_is_what_git_history_holds():
    """Each release's commit in this clone has the template the history carries."""
    if git("rev-parse", "--is-shallow-repository", cwd=REPO).strip() == "true":
        pytest.skip("a shallow clone lacks the commits of earlier releases")
    found = release_script.find_release_commits(REPO, RECORDED)
    for version, commit in found.items():
        archive = subprocess.run(
            ["git", "archive", commit, "copier.yml", "template"],
            cwd=REPO, capture_output=True, check=True,
        ).stdout  # fmt: skip
        assert sorted(archive_files(archive)) == sorted(history.release_files(version))


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}
