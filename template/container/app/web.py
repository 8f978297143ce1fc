"""A minimal ASGI toolkit: routing, JSON responses and bounded request bodies.

The service is a plain ASGI application (no framework) served by uvicorn, so its only
runtime dependencies are uvicorn and its protocol libraries, and tests can drive it
directly with the standard library.
"""

from __future__ import annotations

import json
import json.scanner
import logging
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any, NamedTuple

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


def _json_encoder() -> Callable[[Any], str]:
    """json.dumps(payload, ensure_ascii=False), with its encoder built once.

    json.dumps builds a new encoder for every call, which costs about twice what
    encoding a small answer does. Answers are built by this code, never circular, so
    the circular-reference check is left out (a cycle still fails, with RecursionError).
    """
    encoder = json.JSONEncoder(ensure_ascii=False, check_circular=False)
    make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if make_encoder is None:  # a Python without the C accelerator
        return encoder.encode
    iterencode = make_encoder(
        None, encoder.default, json.encoder.encode_basestring, None, ": ", ", ",
        False, False, True,
    )  # fmt: skip
    return lambda payload: "".join(iterencode(payload, 0))


#: ``payload`` as JSON text, non-ASCII characters kept as they are.
encode_json = _json_encoder()


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


def request_headers(scope: Scope, only: Collection[bytes] | None = None) -> dict[str, str]:
    """The request headers by lowercase name (of a repeated header, the last one); with
    ``only``, just those (lowercase names as bytes), and the others are not decoded."""
    headers = scope.get("headers", [])
    if only is None:
        return {
            bytes(key).decode("latin-1"): bytes(value).decode("latin-1") for key, value in headers
        }
    # A loop, not a comprehension: no frame of its own, on every webhook delivery. A
    # name in ``only`` is bytes, so a matching key is too: decoded without a copy.
    found = {}
    for key, value in headers:
        if key in only:
            found[key.decode("latin-1")] = bytes(value).decode("latin-1")
    return found


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


#: The scanner json.loads runs, called directly: json.loads(text) wraps it in two Python
#: calls and two regex matches, which cost half as much again as parsing a small body.
_SCAN_JSON = json.scanner.make_scanner(json.JSONDecoder())
#: What RFC 8259 allows around a JSON text.
_JSON_WHITESPACE = " \t\n\r"


async def read_json(receive: Receive, limit: int) -> Any:
    """The request body parsed as JSON text in UTF-8 (400 when it is not).

    UTF-8 only, as RFC 8259 requires between systems: json.loads(bytes) would also guess
    UTF-16 and UTF-32, which takes as long as parsing a small body."""
    body = await read_body(receive, limit)
    try:
        text = body.decode().strip(_JSON_WHITESPACE)
        payload, end = _SCAN_JSON(text, 0)
    except (UnicodeDecodeError, json.JSONDecodeError, StopIteration):  # StopIteration: no value
        raise HTTPError(400, "request body must be JSON") from None
    if end != len(text):  # more after the value
        raise HTTPError(400, "request body must be JSON")
    return payload


class Response(NamedTuple):
    """A JSON answer, encoded once: for an answer that never changes (`send_response`)."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


def _json_headers(body: bytes) -> tuple[tuple[bytes, bytes], ...]:
    return (
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *SECURITY_HEADERS,
    )


def json_response(status: int, payload: Any) -> Response:
    """``payload`` as a JSON answer with ``status`` and the security headers."""
    body = encode_json(payload).encode()
    return Response(status, _json_headers(body), body)


async def send_response(send: Send, response: Response) -> None:
    """Send ``response``: the same bytes each time, nothing encoded again."""
    status, headers, body = response
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, payload: Any) -> None:
    """Answer with ``payload`` as JSON. (Not through a `Response`: for an answer built
    per request, that would be one more object to build.)"""
    body = encode_json(payload).encode()
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
