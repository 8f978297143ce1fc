"""The idempotency record: claims, leases, completion (in memory and on DynamoDB)."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from app.store import Claim, DynamoJobStore, LostClaim, MemoryJobStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_memory_store_rules() -> None:
    clock = Clock()
    store = MemoryJobStore(clock)
    assert store.claim("a", "w1", 60) is Claim.CLAIMED
    assert store.claim("a", "w2", 60) is Claim.BUSY
    clock.now += 61  # w1 died: its lease ran out
    assert store.claim("a", "w2", 60) is Claim.CLAIMED
    with pytest.raises(LostClaim):
        store.complete("a", "w1", {})
    store.complete("a", "w2", {"ok": True})
    assert store.claim("a", "w3", 60) is Claim.DONE
    store.release("a", "w2")  # a finished job stays finished
    assert store.claim("a", "w3", 60) is Claim.DONE


def test_memory_store_release_lets_another_worker_retry() -> None:
    store = MemoryJobStore()
    assert store.claim("a", "w1", 60) is Claim.CLAIMED
    store.release("a", "w1")
    assert store.claim("a", "w2", 60) is Claim.CLAIMED


class ConditionalCheckFailed(Exception):
    """Shaped like botocore's ClientError for a failed condition."""

    response: ClassVar = {"Error": {"Code": "ConditionalCheckFailedException"}}


class Throttled(Exception):
    response: ClassVar = {"Error": {"Code": "ProvisionedThroughputExceededException"}}


class FakeDynamoDB:
    def __init__(self, fail: Exception | None = None, item: dict[str, Any] | None = None) -> None:
        self.fail = fail
        self.item = item or {}
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def _call(self, name: str, request: dict[str, Any]) -> dict[str, Any]:
        self.requests.append((name, request))
        if self.fail is not None and name != "get_item":
            raise self.fail
        return {"Item": self.item} if name == "get_item" else {}

    def put_item(self, **request: Any) -> dict[str, Any]:
        return self._call("put_item", request)

    def get_item(self, **request: Any) -> dict[str, Any]:
        return self._call("get_item", request)

    def update_item(self, **request: Any) -> dict[str, Any]:
        return self._call("update_item", request)

    def delete_item(self, **request: Any) -> dict[str, Any]:
        return self._call("delete_item", request)


def test_dynamo_claim_is_a_conditional_write_with_a_lease_and_ttl() -> None:
    client = FakeDynamoDB()
    store = DynamoJobStore(client, "jobs", clock=lambda: 1000)
    assert store.claim("j", "w1", 60) is Claim.CLAIMED
    name, request = client.requests[0]
    assert name == "put_item"
    assert request["TableName"] == "jobs"
    assert request["Item"]["job_id"] == {"S": "j"}
    assert request["Item"]["lease_until"] == {"N": "1060"}
    assert int(request["Item"]["expires_at"]["N"]) > 1000 + 86400
    assert "attribute_not_exists(#key)" in request["ConditionExpression"]
    assert request["ExpressionAttributeNames"]["#key"] == "job_id"


def test_dynamo_key_and_retention_are_the_tables() -> None:
    client = FakeDynamoDB()
    store = DynamoJobStore(client, "t", clock=lambda: 1000, key="delivery_id", retention_seconds=60)
    store.claim("d-1", "w1", 30)
    store.complete("d-1", "w1", {})
    store.release("d-1", "w1")
    (_, put), (_, update), (_, delete) = client.requests
    assert put["Item"]["delivery_id"] == {"S": "d-1"}
    assert "job_id" not in put["Item"]
    assert put["Item"]["expires_at"] == {"N": "1060"}
    assert put["ExpressionAttributeNames"]["#key"] == "delivery_id"
    assert update["Key"] == delete["Key"] == {"delivery_id": {"S": "d-1"}}


@pytest.mark.parametrize(("status", "claim"), [("done", Claim.DONE), ("running", Claim.BUSY)])
def test_dynamo_claim_that_fails_reads_why(status: str, claim: Claim) -> None:
    client = FakeDynamoDB(fail=ConditionalCheckFailed(), item={"status": {"S": status}})
    assert DynamoJobStore(client, "jobs").claim("j", "w1", 60) is claim
    assert client.requests[-1][1]["ConsistentRead"] is True


def test_dynamo_errors_other_than_the_condition_propagate() -> None:
    with pytest.raises(Throttled):
        DynamoJobStore(FakeDynamoDB(fail=Throttled()), "jobs").claim("j", "w1", 60)


def test_dynamo_complete_requires_ownership() -> None:
    client = FakeDynamoDB()
    DynamoJobStore(client, "jobs").complete("j", "w1", {})
    assert client.requests[0][1]["ExpressionAttributeValues"][":owner"] == {"S": "w1"}
    with pytest.raises(LostClaim):
        DynamoJobStore(FakeDynamoDB(fail=ConditionalCheckFailed()), "jobs").complete("j", "w1", {})


def test_dynamo_release_ignores_a_claim_already_gone() -> None:
    DynamoJobStore(FakeDynamoDB(fail=ConditionalCheckFailed()), "jobs").release("j", "w1")
    with pytest.raises(Throttled):
        DynamoJobStore(FakeDynamoDB(fail=Throttled()), "jobs").release("j", "w1")
