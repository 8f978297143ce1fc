"""Running git: one place for the argv, the time limit and the one-line errors."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from infra_scaffold.errors import ScaffoldError

__all__ = ["git", "git_bytes", "identity_configured"]


def git(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    error: type[ScaffoldError] = ScaffoldError,
    check: bool = True,
    stdin: bytes | None = None,
) -> str:
    """Run ``git ARGS`` and return its output as text.

    A missing git, or (with ``check``) a failing command, raises ``error`` with
    git's last line; without ``check`` a failure returns "". ``stdin`` is fed
    to git as is (``git fast-import`` reads a byte stream).
    """
    out = git_bytes(*args, cwd=cwd, env=env, error=error, check=check, stdin=stdin)
    return out.decode("utf-8", errors="replace")


def git_bytes(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    error: type[ScaffoldError] = ScaffoldError,
    check: bool = True,
    stdin: bytes | None = None,
) -> bytes:
    """Run ``git ARGS`` and return its output as bytes (``git archive``); see :func:`git`."""
    try:
        done = subprocess.run(  # noqa: S603 - fixed git argv, no shell
            ["git", *args],  # noqa: S607
            cwd=cwd,
            env=env,
            input=stdin,
            capture_output=True,
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
        text = (done.stderr or done.stdout).decode("utf-8", errors="replace")
        detail = text.strip().splitlines()
        raise error(f"git {args[0]} failed: {detail[-1] if detail else done.returncode}")
    return b""


def identity_configured() -> bool:
    """Whether git knows who commits (user.email is set)."""
    return bool(git("config", "user.email", check=False).strip())
