"""A retried event is not processed twice; a failed one is processed again."""

from __future__ import annotations

import pytest

import idempotency
from fakes import ClientError, Clock, FakeContext, FakeDynamoDB
from idempotency import COMPLETED, IN_PROGRESS, EventInProgressError, Idempotency, Outcome


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def dynamodb() -> FakeDynamoDB:
    return FakeDynamoDB()


@pytest.fixture
def store(dynamodb: FakeDynamoDB, clock: Clock) -> Idempotency:
    return Idempotency("table", dynamodb, lock_seconds=60, ttl_seconds=3600, clock=clock)


def test_an_event_is_processed_once(store: Idempotency, dynamodb: FakeDynamoDB) -> None:
    calls = []
    assert store.run_once("k", lambda: calls.append(1)) is Outcome.PROCESSED
    assert store.run_once("k", lambda: calls.append(2)) is Outcome.DUPLICATE
    assert calls == [1]
    assert dynamodb.status("k") == COMPLETED


def test_a_processed_key_expires_after_the_ttl(
    store: Idempotency, dynamodb: FakeDynamoDB, clock: Clock
) -> None:
    store.run_once("k", lambda: None)
    assert dynamodb.items["k"]["expires_at"] == {"N": str(int(clock.now) + 3600)}


def test_a_failure_releases_the_claim_so_the_retry_runs(
    store: Idempotency, dynamodb: FakeDynamoDB
) -> None:
    def fail() -> None:
        raise RuntimeError("downstream unavailable")

    with pytest.raises(RuntimeError, match="downstream"):
        store.run_once("k", fail)
    assert dynamodb.status("k") is None
    assert store.run_once("k", lambda: None) is Outcome.PROCESSED


def test_a_running_claim_is_reported_busy(store: Idempotency, dynamodb: FakeDynamoDB) -> None:
    dynamodb.items["k"] = {
        "pk": {"S": "k"},
        "status": {"S": IN_PROGRESS},
        "expires_at": {"N": str(1_767_225_600 + 30)},
    }
    with pytest.raises(EventInProgressError):
        store.run_once("k", lambda: None)


def test_the_claim_of_a_stopped_invocation_is_taken_over(
    store: Idempotency, dynamodb: FakeDynamoDB, clock: Clock
) -> None:
    store._claim("k")
    clock.now += 61
    assert store.run_once("k", lambda: None) is Outcome.PROCESSED


def test_other_dynamodb_errors_propagate(store: Idempotency, dynamodb: FakeDynamoDB) -> None:
    dynamodb.error = "ProvisionedThroughputExceededException"
    with pytest.raises(ClientError):
        store.run_once("k", lambda: None)


def test_claims_last_as_long_as_the_invocation(
    monkeypatch: pytest.MonkeyPatch, dynamodb: FakeDynamoDB
) -> None:
    monkeypatch.setenv("IDEMPOTENCY_TABLE", "table")
    store = idempotency.for_invocation(FakeContext(remaining_ms=12_345), dynamodb)
    assert (store.table, store.client, store.lock_seconds) == ("table", dynamodb, 13)
