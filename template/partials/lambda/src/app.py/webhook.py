"""Webhook receiver: verify the signature, refuse replays, skip duplicate deliveries.

Senders retry: the same delivery may arrive several times. A delivery is identified
by its delivery id (DELIVERY_ID_HEADER), which the signature covers (see
signature.py), and each id is processed once. An unsigned id would not do: a
captured delivery replayed with another id would be processed again.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import boto3  # comes with the Lambda runtime

import idempotency
import signature

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "x-signature"
TIMESTAMP_HEADER = "x-signature-timestamp"
DELIVERY_ID_HEADER = "x-delivery-id"
SECRET_CACHE_SECONDS = 300


def response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """An HTTP API response with a JSON body."""
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


class SecretCache:
    """The signing secrets, fetched again after ``ttl_seconds`` (picks up rotations)."""

    def __init__(
        self,
        fetch: Callable[[], str],
        ttl_seconds: float = SECRET_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl_seconds
        self._clock = clock
        self._secrets: list[bytes] = []
        self._expires = float("-inf")

    def get(self) -> list[bytes]:
        """The current secrets (the parameter holds one, or several separated by commas)."""
        if self._clock() >= self._expires:
            value = self._fetch()
            self._secrets = [part.strip().encode() for part in value.split(",") if part.strip()]
            self._expires = self._clock() + self._ttl
        return self._secrets


# Created while the execution environment initialises, outside the handler:
# provisioned concurrency and SnapStart run this before the first request, so no
# caller waits for boto3's import, a client's set-up or the secret's fetch.
SSM = boto3.client("ssm")
DYNAMODB = boto3.client("dynamodb")


def _read_secret_parameter() -> str:
    result = SSM.get_parameter(Name=os.environ["WEBHOOK_SECRET_PARAMETER"], WithDecryption=True)
    return str(result["Parameter"]["Value"])


SECRETS = SecretCache(_read_secret_parameter)
try:
    SECRETS.get()
except Exception:
    # Not fatal here: the first delivery fetches it again, and fails loudly if it
    # still cannot (a parameter created after the deploy is picked up then).
    logger.exception("the signing secret could not be fetched at initialisation")


def raw_body(event: dict[str, Any]) -> bytes:
    """The body exactly as sent (the signature covers these bytes)."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode()


def process(payload: Any) -> None:
    """The work a delivery triggers: replace this with yours.

    It runs once per delivery id. Keep it short (the sender waits for the answer) or
    hand the payload to a queue.
    """
    kind = payload.get("type") if isinstance(payload, dict) else None
    logger.info("delivery processed", extra={"type": kind})


def handle(
    event: dict[str, Any],
    *,
    secrets: list[bytes],
    store: idempotency.Idempotency,
    now: float,
    tolerance_seconds: int,
) -> dict[str, Any]:
    """Answer one delivery (everything the handler needs is passed in)."""
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    body = raw_body(event)
    try:
        signature.verify(
            secrets,
            body,
            timestamp=headers.get(TIMESTAMP_HEADER),
            delivery_id=headers.get(DELIVERY_ID_HEADER),
            signature=headers.get(SIGNATURE_HEADER),
            now=now,
            tolerance_seconds=tolerance_seconds,
        )
    except signature.SignatureError as exc:
        logger.warning("delivery rejected", extra={"reason": str(exc)})
        return response(401, {"message": "invalid signature"})
    try:
        payload = json.loads(body)
    except ValueError:
        return response(400, {"message": "the body is not JSON"})
    # Signed, so a replay cannot pass for a new delivery by changing it.
    key = "webhook#" + hashlib.sha256(headers[DELIVERY_ID_HEADER].encode()).hexdigest()
    try:
        outcome = store.run_once(key, functools.partial(process, payload))
    except idempotency.EventInProgressError:
        return response(409, {"message": "this delivery is being processed; retry later"})
    return response(200, {"status": outcome.value})


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point."""
    return handle(
        event,
        secrets=SECRETS.get(),
        store=idempotency.for_invocation(context, DYNAMODB),
        now=time.time(),
        tolerance_seconds=int(os.environ["SIGNATURE_TOLERANCE_SECONDS"]),
    )
