"""The S3 handler: each new object version is processed once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import app
from fakes import Clock, FakeContext, FakeDynamoDB
from idempotency import Idempotency

LoadEvent = Callable[[str], dict[str, Any]]


class FakeS3:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.error: Exception | None = None

    def head_object(self, **kwargs: Any) -> dict[str, Any]:
        if self.error:
            raise self.error
        self.calls.append(kwargs)
        return {"ContentLength": 1024, "ContentType": "text/csv"}


@pytest.fixture
def s3() -> FakeS3:
    return FakeS3()


@pytest.fixture
def store() -> Idempotency:
    return Idempotency("table", FakeDynamoDB(), lock_seconds=300, clock=Clock())


def test_a_new_object_is_processed(load_event: LoadEvent, store: Idempotency, s3: FakeS3) -> None:
    assert app.handle(load_event("object_created.json"), store=store, s3=s3) == {
        "processed": 1,
        "duplicate": 0,
    }
    assert s3.calls == [
        {
            "Bucket": "demo-svc-eventbucket-example",
            "Key": "incoming/report 2026-01-01.csv",  # the event's key is URL-encoded
            "VersionId": "096fKKXTRTtl3on89fVO.nfljtsv6qko",
        }
    ]


def test_a_repeated_notification_is_skipped(
    load_event: LoadEvent, store: Idempotency, s3: FakeS3
) -> None:
    app.handle(load_event("object_created.json"), store=store, s3=s3)
    result = app.handle(load_event("object_created.json"), store=store, s3=s3)
    assert result == {"processed": 0, "duplicate": 1}
    assert len(s3.calls) == 1


def test_a_new_version_of_the_same_key_is_processed(
    load_event: LoadEvent, store: Idempotency, s3: FakeS3
) -> None:
    app.handle(load_event("object_created.json"), store=store, s3=s3)
    event = load_event("object_created.json")
    event["Records"][0]["s3"]["object"]["versionId"] = "another-version"
    assert app.handle(event, store=store, s3=s3)["processed"] == 1


def test_a_failure_raises_so_lambda_retries_it(
    load_event: LoadEvent, store: Idempotency, s3: FakeS3
) -> None:
    s3.error = TimeoutError("S3 did not answer")
    with pytest.raises(TimeoutError):
        app.handle(load_event("object_created.json"), store=store, s3=s3)
    s3.error = None
    assert app.handle(load_event("object_created.json"), store=store, s3=s3)["processed"] == 1


def test_the_handler_processes_every_sample_event(
    sample_event: str, load_event: LoadEvent, monkeypatch: pytest.MonkeyPatch, s3: FakeS3
) -> None:
    # As `make invoke` sends them, with the clients wired as in Lambda.
    monkeypatch.setenv("IDEMPOTENCY_TABLE", "table")
    monkeypatch.setattr(app, "DYNAMODB", FakeDynamoDB())
    monkeypatch.setattr(app, "S3", s3)
    event = load_event(sample_event)
    assert app.handler(event, FakeContext()) == {"processed": len(event["Records"]), "duplicate": 0}
