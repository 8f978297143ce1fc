"""S3 event handler: new objects in the event bucket invoke it (asynchronously).

S3 delivers each notification at least once, and Lambda retries a failed invocation
twice before the event goes to the dead-letter queue. Each object version is
processed once: the idempotency table remembers the versions already done.
"""

from __future__ import annotations

import functools
import logging
from typing import Any
from urllib.parse import unquote_plus

import boto3  # comes with the Lambda runtime

import idempotency

logger = logging.getLogger(__name__)

# Created while the execution environment initialises, outside the handler:
# provisioned concurrency and SnapStart run this before the first request, so no
# caller waits for boto3's import or a client's set-up.
S3 = boto3.client("s3")
DYNAMODB = boto3.client("dynamodb")


def process(s3: Any, bucket: str, key: str, version_id: str | None) -> None:
    """The work one new object triggers: replace this with yours."""
    extra = {"VersionId": version_id} if version_id else {}
    head = s3.head_object(Bucket=bucket, Key=key, **extra)
    logger.info(
        "object processed",
        extra={"key": key, "size": head["ContentLength"], "content_type": head.get("ContentType")},
    )


def handle(event: dict[str, Any], *, store: idempotency.Idempotency, s3: Any) -> dict[str, int]:
    """Process every record of one notification; an exception makes Lambda retry it."""
    counts = {"processed": 0, "duplicate": 0}
    for record in event.get("Records", []):
        bucket = record["s3"]["bucket"]["name"]
        obj = record["s3"]["object"]
        key = unquote_plus(obj["key"])  # keys arrive URL-encoded
        version_id = obj.get("versionId")
        event_key = f"s3#{bucket}/{key}#{version_id or obj['sequencer']}"
        outcome = store.run_once(event_key, functools.partial(process, s3, bucket, key, version_id))
        counts[outcome.value] += 1
    return counts


def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    """Lambda entry point."""
    return handle(event, store=idempotency.for_invocation(context, DYNAMODB), s3=S3)
