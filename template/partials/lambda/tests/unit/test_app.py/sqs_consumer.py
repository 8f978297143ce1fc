"""The SQS consumer: partial batch failures, each message processed once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import app
from fakes import Clock, FakeContext, FakeDynamoDB
from idempotency import IN_PROGRESS, Idempotency

LoadEvent = Callable[[str], dict[str, Any]]


@pytest.fixture
def dynamodb() -> FakeDynamoDB:
    return FakeDynamoDB()


@pytest.fixture
def store(dynamodb: FakeDynamoDB) -> Idempotency:
    return Idempotency("table", dynamodb, lock_seconds=60, clock=Clock())


def test_a_batch_is_processed(load_event: LoadEvent, store: Idempotency) -> None:
    assert app.handle(load_event("messages.json"), store=store) == {"batchItemFailures": []}


def test_a_redelivered_message_is_not_processed_again(
    load_event: LoadEvent, store: Idempotency, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.handle(load_event("messages.json"), store=store)
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(app, "process", calls.append)
    assert app.handle(load_event("messages.json"), store=store) == {"batchItemFailures": []}
    assert calls == []


def test_only_the_failed_message_is_retried(load_event: LoadEvent, store: Idempotency) -> None:
    event = load_event("messages.json")
    event["Records"][1]["body"] = "not json"
    failed_id = event["Records"][1]["messageId"]
    assert app.handle(event, store=store) == {"batchItemFailures": [{"itemIdentifier": failed_id}]}
    event["Records"][1]["body"] = '{"type": "order.paid"}'
    assert app.handle(event, store=store) == {"batchItemFailures": []}


def test_a_message_another_invocation_is_processing_is_retried_later(
    load_event: LoadEvent, store: Idempotency, dynamodb: FakeDynamoDB
) -> None:
    event = load_event("messages.json")
    message_id = event["Records"][0]["messageId"]
    key = f"sqs#{message_id}"
    dynamodb.items[key] = {
        "pk": {"S": key},
        "status": {"S": IN_PROGRESS},
        "expires_at": {"N": str(1_767_225_600 + 30)},
    }
    assert app.handle(event, store=store) == {"batchItemFailures": [{"itemIdentifier": message_id}]}


def test_the_handler_processes_every_sample_event(
    sample_event: str,
    load_event: LoadEvent,
    monkeypatch: pytest.MonkeyPatch,
    dynamodb: FakeDynamoDB,
) -> None:
    # As `make invoke` sends them, with the store wired as in Lambda.
    monkeypatch.setenv("IDEMPOTENCY_TABLE", "table")
    monkeypatch.setattr(app, "DYNAMODB", dynamodb)
    event = load_event(sample_event)
    assert app.handler(event, FakeContext()) == {"batchItemFailures": []}
    assert len(dynamodb.items) == len(event["Records"])
