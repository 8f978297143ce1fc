"""The release history the package carries: every released template, offline.

Projects made from the bundled template record the template repository and
their release tag (``_commit: v0.2.0``). Neither is reachable for most users:
only the branch ``main`` is published, and tags never leave the machine that
made them. So the package carries the released templates themselves, and
``scaffold update`` turns them into a git repository copier can update from.

Storage, under ``_history/`` next to this module (in the wheel and the sdist):

- ``releases/<version>``: one line per file of that release's ``copier.yml``
  and ``template/``: ``<git mode> <sha256 of the content> <path>``, by path;
- ``objects/<sha256>.gz``: each distinct file content, once, gzip-compressed
  (with no timestamp, so the same content always gives the same bytes).
  Compressed also so that git never takes one for a copy of a template file:
  its rename detection would otherwise carry a branch's edits of a template
  file into the history when the branch is merged (seen while merging).

A release adds its manifest and only the contents no earlier release had, so
the history grows by what a release changed, and stays plain files whose
review diff shows just that. (A git bundle would be smaller but is one binary
rewritten by every release, and its bytes depend on the git version that
packed it; snapshots turned into a repository at run time need no such file.)

:func:`build_repository` writes a throwaway bare repository with one commit
per release, each the child of the one before, tagged ``v<version>``. The
commits have a fixed author, committer, date and message, so the same
releases always give the same commit ids. ``scripts/release.py`` adds each
new release (and can rebuild the history from git); the tests check every
release against its digest in ``template-releases.txt``.

Nothing here imports copier.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath

from infra_scaffold.errors import ConfigError, MissingReleaseError
from infra_scaffold.git import git
from infra_scaffold.release import TemplateFile

__all__ = [
    "HISTORY_ENV",
    "add_release",
    "build_repository",
    "history_root",
    "import_release",
    "prune",
    "release_file",
    "release_files",
    "release_template",
    "releases",
    "tag_of",
    "version_of",
]

#: Environment variable naming another history folder (tests, platform builds).
HISTORY_ENV = "SCAFFOLD_HISTORY"

_EXECUTABLE, _REGULAR = "100755", "100644"
_SUFFIX = ".gz"
# Fixed, so that the same releases always make the same commits.
_IDENTITY = b"infra-scaffold <releases@infra-scaffold.invalid> 0 +0000"


def history_root() -> Path:
    """The history folder this package carries (or ``$SCAFFOLD_HISTORY``)."""
    override = os.environ.get(HISTORY_ENV)
    return Path(override) if override else Path(__file__).parent / "_history"


def version_of(ref: str) -> str:
    """``v1.2.0`` or ``1.2.0`` → ``1.2.0``."""
    return ref[1:] if ref[:1] in ("v", "V") and ref[1:2].isdigit() else ref


def tag_of(version: str) -> str:
    """The git tag of a release: ``1.2.0`` → ``v1.2.0``."""
    return f"v{version_of(version)}"


def releases(root: Path | None = None) -> tuple[str, ...]:
    """The versions in the history, oldest first (PEP 440 order)."""
    from packaging.version import Version  # noqa: PLC0415 - off the fast CLI paths

    folder = (root or history_root()) / "releases"
    names = [p.name for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
    return tuple(sorted(names, key=Version))


def release_files(version: str, root: Path | None = None) -> Iterator[TemplateFile]:
    """The files of one release: ``(path, executable, content)``.

    Raises MissingReleaseError (naming the releases there are) if it is not in
    the history.
    """
    root = root or history_root()
    for mode, sha, path in _manifest(root, version):
        yield path, mode == _EXECUTABLE, _read_object(root, sha)


def release_file(version: str, path: str, root: Path | None = None) -> bytes:
    """One file of a release (``copier.yml``), or MissingReleaseError."""
    root = root or history_root()
    for _, sha, name in _manifest(root, version):
        if name == path:
            return _read_object(root, sha)
    raise MissingReleaseError(f"release {version_of(version)} has no {path}")


def release_template(version: str, dest: Path, *, root: Path | None = None) -> Path:
    """Write release ``version``'s ``copier.yml`` and ``template/`` into ``dest``; return it.

    ``version`` is ``1.2.0`` or ``v1.2.0``. Raises MissingReleaseError, naming
    the release and the ones available, when the history does not hold it.
    """
    for path, executable, content in release_files(version, root):
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(0o755 if executable else 0o644)
    return dest


def build_repository(dest: Path, *, root: Path | None = None) -> Path:
    """Write a bare git repository at ``dest`` holding every release; return it.

    One commit per release, oldest first, each on top of the one before, on
    the branch ``main``; each tagged ``v<version>`` (lightweight tags).
    """
    root = root or history_root()
    versions = releases(root)
    _init_bare(dest)
    _fast_import(dest, root, versions, branch="refs/heads/main")
    return dest


def import_release(repository: Path, version: str, *, root: Path | None = None) -> str:
    """Add release ``version`` to an existing repository as the tag ``v<version>``.

    For a fork that lacks the release a project was made from. Returns the tag.
    """
    root = root or history_root()
    _fast_import(repository, root, [version_of(version)], branch=None)
    return tag_of(version)


def add_release(root: Path, version: str, files: Iterable[TemplateFile]) -> None:
    """Record a release in the history at ``root`` (new contents, then its manifest)."""
    objects = root / "objects"
    objects.mkdir(parents=True, exist_ok=True)
    lines = []
    for path, executable, content in sorted(files):
        sha = hashlib.sha256(content).hexdigest()
        stored = _object_path(root, sha)
        if not stored.exists():
            stored.write_bytes(gzip.compress(content, compresslevel=9, mtime=0))
        lines.append(f"{_EXECUTABLE if executable else _REGULAR} {sha} {path}\n")
    (root / "releases").mkdir(parents=True, exist_ok=True)
    (root / "releases" / version_of(version)).write_text("".join(lines), encoding="utf-8")


def prune(root: Path) -> list[str]:
    """Delete contents no release lists (left by a rebuild); return their names."""
    used = {sha for version in releases(root) for _, sha, _ in _manifest(root, version)}
    removed = []
    for stored in sorted((root / "objects").iterdir()):
        if stored.name.removesuffix(_SUFFIX) not in used:
            stored.unlink()
            removed.append(stored.name)
    return removed


def _object_path(root: Path, sha: str) -> Path:
    return root / "objects" / f"{sha}{_SUFFIX}"


def _read_object(root: Path, sha: str) -> bytes:
    return gzip.decompress(_object_path(root, sha).read_bytes())


def _manifest(root: Path, version: str) -> Iterator[tuple[str, str, str]]:
    path = root / "releases" / version_of(version)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _missing(version, root) from None
    for number, line in enumerate(text.splitlines(), start=1):
        mode, sha, name = line.split(" ", 2)
        parts = PurePosixPath(name).parts
        if mode not in (_EXECUTABLE, _REGULAR) or ".." in parts or name.startswith("/"):
            raise ConfigError(f"{path}, line {number}: not '<mode> <sha256> <relative path>'")
        yield mode, sha, name


def _missing(version: str, root: Path) -> MissingReleaseError:
    from infra_scaffold import __version__  # noqa: PLC0415

    held = ", ".join(releases(root)) or "none"
    return MissingReleaseError(
        f"template release {version_of(version)} is not in the release history of "
        f"infra-scaffold {__version__} (it holds {held})"
    )


def _init_bare(dest: Path) -> None:
    git("init", "--bare", "--quiet", "--object-format=sha1", str(dest), error=ConfigError)
    git("symbolic-ref", "HEAD", "refs/heads/main", cwd=dest, error=ConfigError)


def _fast_import(
    repository: Path, root: Path, versions: Sequence[str], *, branch: str | None
) -> None:
    """Commit each release (with ``branch``: chained on it, plus a tag; else as a tag)."""
    stream = io.BytesIO()
    marks: dict[str, int] = {}
    counter = itertools.count(1)
    previous = 0
    for version in versions:
        files = list(_manifest(root, version))
        for _, sha, _ in files:
            if sha not in marks:
                marks[sha] = next(counter)
                content = _read_object(root, sha)
                stream.write(b"blob\nmark :%d\ndata %d\n%s\n" % (marks[sha], len(content), content))
        commit = next(counter)
        message = f"infra-scaffold template {version}\n".encode()
        ref = (branch or f"refs/tags/{tag_of(version)}").encode()
        stream.write(b"commit %s\nmark :%d\n" % (ref, commit))
        stream.write(b"author %s\ncommitter %s\n" % (_IDENTITY, _IDENTITY))
        stream.write(b"data %d\n%s" % (len(message), message))
        if branch and previous:
            stream.write(b"from :%d\n" % previous)
        stream.write(b"deleteall\n")
        for mode, sha, path in files:
            stream.write(b"M %s :%d %s\n" % (mode.encode(), marks[sha], _quoted(path)))
        stream.write(b"\n")
        if branch:
            stream.write(b"reset refs/tags/%s\nfrom :%d\n\n" % (tag_of(version).encode(), commit))
        previous = commit
    stream.write(b"done\n")
    git(
        "fast-import",
        "--quiet",
        "--done",
        cwd=repository,
        stdin=stream.getvalue(),
        error=ConfigError,
    )


def _quoted(path: str) -> bytes:
    """A path in fast-import's C-style quotes (template names hold spaces and quotes)."""
    escaped = path.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return b'"%s"' % escaped.encode()
