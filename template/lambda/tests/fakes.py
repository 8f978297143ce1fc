"""Stand-ins for the AWS clients the handlers use, and for the Lambda context."""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """Shaped like botocore's ClientError: the code reads ``response``."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code}, **extra}


class FakeDynamoDB:
    """The calls idempotency.py makes, with the same conditions as its expressions."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.error: str | None = None

    def put_item(self, **kwargs: Any) -> None:
        if self.error:
            raise ClientError(self.error)
        item = kwargs["Item"]
        now = int(kwargs["ExpressionAttributeValues"][":now"]["N"])
        old = self.items.get(item["pk"]["S"])
        if old is not None:
            expired_claim = (
                old["status"]["S"] == "IN_PROGRESS" and int(old["expires_at"]["N"]) < now
            )
            if not expired_claim:
                raise ClientError("ConditionalCheckFailedException", Item=old)
        self.items[item["pk"]["S"]] = dict(item)

    def update_item(self, **kwargs: Any) -> None:
        values = kwargs["ExpressionAttributeValues"]
        item = self.items[kwargs["Key"]["pk"]["S"]]
        item["status"] = values[":completed"]
        item["expires_at"] = values[":expires_at"]

    def delete_item(self, **kwargs: Any) -> None:
        self.items.pop(kwargs["Key"]["pk"]["S"], None)

    def status(self, key: str) -> str | None:
        item = self.items.get(key)
        return item["status"]["S"] if item else None


class FakeContext:
    """The part of the Lambda context object the handlers read."""

    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def __init__(self, remaining_ms: int = 30_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_767_225_600.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
