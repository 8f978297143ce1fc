"""Build this package's wheel and install it in a fresh venv, as a user's `pip install` would."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def build_wheel(dest: Path) -> Path:
    """Build the wheel of this checkout offline into ``dest``; return its path."""
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "-w", str(dest), str(REPO)],
        check=False, capture_output=True, text=True,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = dest.glob("infra_scaffold-*.whl")
    return wheel


@dataclass(frozen=True)
class Installed:
    """The wheel installed in its own venv."""

    venv: Path
    package: Path
    """The installed ``infra_scaffold`` folder (holding ``_template``)."""
    env: dict[str, str]
    """An environment without the checkout on the path and with no network."""

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def scaffold(self) -> Path:
        return self.venv / "bin" / "scaffold"


def install_wheel(wheel: Path, venv: Path) -> Installed:
    """Install ``wheel`` (pip byte-compiles it, as usual) into a new venv at ``venv``.

    Its dependencies come from the test environment, read-only, through a .pth
    file: the package itself is imported from the new venv only.
    """
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run(
        [py, "-m", "pip", "install", "--no-index", "--no-deps", "--quiet", str(wheel)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    site = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SCAFFOLD_TEMPLATE")}
    env.update(
        {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
         "GIT_ALLOW_PROTOCOL": "file"},
    )  # fmt: skip
    where = subprocess.run(
        [py, "-c", "import infra_scaffold; print(infra_scaffold.__file__)"],
        cwd=venv, env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    return Installed(venv=venv, package=Path(where).parent, env=env)
