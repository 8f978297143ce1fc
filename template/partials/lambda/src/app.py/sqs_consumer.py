"""SQS consumer: processes a batch and reports only the messages that failed.

With ReportBatchItemFailures, the messages listed in ``batchItemFailures`` return
to the queue and the rest are deleted; after five failed receives a message moves
to the dead-letter queue. SQS delivers at least once: each message id is processed
once, whatever the number of deliveries.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

import boto3  # comes with the Lambda runtime

import idempotency

logger = logging.getLogger(__name__)

# Created while the execution environment initialises, outside the handler:
# provisioned concurrency and SnapStart run this before the first request, so no
# caller waits for boto3's import or a client's set-up.
DYNAMODB = boto3.client("dynamodb")


def process(message: dict[str, Any]) -> None:
    """The work one message triggers: replace this with yours."""
    body = json.loads(message["body"])
    kind = body.get("type") if isinstance(body, dict) else None
    logger.info("message processed", extra={"message_id": message["messageId"], "type": kind})


def handle(event: dict[str, Any], *, store: idempotency.Idempotency) -> dict[str, Any]:
    """Process a batch; return the ids of the messages to retry."""
    failures = []
    for message in event.get("Records", []):
        message_id = message["messageId"]
        try:
            store.run_once(f"sqs#{message_id}", functools.partial(process, message))
        except Exception:
            logger.exception("message failed", extra={"message_id": message_id})
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point."""
    return handle(event, store=idempotency.for_invocation(context, DYNAMODB))
