"""A WebSocket load generator for service_throughput.py: wrk speaks HTTP only.

One client connects to ws://127.0.0.1:PORT/ws, keeps WINDOW text messages in flight
for DURATION seconds, and counts the messages that come back (the service sends every
message to its sender too, as it broadcasts it). It prints the summary the wrk script
prints: requests (messages back), seconds, p50/p99 latency in microseconds, errors.

    python benchmarks/_ws_load.py PORT DURATION [--window 32] [--text TEXT]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import json
import os
import statistics
import struct
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

Summary = dict[str, float]

TEXT = "hello over the wire: one chat message of ordinary size"


def frame(text: str) -> bytes:
    """A client's text frame (clients must mask theirs)."""
    payload = text.encode()
    mask = os.urandom(4)
    length = len(payload)
    header = bytes([0x81])
    if length < 126:
        header += bytes([0x80 | length])
    else:
        header += bytes([0x80 | 126]) + struct.pack("!H", length)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise ConnectionError(f"no WebSocket upgrade: {head!r}")
    return reader, writer


async def receive(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One server frame (unmasked): opcode and payload."""
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", await reader.readexactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", await reader.readexactly(8))
    return first & 0x0F, await reader.readexactly(length)


async def exchange(port: int, text: str = TEXT) -> tuple[str, str]:
    """The first message the service sends, and its answer to one ``text`` message."""
    reader, writer = await connect(port)
    try:
        _, welcome = await receive(reader)
        writer.write(frame(text))
        _, reply = await receive(reader)
        return welcome.decode(), reply.decode()
    finally:
        writer.close()


async def converse(port: int, count: int, text: str = TEXT) -> None:
    """Send ``count`` messages one at a time, each once the one before was answered."""
    reader, writer = await connect(port)
    try:
        await receive(reader)  # the welcome
        message = frame(text)
        for _ in range(count):
            writer.write(message)
            await receive(reader)
    finally:
        writer.close()


async def load(port: int, seconds: float, window: int, text: str) -> Summary:
    """Keep ``window`` messages in flight for ``seconds``; the wrk script's summary."""
    reader, writer = await connect(port)
    await receive(reader)  # the welcome
    message = frame(text)
    sent: collections.deque[float] = collections.deque()
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    deadline = start + seconds
    for _ in range(window):
        sent.append(time.perf_counter())
        writer.write(message)
    while True:
        opcode, _ = await receive(reader)
        now = time.perf_counter()
        if opcode != 1:
            errors += 1
            break
        latencies.append(now - sent.popleft())
        if now >= deadline:
            break
        sent.append(now)
        writer.write(message)
    elapsed = time.perf_counter() - start
    writer.write(b"\x88\x80" + os.urandom(4))  # close, masked, no payload
    writer.close()
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "p50": cuts[49] * 1e6,
        "p99": cuts[98] * 1e6,
        "errors": errors,
        "status": 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("port", type=int)
    parser.add_argument("duration", type=float)
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--text", default=TEXT)
    options = parser.parse_args()
    run: Callable[[Coroutine[Any, Any, Summary]], Summary] = asyncio.run
    try:  # the client must not be the bottleneck: uvloop when this interpreter has it
        import uvloop  # noqa: PLC0415

        run = uvloop.run
    except ImportError:
        pass
    summary = run(load(options.port, options.duration, options.window, options.text))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
