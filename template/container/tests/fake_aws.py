"""A stand-in for the AWS APIs the webhook service calls (SSM and DynamoDB), over HTTP.

`python -m app` talks to it through AWS_ENDPOINT_URL, so the tests run the service's
real code path: boto3, the JSON protocol, the decrypted parameter, the conditional
writes. It keeps items in memory and understands exactly the requests app/store.py
makes; nothing here is a general DynamoDB.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

CONDITION_FAILED = "ConditionalCheckFailedException"


class AWSError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class FakeAWS:
    """SSM GetParameter and DynamoDB PutItem/GetItem/UpdateItem/DeleteItem on one port."""

    def __init__(self, parameters: dict[str, str]) -> None:
        self.parameters = parameters
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls: list[str] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                target = self.headers.get("X-Amz-Target", "")
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                try:
                    status, payload = 200, fake.call(target, request)
                except AWSError as error:
                    status, payload = 400, {"__type": error.code, "message": str(error)}
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeAWS:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def call(self, target: str, request: dict[str, Any]) -> dict[str, Any]:
        operation = target.partition(".")[2]
        operations = {
            "AmazonSSM.GetParameter": self._get_parameter,
            "DynamoDB_20120810.PutItem": self._put_item,
            "DynamoDB_20120810.GetItem": self._get_item,
            "DynamoDB_20120810.UpdateItem": self._update_item,
            "DynamoDB_20120810.DeleteItem": self._delete_item,
        }
        if target not in operations:
            raise AWSError("UnknownOperationException", target)
        with self._lock:
            self.calls.append(operation)
            return operations[target](request)

    def _get_parameter(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["Name"]
        if name not in self.parameters:
            raise AWSError("ParameterNotFound", name)
        if not request.get("WithDecryption"):
            raise AWSError("ValidationException", "a SecureString is read with decryption")
        value = self.parameters[name]
        return {"Parameter": {"Name": name, "Type": "SecureString", "Value": value}}

    @staticmethod
    def _key(request: dict[str, Any], item: dict[str, Any]) -> tuple[str, str]:
        (name, value), *_ = item.items()
        return request["TableName"], f"{name}={value['S']}"

    def _put_item(self, request: dict[str, Any]) -> dict[str, Any]:
        # The store's condition: absent, or not done and its lease ran out.
        key_name = request["ExpressionAttributeNames"]["#key"]
        item = request["Item"]
        key = self._key(request, {key_name: item[key_name]})
        old = self.items.get(key)
        now = float(request["ExpressionAttributeValues"][":now"]["N"])
        if old is not None and (
            old["status"]["S"] == "done" or float(old["lease_until"]["N"]) >= now
        ):
            raise AWSError(CONDITION_FAILED, "the conditional request failed")
        self.items[key] = item
        return {}

    def _get_item(self, request: dict[str, Any]) -> dict[str, Any]:
        item = self.items.get(self._key(request, request["Key"]))
        return {"Item": item} if item else {}

    def _update_item(self, request: dict[str, Any]) -> dict[str, Any]:
        item = self.items.get(self._key(request, request["Key"]))
        owner = request["ExpressionAttributeValues"][":owner"]
        if item is None or item["owner"] != owner:
            raise AWSError(CONDITION_FAILED, "the conditional request failed")
        item["status"] = request["ExpressionAttributeValues"][":done"]
        return {}

    def _delete_item(self, request: dict[str, Any]) -> dict[str, Any]:
        key = self._key(request, request["Key"])
        item = self.items.get(key)
        owner = request["ExpressionAttributeValues"][":owner"]
        if item is None or item["owner"] != owner or item["status"]["S"] == "done":
            raise AWSError(CONDITION_FAILED, "the conditional request failed")
        del self.items[key]
        return {}
