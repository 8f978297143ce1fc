"""Render a planned project with copier, atomically: all of it, or nothing.

The project is rendered into a temporary folder beside the destination and
moved into place only when complete (and committed to git, unless asked not
to). On any error or interrupt (Ctrl-C, SIGTERM, SIGHUP) the temporary folder
is removed, so the destination is absent afterwards, or exactly as it was.
This is the only module that imports copier for new projects.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from infra_scaffold import __version__
from infra_scaffold.errors import AnswerError, RenderError, ScaffoldError
from infra_scaffold.git import FALLBACK_IDENTITY, git, git_environment, identity_configured
from infra_scaffold.plan import Plan
from infra_scaffold.signals import terminate_as_exception
from infra_scaffold.sources import TemplateSource

__all__ = ["ANSWERS_FILE", "Rendered", "check_destination", "record_source", "render_project"]

ANSWERS_FILE = ".copier-answers.yml"


@dataclass(frozen=True, slots=True)
class Rendered:
    """A project on disk."""

    path: Path
    """Where it is."""
    files: tuple[Path, ...]
    """Every file created, relative to :attr:`path`."""
    committed: bool
    """Whether it is a git repository with an initial commit."""


def check_destination(dest: Path) -> None:
    """Refuse a destination that exists and is not an empty folder."""
    if dest.is_file() or dest.is_symlink():
        raise AnswerError("DEST", f"{dest} is a file; choose a new folder")
    if dest.is_dir() and any(dest.iterdir()):
        raise AnswerError(
            "DEST",
            f"{dest} is not empty; to bring an existing project up to date run "
            f"`scaffold update {dest}`",
        )


def render_project(plan: Plan, dest: Path, source: TemplateSource, *, git: bool) -> Rendered:
    """Render ``plan`` from ``source`` into ``dest``, all or nothing."""
    dest = dest.absolute()
    check_destination(dest)
    created_parents = _make_parents(dest.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.scaffold-", dir=dest.parent))
    try:
        with terminate_as_exception():
            _copy(plan, staging, source)
            if source.bundled:
                record_source(staging / ANSWERS_FILE, str(source.record_src), source.record_commit)
            if git:
                _commit(staging, str(plan.answers["project_name"]))
            files = tuple(sorted(_files(staging)))
            # mkdtemp makes a private folder (0700); a project folder gets what
            # the user's umask gives any new folder.
            staging.chmod(0o777 & ~_umask())
            if dest.is_dir():
                dest.rmdir()  # empty (checked above); rename cannot replace it everywhere
            staging.rename(dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for parent in created_parents:
            shutil.rmtree(parent, ignore_errors=True)
        raise
    return Rendered(path=dest, files=files, committed=git)


def _copy(plan: Plan, staging: Path, source: TemplateSource) -> None:
    from copier import run_copy  # noqa: PLC0415 - the one place copier renders
    from copier.errors import CopierError  # noqa: PLC0415

    try:
        with git_environment():  # copier clones git templates
            run_copy(
                source.location,
                staging,
                data=dict(plan.answers),
                vcs_ref=source.vcs_ref,
                defaults=True,
                overwrite=True,
                quiet=True,
                unsafe=False,
            )
    except ValueError as error:
        raise _answer_error(error) from None
    except CopierError as error:
        raise RenderError(f"the template could not be rendered: {error}") from None
    except Exception as error:  # a broken fork: Jinja, YAML or file errors inside copier
        detail = f"{type(error).__name__}: {error}"
        raise RenderError(f"the template could not be rendered: {detail}") from None


def _answer_error(error: ValueError) -> ScaffoldError:
    """copier's "Validation error for question 'x': rule" as an AnswerError."""
    text = str(error)
    prefix = "Validation error for question '"
    if text.startswith(prefix) and "': " in text:
        key, rule = text[len(prefix) :].split("': ", 1)
        return AnswerError(key, rule)
    return RenderError(f"the template could not be rendered: {text}")


def record_source(answers_file: Path, src: str, commit: str | None) -> None:
    """Write ``_src_path`` (and ``_commit``, unless None) into an answers file.

    The bundled copy is not a git repository, so copier records its folder;
    ``copier update`` needs the template repository and the release tag the
    copy matches. ``scaffold update --template`` records the new source the
    same way.
    """
    import yaml  # noqa: PLC0415

    values = {"_src_path": src} if commit is None else {"_commit": commit, "_src_path": src}
    prefixes = tuple(f"{key}:" for key in values)
    lines = answers_file.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(prefixes)]
    first_answer = next((i for i, line in enumerate(kept) if not line.startswith("#")), len(kept))
    at = next((i for i, line in enumerate(lines) if line.startswith(prefixes)), first_answer)
    kept.insert(at, yaml.safe_dump(values, default_flow_style=False, width=10_000))
    answers_file.write_text("".join(kept), encoding="utf-8")


def _commit(project: Path, name: str) -> None:
    """Make the project a git repository with one initial commit."""
    env = dict(os.environ)
    if not identity_configured():
        env = {**FALLBACK_IDENTITY, **env}
    message = f"Scaffold {name} with infra-scaffold {__version__}"
    for args in (
        ["init", "--quiet", "--initial-branch=main"],
        ["add", "--all"],
        ["commit", "--quiet", "--no-verify", "-m", message],
    ):
        git(*args, cwd=project, env=env, error=RenderError)


def _umask() -> int:
    """The process's umask (reading it means setting it; put straight back)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _files(root: Path) -> Iterator[Path]:
    for path in root.rglob("*"):
        if path.is_file() and ".git" not in path.relative_to(root).parts:
            yield path.relative_to(root)


def _make_parents(folder: Path) -> list[Path]:
    """Create missing parent folders; return the topmost created (to undo)."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    return missing[-1:]
