"""Running git: one place for the argv, the time limit and the one-line errors."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from infra_scaffold.errors import ScaffoldError

__all__ = ["git", "identity_configured"]


def git(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    error: type[ScaffoldError] = ScaffoldError,
    check: bool = True,
) -> str:
    """Run ``git ARGS`` and return its output.

    A missing git, or (with ``check``) a failing command, raises ``error`` with
    git's last line; without ``check`` a failure returns "".
    """
    try:
        done = subprocess.run(  # noqa: S603 - fixed git argv, no shell
            ["git", *args],  # noqa: S607
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
    except FileNotFoundError:
        raise error(
            "git is not installed: install it (or, for scaffold new, pass --no-git)"
        ) from None
    if done.returncode == 0:
        return done.stdout
    if check:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise error(f"git {args[0]} failed: {detail[-1] if detail else done.returncode}")
    return ""


def identity_configured() -> bool:
    """Whether git knows who commits (user.email is set)."""
    return bool(git("config", "user.email", check=False).strip())
