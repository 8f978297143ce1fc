"""DynamoDB stream handler: processes the table's changes in order.

A batch stops at the first record that fails and reports it in
``batchItemFailures``: Lambda retries from that record (bisecting the batch), at
most three times, then sends the record's description to the on-failure
destination (the dead-letter queue). Retries replay records already processed;
each stream record (its eventID) is processed once.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import boto3  # comes with the Lambda runtime

import idempotency

logger = logging.getLogger(__name__)

# Created while the execution environment initialises, outside the handler:
# provisioned concurrency and SnapStart run this before the first request, so no
# caller waits for boto3's import or a client's set-up.
DYNAMODB = boto3.client("dynamodb")


def process(record: dict[str, Any]) -> None:
    """The work one change triggers: replace this with yours.

    Attribute values arrive in DynamoDB's typed JSON, e.g. {"pk": {"S": "order#1"}}.
    """
    keys = {name: next(iter(value.values())) for name, value in record["dynamodb"]["Keys"].items()}
    logger.info("change processed", extra={"event": record["eventName"], "keys": keys})


def handle(event: dict[str, Any], *, store: idempotency.Idempotency) -> dict[str, Any]:
    """Process records in order; on a failure, report it and stop."""
    for record in event.get("Records", []):
        try:
            store.run_once(f"ddb#{record['eventID']}", functools.partial(process, record))
        except Exception:
            sequence_number = record["dynamodb"]["SequenceNumber"]
            logger.exception("change failed", extra={"sequence_number": sequence_number})
            return {"batchItemFailures": [{"itemIdentifier": sequence_number}]}
    return {"batchItemFailures": []}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point."""
    return handle(event, store=idempotency.for_invocation(context, DYNAMODB))
