"""The /ws endpoint, driven through ASGI: connection state and broadcast."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from app.config import Settings
from app.main import Hub, create_app


class Client:
    """One WebSocket client of the ASGI app."""

    def __init__(self, app: Any, path: str = "/ws", headers: dict[str, str] | None = None) -> None:
        self._app = app
        self._path = path
        self._headers = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def connect(self) -> dict[str, Any]:
        scope = {
            "type": "websocket",
            "path": self._path,
            "headers": self._headers,
            "subprotocols": [],
        }
        self._task = asyncio.create_task(self._app(scope, self._to_app.get, self._from_app.put))
        await self._to_app.put({"type": "websocket.connect"})
        return await self.receive()

    async def send(self, text: str | None = None, data: bytes | None = None) -> None:
        message: dict[str, Any] = {"type": "websocket.receive"}
        if text is not None:
            message["text"] = text
        if data is not None:
            message["bytes"] = data
        await self._to_app.put(message)

    async def receive(self) -> dict[str, Any]:
        return await asyncio.wait_for(self._from_app.get(), timeout=5)

    async def receive_json(self) -> Any:
        message = await self.receive()
        assert message["type"] == "websocket.send", message
        return json.loads(message["text"])

    async def disconnect(self) -> None:
        await self._to_app.put({"type": "websocket.disconnect", "code": 1000})
        assert self._task is not None
        await asyncio.wait_for(self._task, timeout=5)


def test_messages_are_broadcast_to_every_client_of_the_instance() -> None:
    async def scenario() -> None:
        app = create_app(Settings())
        alice, bob = Client(app), Client(app)
        assert (await alice.connect())["type"] == "websocket.accept"
        welcome_alice = await alice.receive_json()
        await bob.connect()
        welcome_bob = await bob.receive_json()
        assert welcome_alice["welcome"] != welcome_bob["welcome"]

        await alice.send("hello")
        expected = {"from": welcome_alice["welcome"], "seq": 1, "text": "hello"}
        assert await alice.receive_json() == expected
        assert await bob.receive_json() == expected

        await alice.send("again")  # the per-connection counter lives in the process
        assert (await bob.receive_json())["seq"] == 2

        await alice.disconnect()
        await bob.send("still here")
        assert (await bob.receive_json())["text"] == "still here"
        await bob.disconnect()

    asyncio.run(scenario())


def test_a_broadcast_drops_clients_that_are_gone_and_no_slow_one_holds_it_up() -> None:
    async def scenario() -> None:
        hub, received, unblocked = Hub(), [], asyncio.Event()

        async def gone(message: dict[str, Any]) -> None:
            raise ConnectionError("the client went away")

        async def slow(message: dict[str, Any]) -> None:
            await unblocked.wait()  # its socket buffer is full

        async def ready(message: dict[str, Any]) -> None:
            received.append(json.loads(message["text"]))

        hub.join(gone)
        await hub.broadcast({"n": 1})  # a lone client
        assert hub.count == 0

        for send in (slow, ready, gone):
            hub.join(send)
        sending = asyncio.create_task(hub.broadcast({"n": 2}))
        await asyncio.sleep(0.05)
        assert received == [{"n": 2}]  # while the slow client still blocks
        unblocked.set()
        await asyncio.wait_for(sending, timeout=5)
        assert hub.count == 2

    asyncio.run(scenario())


def test_binary_messages_are_refused() -> None:
    async def scenario() -> None:
        client = Client(create_app(Settings()))
        await client.connect()
        await client.receive_json()
        await client.send(data=b"\x00\x01")
        assert await client.receive() == {"type": "websocket.close", "code": 1003}

    asyncio.run(scenario())


def test_oversized_messages_close_the_connection() -> None:
    async def scenario() -> None:
        client = Client(create_app(Settings(max_body_bytes=10)))
        await client.connect()
        await client.receive_json()
        await client.send("x" * 11)
        assert await client.receive() == {"type": "websocket.close", "code": 1009}

    asyncio.run(scenario())


def connects(settings: Settings, headers: dict[str, str]) -> bool:
    """Does the app accept a connection with these handshake headers?"""

    async def scenario() -> bool:
        client = Client(create_app(settings), headers=headers)
        first = await client.connect()
        if first["type"] == "websocket.close":
            assert first["code"] == 1008  # uvicorn turns it into 403 Forbidden
            return False
        assert first["type"] == "websocket.accept"
        await client.receive_json()
        await client.disconnect()
        return True

    return asyncio.run(scenario())


HOST = {"host": "chat.example.com"}


def test_pages_of_other_sites_cannot_connect() -> None:
    assert not connects(Settings(), {**HOST, "origin": "https://evil.example"})
    assert not connects(Settings(), {**HOST, "origin": "null"})  # sandboxed, file://


def test_the_services_own_pages_may_connect() -> None:
    assert connects(Settings(), {**HOST, "origin": "https://chat.example.com"})
    assert connects(Settings(), {**HOST, "origin": "https://CHAT.example.com/"})


def test_allowed_origins_may_connect() -> None:
    allowed = "https://app.example.com, http://localhost:3000/"
    settings = Settings.from_env({"ALLOWED_ORIGINS": allowed})
    assert connects(settings, {**HOST, "origin": "https://app.example.com"})
    assert connects(settings, {**HOST, "origin": "http://localhost:3000"})
    assert not connects(settings, {**HOST, "origin": "https://app.example.com.evil.example"})


def test_clients_that_are_not_browsers_send_no_origin_and_may_connect() -> None:
    assert connects(Settings(), HOST)


def test_unknown_websocket_path_is_refused() -> None:
    async def scenario() -> None:
        client = Client(create_app(Settings()), path="/elsewhere")
        assert await client.connect() == {"type": "websocket.close", "code": 1008}

    asyncio.run(scenario())
