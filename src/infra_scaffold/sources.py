"""Where a template comes from, and what a project records as its source.

Three kinds of source:

- the template bundled in this package (the default): rendered from the
  package's copy (or, with ``--vcs-ref``, from an earlier release of the
  history the package carries, :mod:`infra_scaffold.history`), recorded as the
  template repository at the release tag (``v<version>``). ``scaffold update``
  reads every release from that history, so the repository and its tags need
  not be reachable; ``--template`` naming that repository means the same;
- a local folder (``--template ./fork``): recorded as an absolute path;
- a git URL (``--template https://...``): copier clones it; recorded as given.

For git sources the questions are read at the ref that will be rendered (the
latest PEP 440 tag, like copier, unless ``--vcs-ref`` says otherwise).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from infra_scaffold import __version__, history
from infra_scaffold.contract import bundled_template
from infra_scaffold.errors import ConfigError
from infra_scaffold.git import git

__all__ = [
    "DEFAULT_REPOSITORY",
    "TemplateSource",
    "bundled_repository",
    "is_bundled",
    "is_git_url",
    "latest_tag",
    "resolve_source",
]

#: The template repository the bundled copy was released from.
DEFAULT_REPOSITORY = "https://github.com/infra-scaffold/infra-scaffold.git"
_GIT_URL = re.compile(r"^(?:[a-z+]+://|git@|gh:|gl:)|\.git$")


@dataclass(frozen=True, slots=True)
class TemplateSource:
    """A template ready to render, and what to record about it."""

    location: str
    """What copier renders from: a folder or a git URL."""
    questions: Path
    """A folder holding the ``copier.yml`` that will be rendered."""
    vcs_ref: str | None = None
    """The git ref copier renders (None: not a git source)."""
    record_src: str | None = None
    """Replaces ``_src_path`` in the answers file after rendering."""
    record_commit: str | None = None
    """Replaces ``_commit`` in the answers file after rendering."""

    @property
    def bundled(self) -> bool:
        """The template shipped in this package."""
        return self.record_src is not None


def resolve_source(template: str | None, vcs_ref: str | None) -> TemplateSource:
    """Resolve ``--template``/``SCAFFOLD_TEMPLATE`` and ``--vcs-ref`` to a source."""
    template = template or os.environ.get("SCAFFOLD_TEMPLATE") or None
    if template is None or is_bundled(template):
        return _bundled_source(vcs_ref)
    path = Path(template).expanduser()
    if path.exists() or not is_git_url(template):
        return _local_source(path, vcs_ref)
    ref = vcs_ref or latest_tag(git("ls-remote", "--tags", "--refs", template, error=ConfigError))
    return TemplateSource(location=template, questions=_questions_at(template, ref), vcs_ref=ref)


def bundled_repository() -> str:
    """The source bundled projects record: ``$SCAFFOLD_TEMPLATE_REPOSITORY``, else the default."""
    return os.environ.get("SCAFFOLD_TEMPLATE_REPOSITORY", DEFAULT_REPOSITORY)


def is_bundled(source: str) -> bool:
    """Whether ``source`` names the template this package carries (its release history)."""
    return source in (DEFAULT_REPOSITORY, bundled_repository())


def is_git_url(source: str) -> bool:
    """Whether ``source`` reads as a git URL rather than a folder."""
    return bool(_GIT_URL.search(source))


def _bundled_source(vcs_ref: str | None) -> TemplateSource:
    """This version's template, or with ``vcs_ref`` that release, from the history."""
    if vcs_ref is None:
        root = _plain(bundled_template())
        commit = history.tag_of(__version__)
    else:
        root = history.release_template(vcs_ref, _temporary("scaffold-release-"))
        commit = history.tag_of(vcs_ref)
    return TemplateSource(
        location=str(root), questions=root, record_src=bundled_repository(), record_commit=commit
    )


def _plain(root: Path) -> Path:
    """The bundled template as the wheel carries it: without git.

    From a source checkout the template root is the git repository itself,
    which copier would render at its latest tag instead of as it is.
    """
    if not (root / ".git").exists():
        return root
    folder = _temporary("scaffold-template-")
    _link_or_copy(root / "copier.yml", folder / "copier.yml")
    shutil.copytree(
        root / "template", folder / "template", symlinks=True, copy_function=_link_or_copy
    )
    return folder


def _temporary(prefix: str) -> Path:
    """A temporary folder removed when the process ends."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _link_or_copy(source: str | Path, target: str | Path) -> None:
    """Hard-link (copier only reads the template; 6x faster), else copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _local_source(path: Path, vcs_ref: str | None) -> TemplateSource:
    root = path.resolve()
    if not (root / "copier.yml").is_file():
        raise ConfigError(f"--template {path}: no copier.yml there")
    if not (root / ".git").exists():
        if vcs_ref:
            raise ConfigError(f"--vcs-ref: {path} is not a git repository")
        return TemplateSource(location=str(root), questions=root)
    ref = vcs_ref or latest_tag(git("tag", "--list", cwd=root, error=ConfigError))
    if ref == "HEAD":  # copier renders the working tree, uncommitted changes included
        return TemplateSource(location=str(root), questions=root, vcs_ref=ref)
    return TemplateSource(location=str(root), questions=_questions_at(str(root), ref), vcs_ref=ref)


def latest_tag(listing: str) -> str:
    """The newest final PEP 440 tag in ``git tag``/``ls-remote`` output, else HEAD."""
    from packaging.version import InvalidVersion, Version  # noqa: PLC0415

    best: tuple[Version, str] | None = None
    for line in listing.splitlines():
        tag = line.split("refs/tags/")[-1].strip()
        try:
            version = Version(tag)
        except InvalidVersion:
            continue
        if not version.is_prerelease and (best is None or version > best[0]):
            best = (version, tag)
    return best[1] if best else "HEAD"


def _questions_at(repository: str, ref: str) -> Path:
    """Fetch ``copier.yml`` of ``repository`` at ``ref`` into a temporary folder."""
    folder = _temporary("scaffold-questions-")
    git(
        "clone",
        "--quiet",
        "--no-checkout",
        "--filter=blob:none",
        repository,
        str(folder / "r"),
        error=ConfigError,
    )
    text = git("show", f"{ref}:copier.yml", cwd=folder / "r", error=ConfigError)
    (folder / "copier.yml").write_text(text, encoding="utf-8")
    return folder
