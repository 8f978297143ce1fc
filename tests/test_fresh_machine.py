"""A new user's machine: no git identity, an odd global git configuration, any umask.

The suite itself ignores the user's git configuration (see conftest.py); these
tests put a hostile one back on purpose and check that the commands which run
git still work, and that the new project folder gets the user's permissions.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import GIT_IDENTITY
from support.render import REPO, template_trees


def hostile_git(home: Path) -> dict[str, str]:
    """The environment of a user whose global git config breaks naive commits.

    Hooks that always fail, signing with a program that always fails, another
    default branch, and no identity anywhere (HOME holds only this config).
    """
    hooks = home / "hooks"
    hooks.mkdir(parents=True)
    for hook in ("pre-commit", "commit-msg", "prepare-commit-msg", "post-checkout"):
        script = hooks / hook
        script.write_text("#!/bin/sh\necho 'hook refused' >&2\nexit 1\n")
        script.chmod(0o755)
    config = home / ".gitconfig"
    config.write_text(
        f"[core]\n\thooksPath = {hooks}\n"
        "[commit]\n\tgpgsign = true\n[tag]\n\tgpgsign = true\n"
        f"[gpg]\n\tprogram = {shutil.which('false')}\n"
        "[init]\n\tdefaultBranch = trunk\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in GIT_IDENTITY}
    env.pop("GIT_CONFIG_NOSYSTEM", None)
    env.update({"HOME": str(home), "GIT_CONFIG_GLOBAL": str(config)})
    return env


def scaffold_in(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`scaffold ARGS` with exactly ``env`` (the ``scaffold`` fixture adds the suite's)."""
    return subprocess.run(
        [sys.executable, "-m", "infra_scaffold", *args], env=env, capture_output=True,
        text=True, check=False, stdin=subprocess.DEVNULL, timeout=300,
    )  # fmt: skip


def _git(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    ).stdout


def test_the_hostile_config_really_breaks_a_plain_commit(tmp_path):
    """The guard below means something: this config stops an ordinary `git commit`."""
    env = hostile_git(tmp_path / "home")
    repo = tmp_path / "plain"
    repo.mkdir()
    _git("init", "--quiet", cwd=repo, env=env)
    assert _git("symbolic-ref", "--short", "HEAD", cwd=repo, env=env).strip() == "trunk"
    (repo / "f.txt").write_text("x\n")
    _git("add", "f.txt", cwd=repo, env=env)
    commit = subprocess.run(
        ["git", "commit", "-m", "x"], cwd=repo, env=env, capture_output=True, text=True, check=False
    )
    assert commit.returncode != 0


def test_new_and_update_work_without_identity_under_a_hostile_git_config(tmp_path):
    env = hostile_git(tmp_path / "home")
    template = tmp_path / "template-repo"
    shutil.copy2(REPO / "copier.yml", _mkdir(template) / "copier.yml")
    shutil.copytree(REPO / "template", template / "template")
    # The template repository is made with the suite's own git settings.
    _git("init", "--quiet", cwd=template)
    _git("add", "--all", cwd=template)
    _git("commit", "--quiet", "-m", "release", cwd=template)
    _git("tag", "v1.0.0", cwd=template)

    project = tmp_path / "hostile-svc"
    created = scaffold_in(
        env, "new", str(project), "--defaults", "--data", "workload=http_api",
        "--template", str(template),
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert _git("symbolic-ref", "--short", "HEAD", cwd=project).strip() == "main"
    assert _git("log", "--format=%an <%ae>", cwd=project).splitlines() == [
        "infra-scaffold <infra-scaffold@localhost>"
    ]
    assert _git("status", "--porcelain", cwd=project) == ""

    for tree in template_trees(template):
        (tree / "NOTICE.md").write_text("A new release.\n")
    _git("add", "--all", cwd=template)
    _git("commit", "--quiet", "-m", "next", cwd=template)
    _git("tag", "v1.1.0", cwd=template)
    updated = scaffold_in(env, "update", str(project))
    assert updated.returncode == 0, updated.stderr
    assert (project / "NOTICE.md").read_text() == "A new release.\n"
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "v1.1.0"


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_the_project_folder_gets_the_mode_the_umask_gives(tmp_path, umask):
    dest = tmp_path / "moded-svc"
    result = subprocess.run(
        [sys.executable, "-m", "infra_scaffold", "new", str(dest), "--defaults", "--no-git",
         "--data", "workload=http_api"],
        capture_output=True, text=True, check=False, umask=umask, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(dest.stat().st_mode) == 0o777 & ~umask
    reference = tmp_path / "made-by-mkdir"
    subprocess.run(["mkdir", str(reference)], check=True, umask=umask)
    assert stat.S_IMODE(dest.stat().st_mode) == stat.S_IMODE(reference.stat().st_mode)
