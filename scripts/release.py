"""Release the template: bump the version, record the template's digest and history, tag.

python scripts/release.py 0.3.0 [--root DIR]
python scripts/release.py --rebuild-history [--root DIR]

Run a release on a clean tree whose template changes and CHANGELOG entry for
the new version are committed. It writes ``__version__``, appends the
template's digest to ``template-releases.txt``, adds the template to the
release history the package carries (``src/infra_scaffold/_history``), commits
those and makes the annotated tag ``v0.3.0`` (a convenience for forks: nothing
needs it). Releases recorded in ``template-releases.txt`` but missing from the
history (made on a branch that did not have it) are added too, from the
commit in git history whose template has the recorded digest. Nothing is
pushed: run the tests, then ``git push --follow-tags``.

``--rebuild-history`` rewrites the history from scratch: for every recorded
version it finds a commit whose ``copier.yml`` and ``template/`` have the
recorded digest (the tag ``v<version>`` if present, else any commit in this
clone's history), and leaves the result for you to review and commit.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from packaging.version import InvalidVersion, Version

from infra_scaffold import history
from infra_scaffold.errors import ScaffoldError
from infra_scaffold.git import git, git_bytes
from infra_scaffold.release import (
    RECORD,
    TEMPLATE_PATHS,
    TemplateFile,
    archive_files,
    digest,
    parse_record,
    tree_files,
)

VERSION_FILE = Path("src/infra_scaffold/__init__.py")
HISTORY = Path("src/infra_scaffold/_history")
VERSION_LINE = re.compile(r'^__version__ = "([^"]+)"$', re.MULTILINE)


class ReleaseError(ScaffoldError):
    """A release that cannot be made as asked."""


def _new_version(text: str, current: str, recorded: dict[str, str]) -> Version:
    try:
        version = Version(text)
    except InvalidVersion:
        raise ReleaseError(f"{text!r} is not a PEP 440 version (like 1.4.0)") from None
    if str(version) != text:
        raise ReleaseError(f"write the version in its normal form: {version}")
    newest = max([Version(current), *map(Version, recorded)])
    if version <= newest:
        raise ReleaseError(f"{version} is not newer than {newest}")
    return version


def _recorded(root: Path) -> tuple[str, dict[str, str]]:
    record = root / RECORD
    existing = record.read_text(encoding="utf-8") if record.exists() else ""
    try:
        return existing, parse_record(existing)
    except ValueError as exc:
        raise ReleaseError(str(exc)) from None


def _archive(root: Path, commit: str) -> list[TemplateFile]:
    archive = git_bytes("archive", commit, *TEMPLATE_PATHS, cwd=root, error=ReleaseError)
    return list(archive_files(archive))


def find_release_commits(root: Path, wanted: Mapping[str, str]) -> dict[str, str]:
    """For each ``version: digest``, a commit whose template has that digest.

    The tag ``v<version>`` is tried first; otherwise every commit of this
    clone that changed the template. Raises ReleaseError naming the versions
    no commit holds (a shallow clone lacks them: fetch the whole history).
    """
    found: dict[str, str] = {}
    for version, sha in wanted.items():
        tag = history.tag_of(version)
        tagged = git("tag", "--list", tag, cwd=root, error=ReleaseError).strip()
        if tagged and digest(_archive(root, tag)) == sha:
            found[version] = tag
    missing = {v: s for v, s in wanted.items() if v not in found}
    if missing:
        candidates = git(
            "rev-list", "--all", "--", *TEMPLATE_PATHS, cwd=root, error=ReleaseError
        ).split()
        by_digest: dict[str, str] = {}
        for commit in candidates:
            by_digest.setdefault(digest(_archive(root, commit)), commit)
        for version, sha in missing.items():
            if sha in by_digest:
                found[version] = by_digest[sha]
    lost = sorted(set(wanted) - set(found), key=Version)
    if lost:
        raise ReleaseError(
            f"no commit in this clone has the template recorded for {', '.join(lost)}: "
            "fetch the whole history (git fetch --unshallow) and try again"
        )
    return found


def _check_history(root: Path, recorded: Mapping[str, str]) -> list[str]:
    """Releases recorded but not in the history; refuses a history that disagrees."""
    folder = root / HISTORY
    held = history.releases(folder)
    for version in held:
        if version not in recorded:
            raise ReleaseError(f"the history holds {version}, which {RECORD} does not record")
        if digest(history.release_files(version, folder)) != recorded[version]:
            raise ReleaseError(
                f"the history's {version} is not the recorded release: "
                "run scripts/release.py --rebuild-history"
            )
    return [v for v in recorded if v not in held]


def _add_from_git(root: Path, folder: Path, commits: Mapping[str, str]) -> None:
    for version, commit in commits.items():
        history.add_release(folder, version, _archive(root, commit))


def release(root: Path, text: str) -> str:
    """Make release ``text`` in the repository at ``root``; return the tag."""
    if git("status", "--porcelain", cwd=root, error=ReleaseError).strip():
        raise ReleaseError("the tree has uncommitted changes: commit the template change first")
    version_file = root / VERSION_FILE
    source = version_file.read_text(encoding="utf-8")
    current = VERSION_LINE.search(source)
    if current is None:
        raise ReleaseError(f'{VERSION_FILE} has no line __version__ = "..."')
    existing, recorded = _recorded(root)
    version = _new_version(text, current.group(1), recorded)
    tag = f"v{version}"
    if git("tag", "--list", tag, cwd=root, error=ReleaseError).strip():
        raise ReleaseError(f"the tag {tag} exists already")
    changelog = (root / "CHANGELOG.md").read_text(encoding="utf-8")
    if not re.search(rf"^## \[?{re.escape(str(version))}\]?\s*$", changelog, re.MULTILINE):
        raise ReleaseError(f"CHANGELOG.md has no '## {version}' entry: say what changes first")
    absent = _check_history(root, recorded)
    backfill = find_release_commits(root, {v: recorded[v] for v in absent})

    version_file.write_text(
        VERSION_LINE.sub(f'__version__ = "{version}"', source, count=1), encoding="utf-8"
    )
    files = list(tree_files(root))
    line = f"{version} {digest(files)}\n"
    separator = "\n" if existing and not existing.endswith("\n") else ""
    (root / RECORD).write_text(existing + separator + line, encoding="utf-8")
    _add_from_git(root, root / HISTORY, backfill)
    history.add_release(root / HISTORY, str(version), files)
    paths = [str(VERSION_FILE), RECORD, str(HISTORY)]
    git("add", "--", *paths, cwd=root, error=ReleaseError)
    message = f"Release {tag}: the template as of this commit, recorded by its digest"
    git("commit", "--quiet", "-m", message, "--", *paths, cwd=root, error=ReleaseError)
    git("tag", "--annotate", tag, "-m", f"infra-scaffold {version}", cwd=root, error=ReleaseError)
    return tag


def rebuild_history(root: Path) -> list[str]:
    """Rewrite the history from git for every recorded release; return the versions."""
    _, recorded = _recorded(root)
    commits = find_release_commits(root, recorded)
    target = root / HISTORY
    staging = target.with_name(f".{target.name}.new")
    shutil.rmtree(staging, ignore_errors=True)
    _add_from_git(root, staging, commits)
    for version, sha in recorded.items():
        if digest(history.release_files(version, staging)) != sha:  # pragma: no cover - defensive
            raise ReleaseError(f"rebuilt {version} does not match its digest")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return list(history.releases(target))


def _summary(versions: Iterable[str]) -> str:
    return ", ".join(versions) or "no releases"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("version", nargs="?", help="the new version, PEP 440 (for example 0.3.0)")
    parser.add_argument(
        "--rebuild-history", action="store_true",
        help=f"rewrite {HISTORY} from git for every version in {RECORD}",
    )  # fmt: skip
    parser.add_argument(
        "--root", type=Path, default=Path(__file__).resolve().parents[1],
        help="the repository to release (default: this one)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if bool(args.version) == args.rebuild_history:
        parser.error("give a version to release, or --rebuild-history")
    try:
        if args.rebuild_history:
            versions = rebuild_history(args.root)
            print(f"Rebuilt {HISTORY}: {_summary(versions)}. Review `git status`, then commit.")
            return 0
        tag = release(args.root, args.version)
    except ScaffoldError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    print(f"Tagged {tag}. Run `bash scripts/test.sh`, then `git push --follow-tags`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
