"""The delivery signature: HMAC-SHA256 over timestamp, delivery id and body."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from app.signature import SignatureError, sign, verify

KEY = b"signing-key"
NOW = 1_700_000_000
BODY = b'{"type": "ping"}'


def check(
    signature: str | None,
    *,
    keys: tuple[bytes, ...] = (KEY,),
    body: bytes = BODY,
    timestamp: str | None = str(NOW),
    delivery_id: str | None = "d-1",
    now: float = NOW,
) -> None:
    verify(
        keys,
        body,
        timestamp=timestamp,
        delivery_id=delivery_id,
        signature=signature,
        now=now,
        tolerance_seconds=300,
    )


def test_the_signature_is_the_documented_hmac() -> None:
    expected = hmac.new(KEY, f"{NOW}.d-1.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(KEY, NOW, "d-1", BODY) == "sha256=" + expected


def test_a_valid_signature_passes() -> None:
    check(sign(KEY, NOW, "d-1", BODY))
    check(sign(KEY, NOW - 300, "d-1", BODY), timestamp=str(NOW - 300))


def test_any_current_secret_passes_while_rotating() -> None:
    check(sign(b"new-key", NOW, "d-1", BODY), keys=(KEY, b"new-key"))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"keys": (b"another-key",)}, "does not match"),
        ({"body": BODY + b" "}, "does not match"),
        ({"delivery_id": "d-2"}, "does not match"),  # a replay under another id
        ({"timestamp": str(NOW + 1)}, "does not match"),
        ({"now": NOW + 301}, "tolerance"),  # too old: a replay
        ({"now": NOW - 301}, "tolerance"),  # from the future
        ({"timestamp": "yesterday"}, "integer"),
        ({"timestamp": None}, "missing"),
        ({"delivery_id": ""}, "missing"),
        ({"delivery_id": "a.b"}, "delivery id"),
        ({"delivery_id": "x" * 129}, "delivery id"),
        ({"keys": ()}, "does not match"),
        ({"keys": (b"",)}, "does not match"),  # an empty secret signs nothing
    ],
)
def test_forged_altered_or_stale_deliveries_fail(change: dict[str, object], reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        check(sign(KEY, NOW, "d-1", BODY), **change)  # type: ignore[arg-type]


@pytest.mark.parametrize("signature", [None, "", "sha256=", "md5=abc", "SHA256=" + "0" * 64])
def test_malformed_signatures_fail(signature: str | None) -> None:
    with pytest.raises(SignatureError):
        check(signature)


def test_the_digest_must_be_exact() -> None:
    good = sign(KEY, NOW, "d-1", BODY)
    with pytest.raises(SignatureError):
        check(good.upper())
    with pytest.raises(SignatureError):
        check(good[:-1])
