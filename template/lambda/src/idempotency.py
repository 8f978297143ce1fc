"""Process each event once: a DynamoDB conditional write per event key, expired by TTL.

An event source may deliver the same event twice (at-least-once delivery, retries
after a timeout). Before processing, the handler claims the event's key with a
conditional write; a key already marked done is skipped, a key claimed by another
invocation that is still running is reported as busy so the event is retried later.
A failed run releases its claim, so the retry processes the event.

The DynamoDB client is passed in: the one the handler module creates at
initialisation in production, a fake in the unit tests.
"""

from __future__ import annotations

import enum
import math
import os
import time
from collections.abc import Callable
from typing import Any

IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
# A key may be claimed when it is new, or held by an invocation that was stopped.
CLAIMABLE = "attribute_not_exists(pk) OR (#status = :in_progress AND expires_at < :now)"


class Outcome(enum.Enum):
    """What happened to one event."""

    PROCESSED = "processed"
    DUPLICATE = "duplicate"


class EventInProgressError(Exception):
    """Another invocation is processing the same event right now: retry later."""


def _is_conditional_check_failure(exc: Exception) -> bool:
    """True for botocore's ConditionalCheckFailedException, without importing botocore."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    return response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class Idempotency:
    """Claims, completes and releases event keys in one DynamoDB table.

    ``lock_seconds`` is how long a claim holds: the time the invocation has left
    (a claim older than that belongs to an invocation that was stopped, and may be
    taken over). ``ttl_seconds`` is how long a processed key is remembered: longer
    than the event source keeps retrying.
    """

    def __init__(
        self,
        table: str,
        client: Any,
        *,
        lock_seconds: int,
        ttl_seconds: int = 7 * 24 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table = table
        self.client = client
        self.ttl_seconds = ttl_seconds
        self.lock_seconds = lock_seconds
        self.clock = clock

    def run_once(self, key: str, process: Callable[[], Any]) -> Outcome:
        """Run ``process`` unless ``key`` was already processed.

        Raises EventInProgressError when another invocation holds the key, and
        re-raises whatever ``process`` raises (after releasing the claim).
        """
        if not self._claim(key):
            return Outcome.DUPLICATE
        try:
            process()
        except BaseException:
            self._release(key)
            raise
        self._complete(key)
        return Outcome.PROCESSED

    def _claim(self, key: str) -> bool:
        now = int(self.clock())
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    "pk": {"S": key},
                    "status": {"S": IN_PROGRESS},
                    "expires_at": {"N": str(now + self.lock_seconds)},
                },
                ConditionExpression=CLAIMABLE,
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":in_progress": {"S": IN_PROGRESS},
                    ":now": {"N": str(now)},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            if not _is_conditional_check_failure(exc):
                raise
            existing = getattr(exc, "response", {}).get("Item", {})
            if existing.get("status", {}).get("S") == COMPLETED:
                return False
            raise EventInProgressError(key) from None
        return True

    def _complete(self, key: str) -> None:
        self.client.update_item(
            TableName=self.table,
            Key={"pk": {"S": key}},
            UpdateExpression="SET #status = :completed, expires_at = :expires_at",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":completed": {"S": COMPLETED},
                ":expires_at": {"N": str(int(self.clock()) + self.ttl_seconds)},
            },
        )

    def _release(self, key: str) -> None:
        self.client.delete_item(TableName=self.table, Key={"pk": {"S": key}})


def for_invocation(context: Any, client: Any) -> Idempotency:
    """The store for one invocation: the IDEMPOTENCY_TABLE table through ``client``,
    claims held while the invocation may run."""
    seconds_left = math.ceil(context.get_remaining_time_in_millis() / 1000)
    return Idempotency(os.environ["IDEMPOTENCY_TABLE"], client, lock_seconds=seconds_left)
