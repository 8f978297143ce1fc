"""The HTTP API handler, called with the sample events of events/."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import app

LoadEvent = Callable[[str], dict[str, Any]]


def body(result: dict[str, Any]) -> Any:
    assert result["headers"]["content-type"] == "application/json"
    return json.loads(result["body"])


def test_health(load_event: LoadEvent) -> None:
    result = app.handler(load_event("health.json"), None)
    assert result["statusCode"] == 200
    assert body(result) == {"status": "ok"}


def test_hello_greets_the_token_subject(load_event: LoadEvent) -> None:
    result = app.handler(load_event("hello.json"), None)
    assert result["statusCode"] == 200
    assert body(result) == {"message": "Hello, user-123!"}


def test_hello_prefers_the_name_parameter(load_event: LoadEvent) -> None:
    event = load_event("hello.json")
    event["queryStringParameters"] = {"name": "Ada"}
    assert body(app.handler(event, None)) == {"message": "Hello, Ada!"}


def test_hello_without_a_token_greets_the_world(load_event: LoadEvent) -> None:
    event = load_event("hello.json")
    del event["requestContext"]["authorizer"]
    assert body(app.handler(event, None)) == {"message": "Hello, world!"}


def test_an_overlong_name_is_refused(load_event: LoadEvent) -> None:
    event = load_event("hello.json")
    event["queryStringParameters"] = {"name": "x" * (app.MAX_NAME_LENGTH + 1)}
    assert app.handler(event, None)["statusCode"] == 400


def test_an_unknown_route_is_not_found(load_event: LoadEvent) -> None:
    event = load_event("health.json")
    event["routeKey"] = "DELETE /health"
    result = app.handler(event, None)
    assert result["statusCode"] == 404
    assert body(result) == {"message": "Not Found"}


def test_the_handler_answers_every_sample_event(sample_event: str, load_event: LoadEvent) -> None:
    # As `make invoke` sends them.
    assert app.handler(load_event(sample_event), None)["statusCode"] == 200
