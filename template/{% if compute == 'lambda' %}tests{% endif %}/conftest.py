"""Unit tests run offline: no AWS credentials, no network, no boto3.

The handlers create their AWS clients on first use and take them as arguments, so
the tests hand them fakes (tests/fakes.py). boto3 is blocked here: a test that
would reach AWS fails at once instead of trying the network.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.modules["boto3"] = None

EVENTS = Path(__file__).resolve().parents[1] / "events"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that takes ``sample_event`` runs once for each file in events/."""
    if "sample_event" in metafunc.fixturenames:
        metafunc.parametrize("sample_event", sorted(path.name for path in EVENTS.glob("*.json")))


@pytest.fixture
def load_event() -> Callable[[str], dict[str, Any]]:
    """Read a sample event from events/ (the same files `sam local invoke -e` uses)."""

    def load(name: str) -> dict[str, Any]:
        return json.loads((EVENTS / name).read_text(encoding="utf-8"))

    return load
