"""A minimal ASGI toolkit: routing, JSON responses and bounded request bodies.

The service is a plain ASGI application (no framework) served by uvicorn, so its only
runtime dependencies are uvicorn, its protocol libraries and orjson (JSON), and tests
can drive it directly with the standard library.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, NamedTuple

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger(__name__)

#: Sent with every HTTP response.
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
)


#: ``payload`` as JSON (RFC 8259) in UTF-8, compact, non-ASCII characters as they are.
#: orjson encodes a service's small answers several times faster than the standard
#: library; it raises TypeError for what JSON cannot hold (and writes NaN as null).
encode_json: Callable[[Any], bytes] = orjson.dumps


class HTTPError(Exception):
    """An error the client caused: answered with ``status`` and a JSON message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ClientDisconnected(Exception):
    """The client went away before sending its whole request."""


def header(scope: Scope, name: str) -> str | None:
    """The value of request header ``name`` (lowercase), or None when it is absent."""
    wanted = name.encode("latin-1")
    for key, value in scope.get("headers", []):
        if key == wanted:
            return bytes(value).decode("latin-1")
    return None


async def read_body(receive: Receive, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes with 413."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise HTTPError(413, f"request body larger than {limit} bytes")
        if not message.get("more_body", False):
            return b"".join([*chunks, chunk]) if chunks else chunk  # mostly one chunk
        chunks.append(chunk)


async def read_json(receive: Receive, limit: int) -> Any:
    """The request body parsed as JSON (RFC 8259) in UTF-8; 400 when it is not.

    orjson parses strictly: UTF-8 only, no NaN or Infinity, no number beyond a double's
    range (an integer beyond 64 bits becomes a float), no unpaired surrogate, at most
    1,024 levels of nesting."""
    body = await read_body(receive, limit)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise HTTPError(400, "request body must be JSON") from None


class Response(NamedTuple):
    """A JSON answer, encoded once: for an answer that never changes (`send_response`)."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


_JSON_TYPE = (b"content-type", b"application/json")


def _json_headers(body: bytes) -> tuple[tuple[bytes, bytes], ...]:
    return (_JSON_TYPE, (b"content-length", b"%d" % len(body)), *SECURITY_HEADERS)


def json_response(status: int, payload: Any) -> Response:
    """``payload`` as a JSON answer with ``status`` and the security headers."""
    body = encode_json(payload)
    return Response(status, _json_headers(body), body)


async def send_response(send: Send, response: Response) -> None:
    """Send ``response``: the same bytes each time, nothing encoded again."""
    status, headers, body = response
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, payload: Any) -> None:
    """Answer with ``payload`` as JSON. (Not through a `Response`: for an answer built
    per request, that would be one more object to build.)"""
    body = encode_json(payload)
    await send({"type": "http.response.start", "status": status, "headers": _json_headers(body)})
    await send({"type": "http.response.body", "body": body})


class Router:
    """Dispatches ASGI HTTP and WebSocket connections to handlers by exact path."""

    def __init__(self) -> None:
        self._http: dict[str, dict[str, Handler]] = {}
        self._websocket: dict[str, Handler] = {}
        self._startup: list[Callable[[], Awaitable[None]]] = []
        self._shutdown: list[Callable[[], Awaitable[None]]] = []

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        """Register an HTTP handler for ``method`` and ``path``."""

        def register(handler: Handler) -> Handler:
            self._http.setdefault(path, {})[method.upper()] = handler
            return handler

        return register

    def websocket(self, path: str) -> Callable[[Handler], Handler]:
        """Register a WebSocket handler for ``path``."""

        def register(handler: Handler) -> Handler:
            self._websocket[path] = handler
            return handler

        return register

    def on_startup(self, hook: Callable[[], Awaitable[None]]) -> None:
        self._startup.append(hook)

    def on_shutdown(self, hook: Callable[[], Awaitable[None]]) -> None:
        self._shutdown.append(hook)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            if kind == "websocket":
                await self._handle_websocket(scope, receive, send)
            elif kind == "lifespan":
                await self._handle_lifespan(receive, send)
            return
        # HTTP is routed here, not in a coroutine of its own: this runs for every request.
        methods = self._http.get(scope["path"])
        if methods is None:
            await send_json(send, 404, {"error": "not found"})
            return
        handler = methods.get(scope["method"])
        if handler is None:
            await send_json(send, 405, {"error": "method not allowed"})
            return
        try:
            await handler(scope, receive, send)
        except HTTPError as error:
            await send_json(send, error.status, {"error": error.message})
        except ClientDisconnected:
            log.info("client disconnected during %s %s", scope["method"], scope["path"])

    async def _handle_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self._websocket.get(scope["path"])
        if handler is None:
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})
            return
        await handler(scope, receive, send)

    async def _handle_lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    for hook in self._startup:
                        await hook()
                except Exception as error:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for hook in self._shutdown:
                    await hook()
                await send({"type": "lifespan.shutdown.complete"})
                return
