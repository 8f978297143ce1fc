"""The container app's pinned requirements are what its tests run against here."""

from __future__ import annotations

import tomllib

import pytest
from support.render import REPO, plain_template, render


@pytest.mark.parametrize("workload", ["http_api", "websocket", "worker"])
def test_the_test_environment_pins_what_the_generated_app_pins(tmp_path, workload):
    project = render(
        plain_template(tmp_path / "t"), tmp_path / "p", workload=workload, compute="container"
    )
    pins = {
        line.split("==")[0].lower(): line.split("==")[1]
        for line in (project / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    ours = dict(req.split("==") for req in extras["optional-dependencies"]["test"] if "==" in req)
    direct = {name: version for name, version in pins.items() if name in ours}
    assert direct, pins
    assert direct == {name: ours[name] for name in direct}
