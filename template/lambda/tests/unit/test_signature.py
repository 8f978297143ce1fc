"""HMAC-SHA256 signatures: valid, tampered, replayed, malformed."""

from __future__ import annotations

import pytest

from signature import SignatureError, sign, verify

SECRET = b"test-secret"
NOW = 1_767_225_600
DELIVERY_ID = "d1f8a2c4-0b7e-4c3f-9a51-2e6d8c7b9f10"
BODY = b'{"type": "ping"}'


def check(
    signature: str | None,
    *,
    body: bytes = BODY,
    timestamp: str | None = str(NOW),
    delivery_id: str | None = DELIVERY_ID,
    now: float = NOW,
    secrets: tuple[bytes, ...] = (SECRET,),
) -> None:
    verify(
        secrets,
        body,
        timestamp=timestamp,
        delivery_id=delivery_id,
        signature=signature,
        now=now,
        tolerance_seconds=300,
    )


def test_a_valid_signature_passes() -> None:
    check(sign(SECRET, NOW, DELIVERY_ID, BODY))


def test_any_current_secret_passes_during_a_rotation() -> None:
    check(sign(b"new-secret", NOW, DELIVERY_ID, BODY), secrets=(SECRET, b"new-secret"))


@pytest.mark.parametrize(
    ("signature", "body", "reason"),
    [
        (sign(SECRET, NOW, DELIVERY_ID, BODY), b'{"type": "pong"}', "does not match"),
        (sign(b"other-secret", NOW, DELIVERY_ID, BODY), BODY, "does not match"),
        ("sha256=" + "0" * 64, BODY, "does not match"),
        ("sha256=\u00e9t\u00e9", BODY, "does not match"),
        (None, BODY, "missing"),
    ],
)
def test_a_wrong_signature_fails(signature: str | None, body: bytes, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        check(signature, body=body)


@pytest.mark.parametrize("skew", [-301, 301])
def test_timestamps_outside_the_tolerance_fail(skew: int) -> None:
    with pytest.raises(SignatureError, match="tolerance"):
        check(sign(SECRET, NOW, DELIVERY_ID, BODY), now=NOW + skew)


def test_a_timestamp_must_be_an_integer() -> None:
    with pytest.raises(SignatureError, match="integer"):
        check(sign(SECRET, NOW, DELIVERY_ID, BODY), timestamp="yesterday")


def test_the_signature_covers_the_timestamp() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        check(sign(SECRET, NOW, DELIVERY_ID, BODY), timestamp=str(NOW + 1))


def test_the_signature_covers_the_delivery_id() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        check(sign(SECRET, NOW, DELIVERY_ID, BODY), delivery_id="another-delivery")


def test_a_delivery_id_is_required() -> None:
    with pytest.raises(SignatureError, match="missing"):
        check(sign(SECRET, NOW, DELIVERY_ID, BODY), delivery_id=None)


@pytest.mark.parametrize("delivery_id", ["a.b", "a b", "x" * 129, "\u00e9t\u00e9"])
def test_a_delivery_id_that_could_blur_the_signed_string_fails(delivery_id: str) -> None:
    # A dot would let the id and the body split the signed string another way.
    with pytest.raises(SignatureError, match="delivery id"):
        check(sign(SECRET, NOW, delivery_id, BODY), delivery_id=delivery_id)
