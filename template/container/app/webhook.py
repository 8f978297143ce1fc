"""Webhook deliveries: verify the signature, refuse replays, process each delivery once.

A delivery is a POST /webhook whose three headers sign it (see app/signature.py). For
each one the receiver

1. verifies the HMAC-SHA256 signature over the timestamp, the delivery id and the raw
   body with the current secrets (constant-time compare) and refuses timestamps outside
   the tolerance: 401, nothing else happens (on the event loop: a flood of forged
   deliveries costs one HMAC each, no thread and no log line; `Refusals` logs the
   first at once, then their count once a minute);
2. claims the delivery id in the deliveries table with a conditional write
   (app/store.py): a delivery already processed is acknowledged (200, "duplicate")
   without running again, one that another request is processing gets 409 (the
   sender retries later);
3. runs `process`, then records the delivery as done. A failure releases the claim and
   answers 500, so the sender's retry processes the delivery.

Senders retry, and a retry may be signed again with a new timestamp: the signed
delivery id, not the signature, identifies it. Processed ids are remembered for
RETENTION_SECONDS (DynamoDB TTL), far longer than a signature is accepted.

The signing secret is an SSM Parameter Store SecureString. It is read at start-up
(the service does not start without it) and re-read every SECRET_REFRESH_SECONDS, so
a rotation needs no restart: store "old,new", switch the sender, then store "new".
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from app.config import Settings
from app.signature import problem
from app.store import Claim, DynamoJobStore, JobStore, LostClaim
from app.web import Response, json_response

log = logging.getLogger(__name__)

#: The headers a delivery is read from, named as ASGI names them (lowercase bytes).
SIGNATURE_HEADER = b"x-signature"
TIMESTAMP_HEADER = b"x-signature-timestamp"
DELIVERY_ID_HEADER = b"x-delivery-id"
#: How often the signing secret is read again (picks up rotations).
SECRET_REFRESH_SECONDS = 300
#: After a failed re-read, the current secrets are kept and the read retried this soon.
SECRET_RETRY_SECONDS = 30
#: How long processed delivery ids are remembered: longer than senders keep retrying.
RETENTION_SECONDS = 7 * 24 * 3600
#: Refused deliveries are logged with their count at most this often, not one line each.
REFUSALS_LOG_SECONDS = 60


def process(payload: Any) -> dict[str, Any]:
    """The work a delivery triggers: replace this with yours.

    It runs once per delivery id, after the signature was checked. Keep it short (the
    sender waits for the answer) or hand the payload to a queue. Raise to have the
    sender retry; return a small JSON-able summary (logged).
    """
    kind = payload.get("type") if isinstance(payload, dict) else None
    return {"type": kind}


class Secrets:
    """The current signing secrets: the parameter holds one, or several separated by
    commas while a secret is rotated."""

    def __init__(
        self,
        fetch: Callable[[], str],
        refresh_seconds: float = SECRET_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._refresh = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        # The secrets and when they are due to be read again, replaced together: read
        # without the lock (one attribute read is atomic), on every delivery.
        self._state: tuple[list[bytes], float] = ([], float("-inf"))

    def load(self) -> Secrets:
        """Read the secrets now; raises when that fails or the parameter is empty."""
        value = self._fetch()
        secrets = [part.strip().encode() for part in value.split(",") if part.strip()]
        if not secrets:
            raise ValueError("the signing secret parameter holds no secret")
        with self._lock:
            self._state = (secrets, self._clock() + self._refresh)
        return self

    def cached(self) -> list[bytes] | None:
        """The secrets without reading them: None when they are due to be read again
        (a call to SSM, which must not run on the event loop)."""
        secrets, expires = self._state
        return secrets if self._clock() < expires else None

    def current(self) -> list[bytes]:
        """The secrets, read again when they are older than the refresh interval."""
        with self._lock:
            secrets, expires = self._state
            due = self._clock() >= expires
            if due:  # one request re-reads; the others go on with the current secrets
                self._state = (secrets, self._clock() + SECRET_RETRY_SECONDS)
        if due:
            try:
                self.load()
            except Exception:
                log.exception("could not re-read the signing secret; keeping the current one")
        return self._state[0]


def ssm_parameter(client: Any, name: str) -> Callable[[], str]:
    """Reads the SecureString parameter ``name``, decrypted (ssm:GetParameter, kms:Decrypt)."""

    def fetch() -> str:
        result = client.get_parameter(Name=name, WithDecryption=True)
        return str(result["Parameter"]["Value"])

    return fetch


class Refusals:
    """The log of refused deliveries: the first at once, then their count per interval.

    A line per refusal would make a flood of forged deliveries cost a log write each
    (CPU, CloudWatch Logs), on top of the load balancer's access log of every 401.

    Not thread-safe, and needs no lock: the service records refusals on its event loop
    only (see `Receiver`)."""

    def __init__(
        self, interval: float = REFUSALS_LOG_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._counts: dict[str, int] = {}
        self._next = float("-inf")

    def record(self, reason: str) -> None:
        """Count one refusal; write the counts when the interval has passed."""
        self._counts[reason] = self._counts.get(reason, 0) + 1
        now = self._clock()
        if now >= self._next:
            counts, self._counts, self._next = self._counts, {}, now + self._interval
            _log_refusals(counts)

    def flush(self) -> None:
        """Write the counts not written yet (at shutdown)."""
        counts, self._counts = self._counts, {}
        _log_refusals(counts)


def _log_refusals(counts: dict[str, int]) -> None:
    if counts:
        total = sum(counts.values())
        reasons = ", ".join(f"{reason} ({n})" for reason, n in sorted(counts.items()))
        log.warning("%d %s refused: %s", total, "delivery" if total == 1 else "deliveries", reasons)


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to one delivery."""

    status: int
    body: dict[str, Any]

    @functools.cached_property
    def response(self) -> Response:
        """The answer encoded, once per Answer (once in all for `REFUSED`)."""
        return json_response(self.status, self.body)


#: The answer to every refused delivery: the same bytes, encoded once.
REFUSED = Answer(401, {"error": "invalid signature"})


class Receiver:
    """Checks, deduplicates and processes deliveries.

    `refuse` only computes (HMAC over the body), so the service answers forged and
    stale deliveries on its event loop, the one thread that calls it; `accept` waits for
    DynamoDB and your processing, so it runs in a thread of a pool (it is thread-safe).
    `receive` does both, in order, in one thread."""

    def __init__(
        self,
        secrets: Secrets,
        store: JobStore,
        *,
        tolerance_seconds: int,
        lease_seconds: int,
        handler: Callable[[Any], dict[str, Any]] = process,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secrets = secrets
        self.store = store
        self.tolerance_seconds = tolerance_seconds
        self.lease_seconds = lease_seconds
        self.handler = handler
        self.clock = clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.refusals = Refusals()

    @classmethod
    def from_settings(cls, settings: Settings) -> Receiver:
        """The production receiver: secret from SSM, delivery records in DynamoDB."""
        if not settings.webhook_secret_parameter or not settings.deliveries_table:
            raise RuntimeError("WEBHOOK_SECRET_PARAMETER and DELIVERIES_TABLE must be set")
        import boto3  # noqa: PLC0415 - only the running service needs the AWS SDK

        session = boto3.session.Session(region_name=settings.aws_region or None)
        fetch = ssm_parameter(session.client("ssm"), settings.webhook_secret_parameter)
        store = DynamoJobStore(
            session.client("dynamodb"),
            settings.deliveries_table,
            key="delivery_id",
            retention_seconds=RETENTION_SECONDS,
        )
        return cls(
            Secrets(fetch).load(),
            store,
            tolerance_seconds=settings.signature_tolerance_seconds,
            lease_seconds=settings.processing_seconds + 30,
        )

    def receive(self, headers: Mapping[bytes, bytes], body: bytes) -> Answer:
        """Answer one delivery. ``headers`` and ``body`` are the bytes as received, the
        headers by lowercase name (``dict(scope["headers"])`` of an ASGI request)."""
        refusal = self.refuse(headers, body, self.secrets.current())
        return refusal if refusal is not None else self.accept(headers, body)

    def refuse(
        self, headers: Mapping[bytes, bytes], body: bytes, secrets: list[bytes]
    ) -> Answer | None:
        """401 unless one of ``secrets`` signed the delivery recently; None when it did.

        No I/O: nothing happens for a refused delivery but this answer."""
        reason = problem(
            secrets,
            body,
            timestamp=headers.get(TIMESTAMP_HEADER),
            delivery_id=headers.get(DELIVERY_ID_HEADER),
            signature=headers.get(SIGNATURE_HEADER),
            now=self.clock(),
            tolerance_seconds=self.tolerance_seconds,
        )
        if reason is None:
            return None
        self.refusals.record(reason)
        return REFUSED

    def accept(self, headers: Mapping[bytes, bytes], body: bytes) -> Answer:
        """Process a delivery `refuse` let through, once (blocks: DynamoDB, `process`)."""
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return Answer(400, {"error": "the body is not JSON"})
        # Signed (see app/signature.py): a replay cannot pass for a new delivery. Checked
        # by `refuse`: ASCII letters, digits, - and _.
        return self._once(headers[DELIVERY_ID_HEADER].decode("ascii"), payload)

    def _once(self, delivery_id: str, payload: Any) -> Answer:
        claim = self.store.claim(delivery_id, self.owner, self.lease_seconds)
        if claim is Claim.DONE:
            log.info("delivery %s already processed: acknowledged", delivery_id)
            return Answer(200, {"status": "duplicate"})
        if claim is Claim.BUSY:
            log.info("delivery %s is being processed by another request", delivery_id)
            return Answer(409, {"error": "this delivery is being processed; retry later"})
        try:
            result = self.handler(payload)
        except Exception:
            log.exception("delivery %s failed; the sender's retry processes it", delivery_id)
            self.store.release(delivery_id, self.owner)
            return Answer(500, {"error": "processing failed; retry later"})
        try:
            self.store.complete(delivery_id, self.owner, result)
        except LostClaim:
            log.warning("delivery %s: processing outlived its claim", delivery_id)
        log.info("delivery %s processed: %s", delivery_id, result)
        return Answer(200, {"status": "processed"})
