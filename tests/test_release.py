"""Releases: the bundled template of version X.Y.Z is the template released as X.Y.Z.

Each release records the digest of its template in template-releases.txt, so
these checks hold in a clone without tags (CI checkouts fetch none); where
tags are present, each one must hold the template its version recorded.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version
from support.render import REPO

from infra_scaffold import __version__, history
from infra_scaffold.release import RECORD, archive_files, digest, parse_record, tree_files

RECORDED = parse_record((REPO / RECORD).read_text(encoding="utf-8"))
HISTORY = "src/infra_scaffold/_history"


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def test_the_template_is_the_one_this_version_released():
    """Changing copier.yml or template/ means a new release: scripts/release.py."""
    assert __version__ in RECORDED, f"{__version__} has no line in {RECORD}: release it"
    assert digest(tree_files(REPO)) == RECORDED[__version__], (
        f"the template changed since {__version__} was released: add a CHANGELOG entry, "
        "commit, and run scripts/release.py with the next version"
    )


def test_this_version_is_the_newest_release():
    assert max(map(Version, RECORDED)) == Version(__version__)


def test_the_changelog_describes_every_release():
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    for version in RECORDED:
        assert f"## {version}" in changelog or f"## [{version}]" in changelog


def _release_tags(repo: Path) -> list[str]:
    return [tag for tag in git("tag", "--list", "v*", cwd=repo).split() if tag]


def test_each_release_tag_in_this_clone_holds_the_recorded_template():
    tags = _release_tags(REPO)
    if not tags:
        pytest.skip("this clone has no tags (CI checkouts fetch none): nothing to compare")
    for tag in tags:
        version = tag.removeprefix("v")
        assert version in RECORDED, f"{tag} is tagged but not recorded in {RECORD}"
        archive = subprocess.run(
            ["git", "archive", tag, "copier.yml", "template"],
            cwd=REPO, capture_output=True, check=True,
        ).stdout  # fmt: skip
        assert digest(archive_files(archive)) == RECORDED[version], f"{tag} is not its release"


# -- the digest --------------------------------------------------------------


def test_the_digest_sees_content_paths_and_the_executable_bit():
    base = [("copier.yml", False, b"a: 1\n"), ("template/x.sh", True, b"echo\n")]
    variants = [
        [("copier.yml", False, b"a: 2\n"), base[1]],
        [base[0], ("template/y.sh", True, b"echo\n")],
        [base[0], ("template/x.sh", False, b"echo\n")],
        [("copier.yml", False, b"a: 1\ntemplate/x.sh"), ("template/x.sh", True, b"\n")],
    ]
    assert len({digest(base), *map(digest, variants)}) == 1 + len(variants)
    assert digest(reversed(base)) == digest(base)


def test_a_tree_and_its_git_archive_have_the_same_digest(tmp_path):
    repo = _template_repo(tmp_path)
    (repo / "template" / "run.sh").write_text("#!/bin/sh\n")
    (repo / "template" / "run.sh").chmod(0o755)
    git("add", "--all", cwd=repo)
    git("commit", "--quiet", "-m", "executable", cwd=repo)
    cache = repo / "template" / "__pycache__"
    cache.mkdir()
    (cache / "x.cpython-311.pyc").write_bytes(b"\0")  # never part of a release
    archive = subprocess.run(
        ["git", "archive", "HEAD", "copier.yml", "template"],
        cwd=repo, capture_output=True, check=True,
    ).stdout  # fmt: skip
    assert digest(tree_files(repo)) == digest(archive_files(archive))


@pytest.mark.parametrize(
    "text",
    ["0.1.0 short", "0.1.0\n", f"0.1.0 {'a' * 64}\n0.1.0 {'b' * 64}\n"],
)
def test_a_malformed_record_is_refused(text):
    with pytest.raises(ValueError, match=RECORD):
        parse_record(text)


# -- scripts/release.py -------------------------------------------------------


def _template_repo(tmp_path: Path) -> Path:
    """A copy of this repository's release files, committed in a new git repo."""
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy2(REPO / "copier.yml", repo / "copier.yml")
    shutil.copytree(REPO / "template", repo / "template")
    shutil.copy2(REPO / RECORD, repo / RECORD)
    (repo / "src" / "infra_scaffold").mkdir(parents=True)
    shutil.copy2(REPO / "src" / "infra_scaffold" / "__init__.py", repo / "src" / "infra_scaffold")
    shutil.copytree(history.history_root(), repo / HISTORY)
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    (repo / "CHANGELOG.md").write_text(changelog + "\n## 99.0.0\n\nA test release.\n")
    git("init", "--quiet", "--initial-branch=main", cwd=repo)
    identity = {"user.email": "t@example.com", "user.name": "t"}
    for key, value in {**identity, "commit.gpgsign": "false", "tag.gpgsign": "false"}.items():
        git("config", key, value, cwd=repo)
    git("add", "--all", cwd=repo)
    git("commit", "--quiet", "-m", "template", cwd=repo)
    return repo


def _release(repo: Path, version: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "release.py"), version, "--root", str(repo)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_release_bumps_records_and_tags(tmp_path):
    repo = _template_repo(tmp_path)
    (repo / "template" / "NEW_FILE.md").write_text("new in 99.0.0\n")
    git("add", "--all", cwd=repo)
    git("commit", "--quiet", "-m", "a template change", cwd=repo)

    result = _release(repo, "99.0.0")

    assert result.returncode == 0, result.stderr
    assert "Tagged v99.0.0" in result.stdout
    assert '__version__ = "99.0.0"' in (repo / "src" / "infra_scaffold" / "__init__.py").read_text()
    recorded = parse_record((repo / RECORD).read_text())
    assert recorded[__version__] == RECORDED[__version__]  # history kept
    assert recorded["99.0.0"] == digest(tree_files(repo)) != RECORDED[__version__]
    assert history.releases(repo / HISTORY) == (*history.releases(), "99.0.0")
    assert digest(history.release_files("99.0.0", repo / HISTORY)) == recorded["99.0.0"]
    assert git("status", "--porcelain", cwd=repo) == ""
    released = git("show", "--name-only", "--format=", "HEAD", cwd=repo).splitlines()
    assert f"{HISTORY}/releases/99.0.0" in released
    assert git("rev-parse", "v99.0.0^{commit}", cwd=repo) == git("rev-parse", "HEAD", cwd=repo)
    assert git("cat-file", "-t", "v99.0.0", cwd=repo).strip() == "tag"  # annotated


@pytest.mark.parametrize(
    ("version", "prepare", "message"),
    [
        ("99.0.0", "dirty", "uncommitted changes"),
        (__version__, None, "is not newer than"),
        ("v99.0.0", None, "normal form: 99.0.0"),
        ("ninety-nine", None, "not a PEP 440 version"),
        ("98.0.0", None, "no '## 98.0.0' entry"),
        ("99.0.0", "tagged", "v99.0.0 exists already"),
    ],
)
def test_release_refuses_and_changes_nothing(tmp_path, version, prepare, message):
    repo = _template_repo(tmp_path)
    if prepare == "dirty":
        (repo / "template" / "README.md.jinja").write_text("an uncommitted edit\n")
    if prepare == "tagged":
        git("tag", "v99.0.0", cwd=repo)
    before = (git("rev-parse", "HEAD", cwd=repo), git("status", "--porcelain", cwd=repo))
    tags = _release_tags(repo)

    result = _release(repo, version)

    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert (git("rev-parse", "HEAD", cwd=repo), git("status", "--porcelain", cwd=repo)) == before
    assert _release_tags(repo) == tags


def test_release_adds_recorded_releases_the_history_lacks_from_git(tmp_path):
    """A release made on a branch without the history is found in git by its digest."""
    repo = _template_repo(tmp_path)
    newest = history.releases()[-1]
    (repo / HISTORY / "releases" / newest).unlink()
    (repo / RECORD).write_text(
        "".join(f"{v} {d}\n" for v, d in RECORDED.items() if v != newest)
        + f"{newest} {digest(tree_files(repo))}\n",
        encoding="utf-8",
    )  # the template of this repository's one commit is that release
    git("add", "--all", cwd=repo)
    git("commit", "--quiet", "-m", "a release made without the history", cwd=repo)
    (repo / "template" / "NEW_FILE.md").write_text("new in 99.0.0\n")
    git("add", "--all", cwd=repo)
    git("commit", "--quiet", "-m", "a template change", cwd=repo)

    result = _release(repo, "99.0.0")

    assert result.returncode == 0, result.stderr
    assert history.releases(repo / HISTORY) == (*history.releases(), "99.0.0")
    recorded = parse_record((repo / RECORD).read_text())
    for version in (newest, "99.0.0"):
        assert digest(history.release_files(version, repo / HISTORY)) == recorded[version]


def test_release_refuses_a_history_that_disagrees_with_the_record(tmp_path):
    repo = _template_repo(tmp_path)
    oldest = history.releases()[0]
    manifest = repo / HISTORY / "releases" / oldest
    manifest.write_text("".join(manifest.read_text().splitlines(keepends=True)[1:]))
    git("add", "--all", cwd=repo)
    git("commit", "--quiet", "-m", "a damaged history", cwd=repo)
    head = git("rev-parse", "HEAD", cwd=repo)

    result = _release(repo, "99.0.0")

    assert result.returncode == 2
    assert f"the history's {oldest} is not the recorded release" in result.stderr
    assert git("rev-parse", "HEAD", cwd=repo) == head
    assert git("status", "--porcelain", cwd=repo) == ""
