"""The stream handler: in order, stops at the first failure, each record once."""

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
    return Idempotency("table", FakeDynamoDB(), lock_seconds=60, clock=Clock())


@pytest.fixture
def processed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []

    def process(record: dict[str, Any]) -> None:
        if record["dynamodb"]["NewImage"]["status"]["S"] == "broken":
            raise ValueError("cannot process")
        seen.append(record["eventName"])

    monkeypatch.setattr(app, "process", process)
    return seen


def test_changes_are_processed_in_order(load_event: LoadEvent, store: Idempotency) -> None:
    assert app.handle(load_event("changes.json"), store=store) == {"batchItemFailures": []}


def test_a_failure_stops_the_batch_and_reports_its_sequence_number(
    load_event: LoadEvent, store: Idempotency, processed: list[str]
) -> None:
    event = load_event("changes.json")
    event["Records"][0]["dynamodb"]["NewImage"]["status"]["S"] = "broken"
    result = app.handle(event, store=store)
    first = event["Records"][0]["dynamodb"]["SequenceNumber"]
    assert result == {"batchItemFailures": [{"itemIdentifier": first}]}
    assert processed == []


def test_a_retried_batch_skips_the_records_already_processed(
    load_event: LoadEvent, store: Idempotency, processed: list[str]
) -> None:
    event = load_event("changes.json")
    event["Records"][1]["dynamodb"]["NewImage"]["status"]["S"] = "broken"
    app.handle(event, store=store)
    assert processed == ["INSERT"]
    event["Records"][1]["dynamodb"]["NewImage"]["status"]["S"] = "paid"
    assert app.handle(event, store=store) == {"batchItemFailures": []}
    assert processed == ["INSERT", "MODIFY"]


def test_the_handler_processes_every_sample_event(
    sample_event: str, load_event: LoadEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As `make invoke` sends them, with the store wired as in Lambda.
    dynamodb = FakeDynamoDB()
    monkeypatch.setenv("IDEMPOTENCY_TABLE", "table")
    monkeypatch.setattr(app, "DYNAMODB", dynamodb)
    event = load_event(sample_event)
    assert app.handler(event, FakeContext()) == {"batchItemFailures": []}
    assert len(dynamodb.items) == len(event["Records"])
