"""Sign a sample delivery now, as the sender would, and print it.

The function refuses deliveries signed more than SignatureToleranceSeconds ago (a
replay), so no signature stored in events/delivery.json stays valid: sign it when you
use it, with the secret stored in the WebhookSecretParameterName parameter.

    export WEBHOOK_SECRET=...
    python events/sign.py events/delivery.json | sam local invoke Function --event -

`make invoke` does exactly that (after `sam build`).
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from signature import sign  # the function's own signing code, in src/


def signed(event: dict[str, Any], secret: bytes, now: int) -> dict[str, Any]:
    """``event`` (an HTTP API request) with its timestamp and signature made at ``now``."""
    headers = {name.lower(): value for name, value in event.get("headers", {}).items()}
    body = (event.get("body") or "").encode()
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body)
    headers["x-signature-timestamp"] = str(now)
    headers["x-signature"] = sign(secret, now, headers["x-delivery-id"], body)
    return {**event, "headers": headers}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python events/sign.py EVENT_FILE (secret: $WEBHOOK_SECRET)", file=sys.stderr)
        return 2
    secret = os.environ.get("WEBHOOK_SECRET", "")
    if not secret:
        print("set WEBHOOK_SECRET to the signing secret", file=sys.stderr)
        return 2
    event = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    print(json.dumps(signed(event, secret.encode(), int(time.time())), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
