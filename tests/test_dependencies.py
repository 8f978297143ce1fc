"""The container app's pinned requirements are what its tests run against here."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from support.render import REPO, plain_template, render


def _pins(lines: list[str]) -> dict[str, tuple[str, str]]:
    """Exact pins by name: (specifier, environment marker or "")."""
    requirements = [Requirement(line) for line in lines if line and not line.startswith("#")]
    return {
        req.name: (str(req.specifier), str(req.marker or ""))
        for req in requirements
        if str(req.specifier).startswith("==")
    }


@pytest.mark.parametrize("workload", ["http_api", "websocket", "worker"])
def test_the_test_environment_pins_what_the_generated_app_pins(tmp_path: Path, workload: str):
    project = render(
        plain_template(tmp_path / "t"), tmp_path / "p", workload=workload, compute="container"
    )
    pins = _pins((project / "requirements.txt").read_text().splitlines())
    project_table = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    ours = _pins(project_table["optional-dependencies"]["test"])
    direct = {name: pin for name, pin in pins.items() if name in ours}
    assert direct, pins
    assert direct == {name: ours[name] for name in direct}
    if workload != "worker":  # the server and its protocol stack, markers included
        assert {"uvicorn", "httptools", "uvloop"} <= set(direct), direct
