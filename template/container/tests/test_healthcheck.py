"""The Docker HEALTHCHECK probe (`python -m app.healthcheck`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer

from app.healthcheck import probe
from tests.helpers import free_port


@contextmanager
def server(status: int) -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status if self.path == "/health" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_healthy_when_health_answers_200() -> None:
    with server(200) as port:
        assert probe(port)


def test_unhealthy_on_503() -> None:
    with server(503) as port:
        assert not probe(port)


def test_unhealthy_when_nothing_listens() -> None:
    assert not probe(free_port(), timeout=1)
