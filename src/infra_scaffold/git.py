"""Running git: one place for the argv, the time limit, the settings and the one-line errors.

Every git this tool starts, itself or through copier, runs with the user's
hooks and commit signing switched off (:data:`OVERRIDES`): a global
``core.hooksPath`` whose hooks refuse, or ``commit.gpgsign`` with no key at
hand, must not break a clone of the template, the checkout copier makes of
it, or the project's initial commit. That commit falls back to
:data:`FALLBACK_IDENTITY` when git knows nobody.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from infra_scaffold.errors import ScaffoldError

__all__ = [
    "FALLBACK_IDENTITY",
    "OVERRIDES",
    "git",
    "git_bytes",
    "git_environment",
    "identity_configured",
]

#: Settings every git run of this tool uses, whatever the user's configuration says.
OVERRIDES: Mapping[str, str] = {
    "core.hooksPath": os.devnull,
    "commit.gpgsign": "false",
    "tag.gpgsign": "false",
}
#: Who commits when git knows nobody (no user.email, no GIT_AUTHOR_EMAIL).
FALLBACK_IDENTITY: Mapping[str, str] = {
    "GIT_AUTHOR_NAME": "infra-scaffold",
    "GIT_AUTHOR_EMAIL": "infra-scaffold@localhost",
    "GIT_COMMITTER_NAME": "infra-scaffold",
    "GIT_COMMITTER_EMAIL": "infra-scaffold@localhost",
}


def git(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    error: type[ScaffoldError] = ScaffoldError,
    check: bool = True,
    stdin: bytes | None = None,
) -> str:
    """Run ``git ARGS`` (with :data:`OVERRIDES`) and return its output as text.

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
            env=_with_overrides(os.environ if env is None else env),
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


@contextmanager
def git_environment() -> Iterator[None]:
    """Apply :data:`OVERRIDES` to the git that copier starts in this block.

    copier runs git through plumbum, whose environment is a copy of
    ``os.environ`` taken at import: both are changed, and restored on exit.
    (copier gives its own scratch commits an identity.)
    """
    from plumbum import local  # noqa: PLC0415 - copier's process runner, loaded with it

    changes = _with_overrides(os.environ)
    saved = dict(os.environ)
    os.environ.update(changes)
    try:
        with local.env(**changes):
            yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _with_overrides(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` plus :data:`OVERRIDES` as per-process settings (``GIT_CONFIG_COUNT``),
    after any the caller already set, which git reads with command-line priority."""
    result = dict(env)
    try:
        count = int(result.get("GIT_CONFIG_COUNT", "0"))
    except ValueError:
        count = 0
    for offset, (key, value) in enumerate(OVERRIDES.items()):
        result[f"GIT_CONFIG_KEY_{count + offset}"] = key
        result[f"GIT_CONFIG_VALUE_{count + offset}"] = value
    result["GIT_CONFIG_COUNT"] = str(count + len(OVERRIDES))
    return result
