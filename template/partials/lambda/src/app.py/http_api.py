"""HTTP API handler: one function behind an API Gateway HTTP API (payload format 2.0).

Routes are declared twice on purpose: in template.yaml (what API Gateway accepts and
authorizes) and in ROUTES below (what the function answers). Errors are not caught
here: an exception fails the invocation, API Gateway answers 500, and the Errors
alarm counts it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

MAX_NAME_LENGTH = 64


def response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """An HTTP API response with a JSON body."""
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


def health(event: dict[str, Any]) -> dict[str, Any]:
    """Liveness probe."""
    return response(200, {"status": "ok"})


def hello(event: dict[str, Any]) -> dict[str, Any]:
    """Greet the caller: the ``name`` query parameter, else the JWT subject, else the world."""
    query = event.get("queryStringParameters") or {}
    claims = event.get("requestContext", {}).get("authorizer", {}).get("jwt", {}).get("claims", {})
    name = query.get("name") or claims.get("sub") or "world"
    if len(name) > MAX_NAME_LENGTH:
        return response(400, {"message": f"name must be at most {MAX_NAME_LENGTH} characters"})
    return response(200, {"message": f"Hello, {name}!"})


ROUTES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "GET /health": health,
    "GET /hello": hello,
}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point."""
    route = ROUTES.get(event.get("routeKey", ""))
    if route is None:
        return response(404, {"message": "Not Found"})
    result = route(event)
    logger.info("answered", extra={"route": event["routeKey"], "status": result["statusCode"]})
    return result
