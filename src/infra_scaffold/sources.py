"""Where a template comes from, and what a project records as its source.

Three kinds of source:

- the template bundled in this package (the default): rendered from the
  package's copy, recorded as the template repository at the release tag the
  copy matches (``v<version>``), so ``copier update`` works later;
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

from infra_scaffold import __version__
from infra_scaffold.contract import bundled_template
from infra_scaffold.errors import ConfigError
from infra_scaffold.git import git

__all__ = ["DEFAULT_REPOSITORY", "TemplateSource", "resolve_source"]

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
    if template is None:
        if vcs_ref:
            raise ConfigError("--vcs-ref needs --template: the bundled template is one release")
        root = _plain(bundled_template())
        return TemplateSource(
            location=str(root),
            questions=root,
            record_src=os.environ.get("SCAFFOLD_TEMPLATE_REPOSITORY", DEFAULT_REPOSITORY),
            record_commit=f"v{__version__}",
        )
    path = Path(template).expanduser()
    if path.exists() or not _GIT_URL.search(template):
        return _local_source(path, vcs_ref)
    ref = vcs_ref or _latest_tag(git("ls-remote", "--tags", "--refs", template, error=ConfigError))
    return TemplateSource(location=template, questions=_questions_at(template, ref), vcs_ref=ref)


def _plain(root: Path) -> Path:
    """The bundled template as the wheel carries it: without git.

    From a source checkout the template root is the git repository itself,
    which copier would render at its latest tag instead of as it is.
    """
    if not (root / ".git").exists():
        return root
    folder = Path(tempfile.mkdtemp(prefix="scaffold-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    _link_or_copy(root / "copier.yml", folder / "copier.yml")
    shutil.copytree(
        root / "template", folder / "template", symlinks=True, copy_function=_link_or_copy
    )
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
    ref = vcs_ref or _latest_tag(git("tag", "--list", cwd=root, error=ConfigError))
    if ref == "HEAD":  # copier renders the working tree, uncommitted changes included
        return TemplateSource(location=str(root), questions=root, vcs_ref=ref)
    return TemplateSource(location=str(root), questions=_questions_at(str(root), ref), vcs_ref=ref)


def _latest_tag(listing: str) -> str:
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
    folder = Path(tempfile.mkdtemp(prefix="scaffold-questions-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
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
