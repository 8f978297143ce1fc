"""What a template release is: one digest of ``copier.yml`` and ``template/``.

Projects made from the bundled template record the tag ``v<__version__>``, so
the bundled template must be exactly the template at that tag. Tags do not
travel with every clone (CI checkouts usually fetch none), so each release
also records the digest of its template in ``template-releases.txt`` at the
repository root: a clone without tags can still tell whether the template
changed since its version was released. ``scripts/release.py`` writes the
record and the tag; the test suite checks both.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path

RECORD = "template-releases.txt"
TEMPLATE_PATHS = ("copier.yml", "template")

# Build leftovers that are never part of a release (copier skips them too).
_IGNORED_DIRS = frozenset({"__pycache__"})
_IGNORED_SUFFIXES = (".pyc",)

TemplateFile = tuple[str, bool, bytes]
"""A file of the template: its POSIX path from the root, executable or not, content."""


def digest(files: Iterable[TemplateFile]) -> str:
    """SHA-256 over every file's path, executable bit and content, in path order."""
    sha = hashlib.sha256()
    for path, executable, content in sorted(files):
        for part in (path.encode(), b"x" if executable else b"-", str(len(content)).encode()):
            sha.update(part + b"\0")
        sha.update(content)
    return sha.hexdigest()


def _ignored(path: str) -> bool:
    parts = path.split("/")
    return bool(_IGNORED_DIRS.intersection(parts)) or path.endswith(_IGNORED_SUFFIXES)


def tree_files(root: Path) -> Iterator[TemplateFile]:
    """The template files under a folder (a checkout, or the wheel's copy)."""
    for top in TEMPLATE_PATHS:
        start = root / top
        candidates = [start] if start.is_file() else sorted(start.rglob("*"))
        for path in candidates:
            name = path.relative_to(root).as_posix()
            if path.is_file() and not _ignored(name):
                yield name, bool(path.stat().st_mode & 0o111), path.read_bytes()


def archive_files(archive: bytes) -> Iterator[TemplateFile]:
    """The template files in a tar archive (``git archive <tag> copier.yml template``)."""
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            if not member.isfile() or _ignored(member.name):
                continue
            extracted = tar.extractfile(member)
            if extracted is None:  # pragma: no cover - isfile() members always extract
                continue
            yield member.name, bool(member.mode & 0o111), extracted.read()


def parse_record(text: str) -> dict[str, str]:
    """Version to digest, from the lines ``<version> <sha256>`` (``#`` starts a comment)."""
    releases: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) != 2 or len(fields[1]) != 64:
            raise ValueError(f"{RECORD}, line {number}: expected '<version> <sha256>'")
        version, sha = fields
        if version in releases:
            raise ValueError(f"{RECORD}, line {number}: {version} is recorded twice")
        releases[version] = sha
    return releases
