"""Which work already ran: the idempotency record that makes redeliveries harmless.

A job is one piece of work with an id: a queue message's job, a webhook delivery.
Before running it the process *claims* its id with a conditional write. The claim
succeeds when the id is new, or when an earlier attempt failed or its lease ran out
(its process died). It fails when the job is done (a duplicate delivery: acknowledge
it without running it again) or when another process holds a live lease (it is
running there: leave it alone, it comes back later).
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

#: How long finished job ids are remembered by default (DynamoDB TTL deletes them after
#: that): SQS keeps a message at most 14 days.
RETENTION_SECONDS = 14 * 24 * 3600


class Claim(enum.Enum):
    CLAIMED = "claimed"
    """The caller owns the job now: run it."""
    DONE = "done"
    """The job already finished: the message is a duplicate."""
    BUSY = "busy"
    """Another process is running it."""


class JobStore(Protocol):
    def claim(self, job_id: str, owner: str, lease_seconds: int) -> Claim: ...

    def complete(self, job_id: str, owner: str, result: dict[str, Any]) -> None: ...

    def release(self, job_id: str, owner: str) -> None: ...


class MemoryJobStore:
    """The same rules in memory (tests and local runs; not shared between processes)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.jobs: dict[str, dict[str, Any]] = {}

    def claim(self, job_id: str, owner: str, lease_seconds: int) -> Claim:
        with self._lock:
            now = self._clock()
            job = self.jobs.get(job_id)
            if job is not None:
                if job["status"] == "done":
                    return Claim.DONE
                if job["lease_until"] > now:
                    return Claim.BUSY
            self.jobs[job_id] = {
                "status": "running",
                "owner": owner,
                "lease_until": now + lease_seconds,
            }
            return Claim.CLAIMED

    def complete(self, job_id: str, owner: str, result: dict[str, Any]) -> None:
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None or job["owner"] != owner:
                raise LostClaim(job_id)
            job.update(status="done", result=result)

    def release(self, job_id: str, owner: str) -> None:
        with self._lock:
            job = self.jobs.get(job_id)
            if job is not None and job["owner"] == owner and job["status"] != "done":
                del self.jobs[job_id]


class LostClaim(Exception):
    """Another process took the job over (this one's lease had run out)."""


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class DynamoJobStore:
    """A DynamoDB table of job records, partition key ``key`` (a string), TTL on
    `expires_at`: terraform's aws_dynamodb_table.jobs (`job_id`) of a queue worker, or
    aws_dynamodb_table.deliveries (`delivery_id`) of a webhook receiver."""

    def __init__(
        self,
        client: Any,
        table: str,
        clock: Callable[[], float] = time.time,
        *,
        key: str = "job_id",
        retention_seconds: int = RETENTION_SECONDS,
    ) -> None:
        self._client = client
        self._table = table
        self._clock = clock
        self._key = key
        self._retention = retention_seconds

    def _item_key(self, job_id: str) -> dict[str, dict[str, str]]:
        return {self._key: {"S": job_id}}

    def claim(self, job_id: str, owner: str, lease_seconds: int) -> Claim:
        now = int(self._clock())
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **self._item_key(job_id),
                    "status": {"S": "running"},
                    "owner": {"S": owner},
                    "lease_until": {"N": str(now + lease_seconds)},
                    "expires_at": {"N": str(now + self._retention)},
                },
                ConditionExpression=(
                    "attribute_not_exists(#key) OR (#status <> :done AND lease_until < :now)"
                ),
                ExpressionAttributeNames={"#key": self._key, "#status": "status"},
                ExpressionAttributeValues={":done": {"S": "done"}, ":now": {"N": str(now)}},
            )
        except Exception as error:
            if _error_code(error) != "ConditionalCheckFailedException":
                raise
            item = self._client.get_item(
                TableName=self._table, Key=self._item_key(job_id), ConsistentRead=True
            ).get("Item", {})
            return Claim.DONE if item.get("status", {}).get("S") == "done" else Claim.BUSY
        return Claim.CLAIMED

    def complete(self, job_id: str, owner: str, result: dict[str, Any]) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._item_key(job_id),
                UpdateExpression="SET #status = :done, finished_at = :now",
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#status": "status", "#owner": "owner"},
                ExpressionAttributeValues={
                    ":done": {"S": "done"},
                    ":now": {"N": str(int(self._clock()))},
                    ":owner": {"S": owner},
                },
            )
        except Exception as error:
            if _error_code(error) == "ConditionalCheckFailedException":
                raise LostClaim(job_id) from error
            raise

    def release(self, job_id: str, owner: str) -> None:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=self._item_key(job_id),
                ConditionExpression="#owner = :owner AND #status <> :done",
                ExpressionAttributeNames={"#status": "status", "#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}, ":done": {"S": "done"}},
            )
        except Exception as error:
            if _error_code(error) != "ConditionalCheckFailedException":
                raise
