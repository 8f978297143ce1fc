"""Git in tests: run it, commit everything, list tags, build a throwaway history."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from infra_scaffold import history
from infra_scaffold.release import TemplateFile, tree_files

REPO = Path(__file__).resolve().parents[2]


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def commit_all(cwd: Path, message: str) -> None:
    git("add", "--all", cwd=cwd)
    git("-c", "commit.gpgsign=false", "commit", "--quiet", "-m", message, cwd=cwd)


def tags(cwd: Path) -> list[str]:
    return git("tag", "--list", cwd=cwd).split()


def with_changes(files: Iterable[TemplateFile], changes: dict[str, bytes]) -> list[TemplateFile]:
    """Template files with some replaced or added (``path: content``)."""
    kept = [f for f in files if f[0] not in changes]
    return kept + [(path, False, content) for path, content in changes.items()]


def history_with(dest: Path, releases: dict[str, list[TemplateFile]]) -> Path:
    """This package's release history, plus ``releases`` (version: files), at ``dest``."""
    shutil.copytree(history.history_root(), dest)
    for version, files in releases.items():
        history.add_release(dest, version, files)
    return dest


def current_template() -> list[TemplateFile]:
    """The template of this checkout, as a release would record it."""
    return list(tree_files(REPO))
