"""The scheduled job: each scheduled time runs once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import app
from fakes import Clock, FakeContext, FakeDynamoDB
from idempotency import Idempotency

LoadEvent = Callable[[str], dict[str, Any]]


@pytest.fixture
def store() -> Idempotency:
    return Idempotency("table", FakeDynamoDB(), lock_seconds=300, clock=Clock())


def test_a_run_happens(load_event: LoadEvent, store: Idempotency) -> None:
    assert app.handle(load_event("scheduled_run.json"), store=store) == {
        "scheduled_time": "2026-01-01T00:00:00Z",
        "outcome": "processed",
    }


def test_a_retried_run_is_skipped(
    load_event: LoadEvent, store: Idempotency, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.handle(load_event("scheduled_run.json"), store=store)
    calls: list[str] = []
    monkeypatch.setattr(app, "run", calls.append)
    event = load_event("scheduled_run.json")
    event["attempt"] = "2"
    assert app.handle(event, store=store)["outcome"] == "duplicate"
    assert calls == []


def test_the_next_scheduled_time_runs(load_event: LoadEvent, store: Idempotency) -> None:
    app.handle(load_event("scheduled_run.json"), store=store)
    event = load_event("scheduled_run.json")
    event["scheduled_time"] = "2026-01-01T01:00:00Z"
    assert app.handle(event, store=store)["outcome"] == "processed"


def test_an_event_without_a_scheduled_time_fails(store: Idempotency) -> None:
    with pytest.raises(ValueError, match="scheduled_time"):
        app.handle({}, store=store)


def test_the_handler_runs_every_sample_event(
    sample_event: str, load_event: LoadEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As `make invoke` sends them, with the store wired as in Lambda.
    monkeypatch.setenv("IDEMPOTENCY_TABLE", "table")
    monkeypatch.setattr(app, "DYNAMODB", FakeDynamoDB())
    assert app.handler(load_event(sample_event), FakeContext())["outcome"] == "processed"
