"""Deliveries: signature, replay window, duplicates, failures; and the signing secret."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

import pytest

from app.config import Settings
from app.main import create_app
from app.signature import sign
from app.store import Claim, DynamoJobStore, MemoryJobStore
from app.webhook import Receiver, Refusals, Secrets, ssm_parameter

KEY = "signing-key"
NOW = 1_700_000_000.0
SETTINGS = Settings(max_body_bytes=1024)


class Handler:
    """Records the payloads it processes; fails the first ``fail`` times."""

    def __init__(self, fail: int = 0) -> None:
        self.payloads: list[Any] = []
        self.fail = fail

    def __call__(self, payload: Any) -> dict[str, Any]:
        self.payloads.append(payload)
        if self.fail:
            self.fail -= 1
            raise RuntimeError("downstream unavailable")
        return {"ok": True}


def make_receiver(handler: Handler | None = None, store: Any = None, keys: str = KEY) -> Receiver:
    return Receiver(
        Secrets(lambda: keys).load(),
        store if store is not None else MemoryJobStore(clock=lambda: NOW),
        tolerance_seconds=300,
        lease_seconds=60,
        handler=handler or Handler(),
        clock=lambda: NOW,
    )


def delivery(
    payload: Any = None, delivery_id: str = "d-1", sent_at: float = NOW, key: str = KEY
) -> tuple[dict[bytes, bytes], bytes]:
    """The headers (as ASGI gives them) and the body of a signed delivery."""
    body = json.dumps(payload if payload is not None else {"type": "ping"}).encode()
    headers = {
        b"x-signature-timestamp": b"%d" % sent_at,
        b"x-delivery-id": delivery_id.encode(),
        b"x-signature": sign(key.encode(), int(sent_at), delivery_id, body).encode(),
    }
    return headers, body


def test_a_signed_delivery_is_processed() -> None:
    handler = Handler()
    answer = make_receiver(handler).receive(*delivery({"type": "order.paid"}))
    assert (answer.status, answer.body) == (200, {"status": "processed"})
    assert handler.payloads == [{"type": "order.paid"}]


def test_a_delivery_is_processed_once_even_when_signed_again() -> None:
    handler = Handler()
    receiver = make_receiver(handler)
    assert receiver.receive(*delivery()).status == 200
    retry = receiver.receive(*delivery(sent_at=NOW - 60))  # the sender's retry, re-signed
    assert (retry.status, retry.body) == (200, {"status": "duplicate"})
    replay = receiver.receive(*delivery())  # a captured delivery, sent again
    assert replay.body == {"status": "duplicate"}
    assert len(handler.payloads) == 1


def test_another_delivery_id_is_another_delivery() -> None:
    handler = Handler()
    receiver = make_receiver(handler)
    receiver.receive(*delivery(delivery_id="d-1"))
    receiver.receive(*delivery(delivery_id="d-2"))
    assert len(handler.payloads) == 2


@pytest.mark.parametrize(
    "forge",
    [
        lambda h, b: ({**h, b"x-signature": sign(b"guess", NOW, "d-1", b).encode()}, b),
        lambda h, b: (h, b.replace(b"ping", b"pong")),
        lambda h, b: ({**h, b"x-delivery-id": b"d-2"}, b),  # replay under a new id
        lambda h, b: ({k: v for k, v in h.items() if k != b"x-signature"}, b),
    ],
)
def test_forged_or_altered_deliveries_are_refused_before_anything_happens(forge: Any) -> None:
    handler, store = Handler(), MemoryJobStore()
    answer = make_receiver(handler, store).receive(*forge(*delivery()))
    assert (answer.status, answer.body) == (401, {"error": "invalid signature"})
    assert handler.payloads == []
    assert store.jobs == {}


def test_refusals_are_logged_the_first_at_once_then_counted_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    refusals = Refusals(interval=60, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="app.webhook"):
        refusals.record("signature does not match")
        now[0] = 1
        for _ in range(500):  # a flood of forged deliveries: no line each
            refusals.record("signature does not match")
        refusals.record("timestamp outside the tolerance")
        assert len(caplog.records) == 1
        now[0] = 61
        refusals.record("signature does not match")
        refusals.record("missing signature headers")
        refusals.flush()  # at shutdown
    assert [record.getMessage() for record in caplog.records] == [
        "1 delivery refused: signature does not match (1)",
        "502 deliveries refused: signature does not match (501),"
        " timestamp outside the tolerance (1)",
        "1 delivery refused: missing signature headers (1)",
    ]


def test_stale_deliveries_are_refused() -> None:
    answer = make_receiver().receive(*delivery(sent_at=NOW - 301))
    assert answer.status == 401


def test_a_signed_body_that_is_not_json_is_400() -> None:
    headers = {
        b"x-signature-timestamp": b"%d" % NOW,
        b"x-delivery-id": b"d-1",
        b"x-signature": sign(KEY.encode(), int(NOW), "d-1", b"not json").encode(),
    }
    assert make_receiver().receive(headers, b"not json").status == 400


def test_a_failed_delivery_is_released_for_the_senders_retry() -> None:
    handler = Handler(fail=1)
    receiver = make_receiver(handler)
    first = receiver.receive(*delivery())
    assert first.status == 500
    assert "downstream" not in json.dumps(first.body)  # no internals leak
    assert receiver.receive(*delivery()).body == {"status": "processed"}
    assert len(handler.payloads) == 2


def test_a_delivery_being_processed_elsewhere_is_409() -> None:
    store = MemoryJobStore(clock=lambda: NOW)
    assert store.claim("d-1", "another-instance", 60) is Claim.CLAIMED
    handler = Handler()
    assert make_receiver(handler, store).receive(*delivery()).status == 409
    assert handler.payloads == []


def test_the_secret_can_be_rotated() -> None:
    receiver = make_receiver(keys=f"{KEY}, new-key")
    assert receiver.receive(*delivery(key="new-key", delivery_id="d-9")).status == 200
    assert receiver.receive(*delivery(key=KEY)).status == 200


class FakeSSM:
    def __init__(self, value: str) -> None:
        self.value = value
        self.requests: list[dict[str, Any]] = []

    def get_parameter(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        if isinstance(self.value, Exception):
            raise self.value
        return {"Parameter": {"Value": self.value}}


def test_the_secret_is_read_decrypted_from_its_parameter() -> None:
    ssm = FakeSSM("s1,s2")
    secrets = Secrets(ssm_parameter(ssm, "/svc/webhook-secret")).load()
    assert secrets.current() == [b"s1", b"s2"]
    assert ssm.requests == [{"Name": "/svc/webhook-secret", "WithDecryption": True}]


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="no secret"):
        Secrets(lambda: " , ").load()


def test_the_secret_is_read_again_and_a_failed_read_keeps_the_current_one() -> None:
    now = [0.0]
    ssm = FakeSSM("old")
    secrets = Secrets(ssm_parameter(ssm, "/p"), refresh_seconds=300, clock=lambda: now[0])
    secrets.load()
    ssm.value = "old,new"
    now[0] = 299
    assert secrets.current() == [b"old"]
    now[0] = 300
    assert secrets.current() == [b"old", b"new"]
    ssm.value = ConnectionError("SSM unreachable")  # type: ignore[assignment]
    now[0] = 700
    assert secrets.current() == [b"old", b"new"]
    assert len(ssm.requests) == 3


def test_the_receiver_needs_its_parameter_and_table() -> None:
    with pytest.raises(RuntimeError, match="WEBHOOK_SECRET_PARAMETER and DELIVERIES_TABLE"):
        Receiver.from_settings(Settings())


def test_deliveries_are_recorded_by_their_id_in_dynamodb() -> None:
    requests: list[tuple[str, dict[str, Any]]] = []

    class DynamoDB:
        def put_item(self, **request: Any) -> None:
            requests.append(("put", request))

        def update_item(self, **request: Any) -> None:
            requests.append(("update", request))

    store = DynamoJobStore(DynamoDB(), "deliveries", key="delivery_id")
    make_receiver(store=store).receive(*delivery(delivery_id="evt_42"))
    (put_name, put), (update_name, update) = requests
    assert (put_name, update_name) == ("put", "update")
    assert put["TableName"] == "deliveries"
    assert put["Item"]["delivery_id"] == {"S": "evt_42"}
    assert "ConditionExpression" in put
    assert update["Key"] == {"delivery_id": {"S": "evt_42"}}


# --- Through the ASGI application ------------------------------------------------------


def post(app: Any, headers: dict[bytes, bytes], body: bytes) -> tuple[int, Any]:
    async def run() -> tuple[int, Any]:
        sent: list[dict[str, Any]] = []
        incoming = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            return incoming.pop(0) if incoming else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/webhook",
            "headers": list(headers.items()),
        }
        await app(scope, receive, send)
        return sent[0]["status"], json.loads(sent[1]["body"])

    return asyncio.run(run())


def test_the_webhook_route() -> None:
    handler = Handler()
    app = create_app(SETTINGS, receiver=make_receiver(handler))
    headers, body = delivery()
    assert post(app, headers, body) == (200, {"status": "processed"})
    assert post(app, headers, body) == (200, {"status": "duplicate"})
    assert post(app, {}, body) == (401, {"error": "invalid signature"})
    assert len(handler.payloads) == 1


def test_the_webhook_route_limits_the_body() -> None:
    app = create_app(SETTINGS, receiver=make_receiver())
    headers, body = delivery({"blob": "x" * 2000})
    assert post(app, headers, body)[0] == 413


def test_start_up_fails_without_the_signing_secret() -> None:
    app = create_app(SETTINGS)  # no receiver: start-up builds one from the settings

    async def run() -> list[dict[str, Any]]:
        incoming = [{"type": "lifespan.startup"}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return incoming.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app({"type": "lifespan"}, receive, send)
        return sent

    (message,) = asyncio.run(run())
    assert message["type"] == "lifespan.startup.failed"
    assert "WEBHOOK_SECRET_PARAMETER" in message["message"]


def test_deliveries_are_handled_off_the_event_loop() -> None:
    threads: list[str] = []

    def handler(payload: Any) -> dict[str, Any]:
        threads.append(threading.current_thread().name)
        return {}

    receiver = make_receiver()
    receiver.handler = handler
    post(create_app(SETTINGS, receiver=receiver), *delivery())
    assert threads
    assert threads != [threading.main_thread().name]


def test_refused_deliveries_are_answered_without_a_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hops: list[str] = []
    to_thread = asyncio.to_thread

    async def counted(function: Any, *args: Any) -> Any:
        hops.append(function.__name__)
        return await to_thread(function, *args)

    monkeypatch.setattr(asyncio, "to_thread", counted)
    handler = Handler()
    app = create_app(SETTINGS, receiver=make_receiver(handler))
    headers, body = delivery()
    forged = {**headers, b"x-signature": sign(b"guess", int(NOW), "d-1", body).encode()}
    assert post(app, forged, body) == (401, {"error": "invalid signature"})
    assert post(app, {**headers, b"x-signature-timestamp": b"%d" % (NOW - 301)}, body)[0] == 401
    assert hops == []
    assert post(app, headers, body) == (200, {"status": "processed"})
    assert hops == ["accept"]
    assert len(handler.payloads) == 1


def test_secrets_due_for_a_refresh_are_read_off_the_event_loop() -> None:
    now = [0.0]
    reads: list[str] = []

    def fetch() -> str:
        reads.append(threading.current_thread().name)
        return KEY

    receiver = make_receiver()
    receiver.secrets = Secrets(fetch, refresh_seconds=300, clock=lambda: now[0]).load()
    app = create_app(SETTINGS, receiver=receiver)
    headers, body = delivery(delivery_id="d-7")
    forged = {**headers, b"x-signature": b"sha256=" + b"0" * 64}
    assert post(app, forged, body)[0] == 401  # fresh secrets: no read
    now[0] = 300  # due: the refusal waits for the read, in a thread
    assert post(app, forged, body)[0] == 401
    assert post(app, headers, body) == (200, {"status": "processed"})
    assert len(reads) == 2
    assert reads[1] != threading.main_thread().name
