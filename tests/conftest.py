"""Shared fixtures: the repository, the contract, and running the CLI for real.

The suite is hermetic about git: whoever runs it (a fresh machine with an
empty HOME, or a developer whose global config signs commits, runs hooks or
names the default branch "trunk"), every git process it starts, directly or
through copier and the CLI, sees the same configuration and identity.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from infra_scaffold.contract import Contract, load_contract

REPO = Path(__file__).resolve().parents[1]

#: The only git configuration the suite's processes read (besides each repository's own).
GIT_CONFIG = """\
[init]
\tdefaultBranch = main
[commit]
\tgpgsign = false
[tag]
\tgpgsign = false
[advice]
\tdetachedHead = false
"""
#: Who commits in the suite: set in the environment, as CI systems do, so that
#: git never looks for a user.name/user.email configuration.
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "infra-scaffold tests",
    "GIT_AUTHOR_EMAIL": "tests@infra-scaffold.invalid",
    "GIT_COMMITTER_NAME": "infra-scaffold tests",
    "GIT_COMMITTER_EMAIL": "tests@infra-scaffold.invalid",
}
_GIT_HOME: list[Path] = []


def pytest_configure(config: pytest.Config) -> None:
    """Point every git the suite starts at its own configuration (inherited by subprocesses)."""
    from plumbum import local  # copier's process runner: its own copy of the environment

    folder = Path(tempfile.mkdtemp(prefix="infra-scaffold-git-"))
    _GIT_HOME.append(folder)
    (folder / "gitconfig").write_text(GIT_CONFIG, encoding="utf-8")
    settings = {"GIT_CONFIG_GLOBAL": str(folder / "gitconfig"), "GIT_CONFIG_NOSYSTEM": "1"}
    settings.update(GIT_IDENTITY)
    # Per-process overrides (GIT_CONFIG_COUNT/KEY_n/VALUE_n) a caller may have set.
    dropped = [k for k in os.environ if k.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))]
    dropped += ["GIT_CONFIG_COUNT", "GIT_CONFIG_PARAMETERS"]
    # plumbum copied os.environ when a plugin (pytest-copie) imported copier,
    # before this hook: copier called in-process would run git with the
    # user's configuration. Both environments get the suite's.
    for environment in (os.environ, local.env):
        for key in dropped:
            environment.pop(key, "")
        environment.update(settings)


def pytest_unconfigure(config: pytest.Config) -> None:
    for folder in _GIT_HOME:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def contract() -> Contract:
    """The questions of this repository's copier.yml."""
    return load_contract(REPO)


@pytest.fixture
def scaffold() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `scaffold ...` in a real process (exit codes and stderr as users see them)."""

    def run(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "infra_scaffold", *args],
            capture_output=True,
            text=True,
            check=False,
            cwd=cwd,
            env={**os.environ, "COLUMNS": "100", **env},
            stdin=subprocess.DEVNULL,
            timeout=300,
        )

    return run
