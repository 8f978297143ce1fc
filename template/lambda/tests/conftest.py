"""Unit tests run offline: no AWS credentials, no network, no real boto3.

The handler modules create their AWS clients at import (the execution environment's
initialisation) and pass them to the code that uses them, so the tests hand that
code fakes (tests/fakes.py). Here boto3 is a stand-in whose clients refuse every
call: a test that would reach AWS fails at once instead of trying the network.
"""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


class OfflineClient:
    """An AWS client that refuses every call: pass a fake to the code under test."""

    def __init__(self, service: str, *args: Any, **kwargs: Any) -> None:
        self.service = service

    def __getattr__(self, operation: str) -> Callable[..., Any]:
        def refuse(**kwargs: Any) -> Any:
            raise RuntimeError(f"unit tests do not call AWS ({self.service}.{operation})")

        return refuse


sys.modules["boto3"] = types.SimpleNamespace(client=OfflineClient)  # type: ignore[assignment]

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
