"""Webhook signatures: HMAC-SHA256 over the timestamp, the delivery id and the raw body.

The sender computes ``hex(HMAC-SHA256(secret, f"{timestamp}.{delivery_id}." + body))``
and sends

    X-Signature-Timestamp: <unix seconds: decimal digits>
    X-Delivery-Id: <delivery id: 1 to 128 letters, digits, - or _>
    X-Signature: sha256=<hex digest, lowercase>

The receiver recomputes the digest over the header values and the body as received
(bytes, nothing decoded) with every current secret (several while a secret is being
rotated), compares in constant time, and refuses timestamps outside the
tolerance, so a captured delivery cannot be replayed later. The delivery id is signed
because it identifies the delivery for the duplicate check: a replay with another id
does not match the signature. It may not contain a dot, so the signed string splits
into its three parts one way only. A retry of the same delivery keeps its id and may
be signed again with a new timestamp.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Iterable

SCHEME = "sha256="
_SCHEME = SCHEME.encode()
DELIVERY_ID = re.compile(rb"[A-Za-z0-9_-]{1,128}")
#: The most digits a timestamp may have (12: past the year 30,000).
TIMESTAMP_DIGITS = 12


class SignatureError(Exception):
    """The delivery is not signed by a current secret, or is too old or too new."""


@functools.lru_cache(maxsize=8)
def _keyed(secret: bytes) -> hmac.HMAC:
    """HMAC-SHA256 keyed with ``secret``, copied for each delivery: keying it costs as
    much as hashing a small delivery. (A few entries: the secrets of a rotation.)"""
    return hmac.new(secret, digestmod=hashlib.sha256)


def sign(secret: bytes, timestamp: int, delivery_id: str, body: bytes) -> str:
    """The X-Signature header value for ``body`` sent as ``delivery_id`` at ``timestamp``."""
    return SCHEME + _hexdigest(secret, b"%d.%s." % (timestamp, delivery_id.encode()), body)


def _hexdigest(secret: bytes, signed: bytes, body: bytes) -> str:
    """hex(HMAC-SHA256(secret, signed + body)), without joining the two."""
    mac = _keyed(secret).copy()
    mac.update(signed)
    mac.update(body)
    return mac.hexdigest()


def verify(
    secrets: Iterable[bytes],
    body: bytes,
    *,
    timestamp: bytes | None,
    delivery_id: bytes | None,
    signature: bytes | None,
    now: float,
    tolerance_seconds: int,
) -> None:
    """Raise SignatureError unless ``signature`` is valid for the delivery and recent.

    The three header values are the bytes as received (None: the header is absent);
    ``now`` is Unix time in seconds."""
    reason = problem(
        secrets,
        body,
        timestamp=timestamp,
        delivery_id=delivery_id,
        signature=signature,
        now=now,
        tolerance_seconds=tolerance_seconds,
    )
    if reason is not None:
        raise SignatureError(reason)


def problem(
    secrets: Iterable[bytes],
    body: bytes,
    *,
    timestamp: bytes | None,
    delivery_id: bytes | None,
    signature: bytes | None,
    now: float,
    tolerance_seconds: int,
) -> str | None:
    """Why the delivery is refused (as `verify` would raise it), or None when it is not.

    Returns instead of raising: under a flood of forged deliveries, refusing is the
    common case, and an exception per request costs more than the checks."""
    if not timestamp or not delivery_id or not signature:
        return "missing signature headers"
    if not timestamp.isdigit() or len(timestamp) > TIMESTAMP_DIGITS:  # ASCII digits only
        return "timestamp is not an integer"
    if not DELIVERY_ID.fullmatch(delivery_id):
        return "delivery id is not 1 to 128 letters, digits, - or _"
    if abs(now - int(timestamp)) > tolerance_seconds:
        return "timestamp outside the tolerance"
    if not signature.startswith(_SCHEME):
        return "signature is not sha256=<hex digest>"
    signed, digest = timestamp + b"." + delivery_id + b".", signature[len(_SCHEME) :]
    # Every secret is tried (no early exit) and compared in constant time.
    matched = False
    for secret in secrets:
        if secret and hmac.compare_digest(_hexdigest(secret, signed, body).encode(), digest):
            matched = True
    return None if matched else "signature does not match"
