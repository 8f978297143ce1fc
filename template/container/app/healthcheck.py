"""Docker HEALTHCHECK probe: exit 0 when the local /health endpoint answers 200.

Standard library only, so the image needs no curl. Run as `python -m app.healthcheck`.
"""

from __future__ import annotations

import http.client
import os
import sys
from http import HTTPStatus


def probe(port: int, timeout: float = 3.0) -> bool:
    """True when http://127.0.0.1:<port>/health answers 200."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status == HTTPStatus.OK
    except OSError:
        return False
    finally:
        connection.close()


def main() -> int:
    port = int(os.environ.get("PORT", "8080"))
    return 0 if probe(port) else 1


if __name__ == "__main__":
    sys.exit(main())
