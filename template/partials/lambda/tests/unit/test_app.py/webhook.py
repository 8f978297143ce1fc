"""The webhook handler: signed deliveries are processed once, others are refused."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import app
from fakes import Clock, FakeContext, FakeDynamoDB
from idempotency import IN_PROGRESS, Idempotency
from signature import sign

LoadEvent = Callable[[str], dict[str, Any]]
SECRET = b"test-secret"  # the secret events/delivery.json is signed with
SENT_AT = 1_767_225_600
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dynamodb() -> FakeDynamoDB:
    return FakeDynamoDB()


@pytest.fixture
def deliver(dynamodb: FakeDynamoDB) -> Callable[..., dict[str, Any]]:
    def deliver(event: dict[str, Any], now: float = SENT_AT) -> dict[str, Any]:
        store = Idempotency("table", dynamodb, lock_seconds=30, clock=Clock(now))
        return app.handle(event, secrets=[SECRET], store=store, now=now, tolerance_seconds=300)

    return deliver


def signed(event: dict[str, Any], body: str, sent_at: int = SENT_AT) -> dict[str, Any]:
    """``event`` with ``body``, signed as its sender would at ``sent_at``."""
    headers = event["headers"]
    event["body"] = body
    headers["x-signature-timestamp"] = str(sent_at)
    headers["x-signature"] = sign(SECRET, sent_at, headers["x-delivery-id"], body.encode())
    return event


def test_a_signed_delivery_is_processed(deliver: Callable[..., Any], load_event: LoadEvent) -> None:
    result = deliver(load_event("delivery.json"))
    assert result["statusCode"] == 200
    assert json.loads(result["body"]) == {"status": "processed"}


def test_a_redelivery_is_acknowledged_but_not_processed_again(
    deliver: Callable[..., Any], load_event: LoadEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(load_event("delivery.json"))
    calls = []
    monkeypatch.setattr(app, "process", calls.append)
    result = deliver(load_event("delivery.json"))
    assert json.loads(result["body"]) == {"status": "duplicate"}
    assert calls == []


def test_a_retry_signed_again_later_is_acknowledged_but_not_processed_again(
    deliver: Callable[..., Any], load_event: LoadEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(load_event("delivery.json"))
    calls = []
    monkeypatch.setattr(app, "process", calls.append)
    event = load_event("delivery.json")
    retry = signed(event, event["body"], sent_at=SENT_AT + 120)
    assert retry["headers"]["x-signature"] != load_event("delivery.json")["headers"]["x-signature"]
    result = deliver(retry, now=SENT_AT + 120)
    assert json.loads(result["body"]) == {"status": "duplicate"}
    assert calls == []


def test_a_replay_with_a_changed_delivery_id_is_refused(
    deliver: Callable[..., Any], load_event: LoadEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Someone who captured a delivery replays it inside the tolerance as a "new" one.
    deliver(load_event("delivery.json"))
    calls = []
    monkeypatch.setattr(app, "process", calls.append)
    replay = load_event("delivery.json")
    replay["headers"]["x-delivery-id"] = "0b9e6c1a-replayed-with-a-new-id"
    assert deliver(replay, now=SENT_AT + 60)["statusCode"] == 401
    assert calls == []


def test_a_tampered_body_is_refused(deliver: Callable[..., Any], load_event: LoadEvent) -> None:
    event = load_event("delivery.json")
    event["body"] = event["body"].replace("1999", "1")
    assert deliver(event)["statusCode"] == 401


def test_a_replayed_delivery_is_refused(deliver: Callable[..., Any], load_event: LoadEvent) -> None:
    assert deliver(load_event("delivery.json"), now=SENT_AT + 3600)["statusCode"] == 401


def test_an_unsigned_delivery_is_refused(
    deliver: Callable[..., Any], load_event: LoadEvent
) -> None:
    event = load_event("delivery.json")
    del event["headers"]["x-signature"]
    assert deliver(event)["statusCode"] == 401


def test_a_signed_body_that_is_not_json_is_a_bad_request(
    deliver: Callable[..., Any], load_event: LoadEvent
) -> None:
    assert deliver(signed(load_event("delivery.json"), "not json"))["statusCode"] == 400


def test_a_base64_body_is_verified_on_its_bytes(
    deliver: Callable[..., Any], load_event: LoadEvent
) -> None:
    event = load_event("delivery.json")
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    assert deliver(event)["statusCode"] == 200


def test_a_delivery_without_an_id_is_refused(
    deliver: Callable[..., Any], load_event: LoadEvent
) -> None:
    event = load_event("delivery.json")
    del event["headers"]["x-delivery-id"]
    assert deliver(event)["statusCode"] == 401


def test_a_delivery_being_processed_is_answered_409(
    deliver: Callable[..., Any], load_event: LoadEvent, dynamodb: FakeDynamoDB
) -> None:
    event = load_event("delivery.json")
    key = "webhook#" + hashlib.sha256(event["headers"]["x-delivery-id"].encode()).hexdigest()
    dynamodb.items[key] = {
        "pk": {"S": key},
        "status": {"S": IN_PROGRESS},
        "expires_at": {"N": str(SENT_AT + 30)},
    }
    assert deliver(event)["statusCode"] == 409


def test_secrets_are_cached_then_fetched_again() -> None:
    values = iter(["old", "old, new"])
    clock = Clock(0)
    cache = app.SecretCache(lambda: next(values), ttl_seconds=300, clock=clock)
    assert cache.get() == [b"old"]
    clock.now = 299
    assert cache.get() == [b"old"]
    clock.now = 300
    assert cache.get() == [b"old", b"new"]


class FakeSSM:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def get_parameter(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {"Parameter": {"Value": SECRET.decode()}}


def sign_now(event_file: str, secret: str) -> subprocess.CompletedProcess[str]:
    """`python events/sign.py <event_file>`, as `make invoke` runs it."""
    return subprocess.run(  # noqa: S603 - this interpreter, the project's own script
        [sys.executable, "events/sign.py", f"events/{event_file}"],
        cwd=ROOT,
        env={**os.environ, "WEBHOOK_SECRET": secret},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_the_handler_accepts_every_sample_event_signed_when_sent(
    sample_event: str, monkeypatch: pytest.MonkeyPatch, dynamodb: FakeDynamoDB
) -> None:
    # As `make invoke` sends them: signed now, with the secret read from Parameter Store.
    ssm = FakeSSM()
    monkeypatch.setenv("WEBHOOK_SECRET_PARAMETER", "/demo/webhook-secret")
    monkeypatch.setenv("SIGNATURE_TOLERANCE_SECONDS", "300")
    monkeypatch.setenv("IDEMPOTENCY_TABLE", "table")
    monkeypatch.setattr(app, "SSM", ssm)
    monkeypatch.setattr(app, "SECRETS", app.SecretCache(app._read_secret_parameter))
    monkeypatch.setattr(app, "DYNAMODB", dynamodb)
    signer = sign_now(sample_event, SECRET.decode())
    assert signer.returncode == 0, signer.stderr
    result = app.handler(json.loads(signer.stdout), FakeContext())
    assert (result["statusCode"], json.loads(result["body"])) == (200, {"status": "processed"})
    assert ssm.calls == [{"Name": "/demo/webhook-secret", "WithDecryption": True}]


def test_signing_needs_the_secret() -> None:
    signer = sign_now("delivery.json", "")
    assert signer.returncode == 2
    assert "WEBHOOK_SECRET" in signer.stderr
