"""Release the template: bump the version, record the template's digest, tag.

python scripts/release.py 0.2.0 [--root DIR]

Run it on a clean tree whose template changes and CHANGELOG entry for the new
version are committed. It writes ``__version__``, appends the template's
digest to ``template-releases.txt``, commits both and makes the annotated tag
``v0.2.0``. Nothing is pushed: run the tests, then ``git push --follow-tags``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from packaging.version import InvalidVersion, Version

from infra_scaffold.errors import ScaffoldError
from infra_scaffold.git import git
from infra_scaffold.release import RECORD, digest, parse_record, tree_files

VERSION_FILE = Path("src/infra_scaffold/__init__.py")
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


def release(root: Path, text: str) -> str:
    """Make release ``text`` in the repository at ``root``; return the tag."""
    if git("status", "--porcelain", cwd=root, error=ReleaseError).strip():
        raise ReleaseError("the tree has uncommitted changes: commit the template change first")
    version_file = root / VERSION_FILE
    source = version_file.read_text(encoding="utf-8")
    current = VERSION_LINE.search(source)
    if current is None:
        raise ReleaseError(f'{VERSION_FILE} has no line __version__ = "..."')
    record = root / RECORD
    existing = record.read_text(encoding="utf-8") if record.exists() else ""
    try:
        recorded = parse_record(existing)
    except ValueError as exc:
        raise ReleaseError(str(exc)) from None
    version = _new_version(text, current.group(1), recorded)
    tag = f"v{version}"
    if git("tag", "--list", tag, cwd=root, error=ReleaseError).strip():
        raise ReleaseError(f"the tag {tag} exists already")
    changelog = (root / "CHANGELOG.md").read_text(encoding="utf-8")
    if not re.search(rf"^## \[?{re.escape(str(version))}\]?\s*$", changelog, re.MULTILINE):
        raise ReleaseError(f"CHANGELOG.md has no '## {version}' entry: say what changes first")

    version_file.write_text(
        VERSION_LINE.sub(f'__version__ = "{version}"', source, count=1), encoding="utf-8"
    )
    line = f"{version} {digest(tree_files(root))}\n"
    separator = "\n" if existing and not existing.endswith("\n") else ""
    record.write_text(existing + separator + line, encoding="utf-8")
    paths = [str(VERSION_FILE), RECORD]
    git("add", "--", *paths, cwd=root, error=ReleaseError)
    message = f"Release {tag}: the template as of this commit, recorded by its digest"
    git("commit", "--quiet", "-m", message, "--", *paths, cwd=root, error=ReleaseError)
    git("tag", "--annotate", tag, "-m", f"infra-scaffold {version}", cwd=root, error=ReleaseError)
    return tag


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("version", help="the new version, PEP 440 (for example 0.2.0)")
    parser.add_argument(
        "--root", type=Path, default=Path(__file__).resolve().parents[1],
        help="the repository to release (default: this one)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        tag = release(args.root, args.version)
    except ScaffoldError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    print(f"Tagged {tag}. Run `bash scripts/test.sh`, then `git push --follow-tags`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
