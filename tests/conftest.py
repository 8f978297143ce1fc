"""Shared fixtures: the repository, the contract, and running the CLI for real."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from infra_scaffold.contract import Contract, load_contract

REPO = Path(__file__).resolve().parents[1]


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
