"""Scheduled job: EventBridge Scheduler invokes it with the run's scheduled time.

Scheduler retries a failed delivery and Lambda retries a failed asynchronous
invocation; both may start the same run twice. A run is identified by its
scheduled time and done once.
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


def run(scheduled_time: str) -> None:
    """The job: replace this with yours."""
    logger.info("job ran", extra={"scheduled_time": scheduled_time})


def handle(event: dict[str, Any], *, store: idempotency.Idempotency) -> dict[str, str]:
    """Run the job for one scheduled time, unless that run already happened."""
    scheduled_time = event.get("scheduled_time")
    if not scheduled_time:
        raise ValueError("the event has no scheduled_time (see the schedule's Input)")
    outcome = store.run_once(f"run#{scheduled_time}", functools.partial(run, scheduled_time))
    logger.info("run finished", extra={"scheduled_time": scheduled_time, "outcome": outcome.value})
    return {"scheduled_time": scheduled_time, "outcome": outcome.value}


def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    """Lambda entry point."""
    return handle(event, store=idempotency.for_invocation(context, DYNAMODB))
