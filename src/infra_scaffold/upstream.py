"""Where an update takes its releases from, and how copier is pointed there.

``copier update`` reads the old release (``_commit``) and the new one from the
template source the answers file records (``_src_path``). ``scaffold update``
prepares a throwaway bare git repository holding both, and has git read it
in place of the recorded source (``url.<repository>.insteadOf=<recorded>``,
set per process), so the answers file keeps its recorded source:

- the project records the bundled source (the default), or ``--template``
  names it: the repository is built from the release history this package
  carries (:mod:`infra_scaffold.history`). No network, no tags needed;
- otherwise the recorded source, or ``--template URL|PATH`` (a platform
  team's fork or mirror), is cloned into it. A fork that lacks the release a
  bundled project was made from gets that release from the history, so a
  fork of the published branch (which carries no tags) can take over.

With ``--template``, the new source is recorded after the update. Copier's
mirror cache lives in the throwaway folder too: a user's cache never holds
the package's history, and the history never sees a user's cache.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from infra_scaffold import __version__, history
from infra_scaffold.errors import MissingReleaseError, SourceError
from infra_scaffold.git import git
from infra_scaffold.sources import DEFAULT_REPOSITORY, is_bundled, is_git_url, latest_tag

__all__ = ["Upstream", "open_upstream"]

# How copier turns a recorded source into what it hands to git (copier._vcs.get_repo,
# 9.19): aliases expanded, then anything ending in .git or with a git prefix is a
# URL; everything else is a folder, read with git only if it is a repository.
_GIT_PREFIXES = ("git@", "git://", "git+", "https://github.com/", "https://gitlab.com/")
_ALIASES = (
    (re.compile(r"^gh:/?(.*\.git)$"), r"https://github.com/\1"),
    (re.compile(r"^gh:/?(.*)$"), r"https://github.com/\1.git"),
    (re.compile(r"^gl:/?(.*\.git)$"), r"https://gitlab.com/\1"),
    (re.compile(r"^gl:/?(.*)$"), r"https://gitlab.com/\1.git"),
)


@dataclass(frozen=True, slots=True)
class Upstream:
    """The releases an update reads, ready for copier."""

    recorded: str
    """The project's ``_src_path``: the source copier asks git for."""
    repository: Path
    """The throwaway bare repository git reads instead."""
    ref: str
    """The release to update to (a tag such as ``v0.3.0``)."""
    questions: Path
    """A folder holding that release's ``copier.yml``."""
    label: str
    """The source, as messages name it."""
    record_src: str | None = None
    """With ``--template``: the ``_src_path`` to record after the update."""

    def git_env(self) -> dict[str, str]:
        """Environment entries that make git read :attr:`repository` for the recorded source."""
        entries = []
        for prefix in dict.fromkeys((self.recorded, _copier_url(self.recorded) or self.recorded)):
            entries.append((f"url.{self.repository}.insteadOf", prefix))
        count = int(os.environ.get("GIT_CONFIG_COUNT", "0") or 0)
        env = {"GIT_CONFIG_COUNT": str(count + len(entries))}
        for index, (key, value) in enumerate(entries, start=count):
            env[f"GIT_CONFIG_KEY_{index}"] = key
            env[f"GIT_CONFIG_VALUE_{index}"] = value
        return env


@contextmanager
def open_upstream(
    recorded_src: str, recorded_commit: str, template: str | None, vcs_ref: str | None
) -> Iterator[Upstream]:
    """Prepare the releases for an update; the folder is removed on exit.

    Raises SourceError when a source cannot be read (named, with what to do)
    and MissingReleaseError when a release is not there (named, with the ones
    there are).
    """
    _check_redirectable(recorded_src)
    with tempfile.TemporaryDirectory(prefix="scaffold-upstream-") as tmp:
        folder = Path(tmp)
        target = template or recorded_src
        record = _record_of(template) if template and template != recorded_src else None
        if is_bundled(target):
            yield _bundled(folder, recorded_src, recorded_commit, vcs_ref, record)
        else:
            yield _cloned(folder, recorded_src, recorded_commit, template, vcs_ref, record)


def _bundled(
    folder: Path, recorded: str, commit: str, vcs_ref: str | None, record: str | None
) -> Upstream:
    label = f"the release history of infra-scaffold {__version__}"
    held = history.releases()
    if history.version_of(commit) not in held:
        raise _not_held(commit, held)
    ref = history.tag_of(vcs_ref or held[-1])
    if history.version_of(ref) not in held:
        raise MissingReleaseError(
            f"--vcs-ref {vcs_ref}: template release {history.version_of(ref)} is not in {label} "
            f"(it holds {', '.join(held)})"
        )
    repository = history.build_repository(folder / "releases.git")
    questions = folder / "questions"
    questions.mkdir()
    (questions / "copier.yml").write_bytes(history.release_file(ref, "copier.yml"))
    return Upstream(recorded, repository, ref, questions, label, record)


def _not_held(commit: str, held: tuple[str, ...]) -> MissingReleaseError:
    from packaging.version import InvalidVersion, Version  # noqa: PLC0415

    version = history.version_of(commit)
    listed = ", ".join(held) or "none"
    try:
        newer = bool(held) and Version(version) > Version(held[-1])
    except InvalidVersion:
        newer = False
    if newer:
        return MissingReleaseError(
            f"the project is at template release {version}, newer than infra-scaffold "
            f"{__version__} knows (it holds {listed}): upgrade it (pip install --upgrade "
            "infra-scaffold)"
        )
    return MissingReleaseError(
        f"the project was made from template release {commit}, which is not in the release "
        f"history of infra-scaffold {__version__} (it holds {listed}): pass --template with "
        "the repository that has it"
    )


def _cloned(
    folder: Path,
    recorded: str,
    commit: str,
    template: str | None,
    vcs_ref: str | None,
    record: str | None,
) -> Upstream:
    source = record or recorded
    label = source
    repository = folder / "source.git"
    if Path(source).is_dir() and not git("-C", source, "rev-parse", "--git-dir", check=False):
        raise SourceError(
            f"{source} is not a git repository: an update reads the template's releases "
            "from git tags (vX.Y.Z)"
        )
    try:
        git("clone", "--bare", "--quiet", "--", source, str(repository), error=SourceError)
    except SourceError as error:
        raise _unreachable(source, template, commit, str(error)) from None
    tags = git("tag", "--list", cwd=repository, error=SourceError)
    ref = vcs_ref or latest_tag(tags)
    if ref == "HEAD":
        raise SourceError(
            f"{label} has no release tag (like v1.0.0): tag a release there, or pass --vcs-ref"
        )
    if not _has(repository, ref):
        raise MissingReleaseError(
            f"--vcs-ref {ref} is not in {label} (its tags: {', '.join(tags.split()) or 'none'})"
        )
    if not _has(repository, commit):
        if not (is_bundled(recorded) and history.version_of(commit) in history.releases()):
            raise MissingReleaseError(
                f"the project's template release {commit} is not in {label} (its tags: "
                f"{', '.join(tags.split()) or 'none'}): an update needs the release the project "
                "was made from, to tell your edits from the template's"
            )
        history.import_release(repository, commit)
    questions = folder / "questions"
    questions.mkdir()
    text = git("show", f"{ref}:copier.yml", cwd=repository, error=SourceError)
    (questions / "copier.yml").write_text(text, encoding="utf-8")
    return Upstream(recorded, repository, ref, questions, label, record)


def _has(repository: Path, ref: str) -> bool:
    return bool(
        git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=repository, check=False)
    )


def _unreachable(source: str, template: str | None, commit: str, detail: str) -> SourceError:
    where = "--template" if template else "the template source recorded in .copier-answers.yml"
    hint = "pass --template URL|PATH: a fork or mirror you can reach"
    if history.version_of(commit) in history.releases():
        hint += f", or --template {DEFAULT_REPOSITORY} for the releases this package carries"
    return SourceError(f"cannot read {where}, {source} ({detail}): {hint}")


def _record_of(template: str) -> str:
    """What a project records for ``--template``: a URL as given, a folder absolute."""
    if is_bundled(template):
        return template
    path = Path(template).expanduser()
    if path.exists() or not is_git_url(template):
        return str(path.resolve())
    return template


def _check_redirectable(recorded: str) -> None:
    """Copier hands git only sources it takes for git: a folder that is gone is not one."""
    if _copier_url(recorded) is not None:
        return
    if not Path(recorded).expanduser().exists():
        raise SourceError(
            f"the project records the template folder {recorded}, which is gone, and copier "
            "reads a missing folder without git, so nothing can stand in for it: set _src_path "
            "in .copier-answers.yml to the template's repository, commit, and update again"
        )


def _copier_url(source: str) -> str | None:
    """The URL copier hands git for ``source``, or None if copier takes it for a folder."""
    for pattern, replacement in _ALIASES:
        source = pattern.sub(replacement, source)
    if not (source.endswith(".git") or source.startswith(_GIT_PREFIXES)):
        return None
    if source.startswith("git+"):
        return source[4:]
    if source.startswith("https://") and not source.endswith(".git"):
        return f"{source}.git"
    return source
