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
    """verify() with the header values as a server receives them (bytes)."""
    verify(
        keys,
        body,
        timestamp=raw(timestamp),
        delivery_id=raw(delivery_id),
        signature=raw(signature),
        now=now,
        tolerance_seconds=300,
    )


def raw(value: str | None) -> bytes | None:
    return None if value is None else value.encode()


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
        ({"timestamp": f" {NOW}"}, "integer"),
        ({"timestamp": f"+{NOW}"}, "integer"),
        ({"timestamp": "\u0661\u0667" + "\u0660" * 8}, "integer"),  # Arabic-Indic digits
        ({"timestamp": "0" * 13}, "integer"),
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


def test_the_timestamp_is_signed_as_sent() -> None:
    padded = "0" + str(NOW)  # the same instant, written differently: signed differently
    with pytest.raises(SignatureError, match="does not match"):
        check(sign(KEY, NOW, "d-1", BODY), timestamp=padded)


@pytest.mark.parametrize(
    "change",
    [
        {"signature": b"sha256=\xff" + b"0" * 63},
        {"delivery_id": b"d\xe9"},
        {"timestamp": b"\xb9"},
    ],
)
def test_header_bytes_that_are_not_ascii_are_refused(change: dict[str, bytes]) -> None:
    headers = {
        "timestamp": str(NOW).encode(),
        "delivery_id": b"d-1",
        "signature": sign(KEY, NOW, "d-1", BODY).encode(),
    }
    with pytest.raises(SignatureError):
        verify((KEY,), BODY, now=NOW, tolerance_seconds=300, **(headers | change))
