"""The Lambda project as AWS would take it: the real SAM CLI, IAM, initialisation.

- ``sam validate --lint`` (the real SAM CLI, in its own virtual environment: see
  scripts/test.sh) accepts every variant, offline;
- every IAM policy after the SAM transform (function role, scheduler role, key,
  bucket and queue policies) names only actions AWS knows, each on a resource type
  it supports (support/iam_lint.py);
- the handlers create their SDK clients, and the webhook fetches its signing
  secret, while the execution environment initialises: provisioned concurrency and
  SnapStart run that before the first request, so no caller pays for it.

Without the SAM CLI the first tier skips with its reason (fails with ``CI=true``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

import pytest
from support.iam_lint import document_findings, policy_documents
from support.lambda_tools import load_template, resolve_values, sam_transform
from support.render import REPO, plain_template, render
from support.terraform import ci
from test_lambda_project import VARIANTS, WORKLOADS

pytestmark = pytest.mark.slow

#: Where scripts/test.sh installs the SAM CLI (its dependencies clash with the suite's).
SAM_VENV: Final = REPO / ".venv-sam"


def sam_cli() -> str | None:
    """The ``sam`` executable: ``SAM_CLI``, the suite's own venv, or PATH."""
    candidates = [os.environ.get("SAM_CLI"), str(SAM_VENV / "bin" / "sam"), shutil.which("sam")]
    return next((c for c in candidates if c and Path(c).is_file()), None)


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("lambda-deploy")
    template = plain_template(work / "template")
    return {
        name: render(template, work / name, compute="lambda", **given)
        for name, given in VARIANTS.items()
    }


# --- sam validate --lint --------------------------------------------------------------


@pytest.fixture(scope="module")
def sam() -> str:
    found = sam_cli()
    if found is None:
        reason = "the SAM CLI is not installed (bash scripts/test.sh installs it in .venv-sam)"
        if ci():
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)
    return found


def sam_env(home: Path) -> dict[str, str]:
    """Offline and quiet: no telemetry, no credentials, a throwaway HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SAM_"))}
    env.update(
        HOME=str(home),
        SAM_CLI_TELEMETRY="0",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


@pytest.fixture(scope="module")
def sam_results(
    sam: str, projects: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, subprocess.CompletedProcess[str]]:
    """``sam validate --lint`` on every variant, three at a time (mostly start-up)."""
    home = tmp_path_factory.mktemp("sam-home")

    def validate(name: str) -> subprocess.CompletedProcess[str]:
        (home / name).mkdir()  # SAM writes its settings there: one per run
        return subprocess.run(
            [sam, "validate", "--lint", "--template", "template.yaml"],
            cwd=projects[name],
            env=sam_env(home / name),
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(VARIANTS, pool.map(validate, VARIANTS), strict=True))


@pytest.mark.parametrize("name", VARIANTS)
def test_sam_validate_lint_accepts_every_variant(
    sam_results: dict[str, subprocess.CompletedProcess[str]], name: str
) -> None:
    proc = sam_results[name]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "is a valid SAM Template" in proc.stdout + proc.stderr


# --- IAM after the transform --------------------------------------------------------------


def policies_after_transform(project: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every policy document of the transformed template, intrinsics resolved."""
    transformed = sam_transform(load_template(project / "template.yaml"))
    found = []
    for logical_id, resource in transformed["Resources"].items():
        props = resolve_values(transformed, resource.get("Properties", {}))
        for path, document in policy_documents(props):
            found.append((f"{logical_id} {path}", document))
    return found


@pytest.mark.parametrize("name", VARIANTS)
def test_iam_policies_after_the_transform_name_known_actions_on_supported_resources(
    projects: dict[str, Path], name: str
) -> None:
    policies = policies_after_transform(projects[name])
    assert len(policies) >= 3, policies  # trust policy, function policy, key policy at least
    findings = [f for where, doc in policies for f in document_findings(doc, where)]
    assert findings == []


def test_service_roles_and_keys_every_stream_permission_applies_to_its_resource(
    projects: dict[str, Path],
) -> None:
    """dynamodb:ListStreams supports only ``"Resource": "*"``: scoped to a stream ARN the
    statement grants nothing (AWS's Service Authorization Reference for DynamoDB)."""
    policies = policies_after_transform(projects["dynamodb_stream"])
    statements = [
        statement
        for where, document in policies
        if where.startswith("FunctionRole")
        for statement in document["Statement"]
    ]
    listing = [s for s in statements if "dynamodb:ListStreams" in json.dumps(s.get("Action"))]
    assert listing, "the function may not list streams"
    assert all(s["Resource"] == "*" for s in listing), listing


# --- Initialisation ---------------------------------------------------------------------

#: Runs in a fresh interpreter in a rendered project: a stand-in boto3 records every
#: client created and every call made, at import (initialisation) and in the first
#: invocation; prints both.
INITIALISATION_PROBE = """
import json, os, sys, types
sys.path[:0] = ["src", "tests"]
os.environ.update({
    "IDEMPOTENCY_TABLE": "table", "WEBHOOK_SECRET_PARAMETER": "/demo-svc/webhook-secret",
    "SIGNATURE_TOLERANCE_SECONDS": "300", "AWS_REGION": "us-east-1",
})
log, phase = [], ["init"]

class Client:
    def __init__(self, service):
        self.service = service
    def __getattr__(self, operation):
        def call(**kwargs):
            log.append([phase[0], self.service, operation])
            if operation == "get_parameter":
                return {"Parameter": {"Value": "test-secret"}}
            if operation == "head_object":
                return {"ContentLength": 1, "ContentType": "text/plain"}
            return {}
        return call

def client(service, *args, **kwargs):
    log.append([phase[0], service, "client"])
    return Client(service)

sys.modules["boto3"] = types.SimpleNamespace(client=client)
import app

class Context:
    def get_remaining_time_in_millis(self):
        return 30000

event = json.load(open(sys.argv[1]))
phase[0] = "first request"
try:
    app.handler(event, Context())
except Exception as error:  # a refused signature is fine: only the setup is measured
    log.append(["first request", "error", type(error).__name__])
print(json.dumps(log))
"""
SAMPLE_EVENTS: Final = {
    "http_api": "hello.json",
    "webhook": "delivery.json",
    "s3_events": "object_created.json",
    "sqs_consumer": "messages.json",
    "dynamodb_stream": "changes.json",
    "scheduled_job": "scheduled_run.json",
}
#: What each workload's initialisation must prepare.
CLIENTS: Final = {
    "http_api": set(),
    "webhook": {"ssm", "dynamodb"},
    "s3_events": {"s3", "dynamodb"},
    "sqs_consumer": {"dynamodb"},
    "dynamodb_stream": {"dynamodb"},
    "scheduled_job": {"dynamodb"},
}


@pytest.mark.parametrize("workload", WORKLOADS)
def test_lambda_initialisation_creates_clients_and_fetches_the_secret_before_any_request(
    projects: dict[str, Path], workload: str
) -> None:
    project = projects[workload]
    event = project / "events" / SAMPLE_EVENTS[workload]
    proc = subprocess.run(
        [sys.executable, "-I", "-B", "-c", INITIALISATION_PROBE, str(event)],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = json.loads(proc.stdout)
    created_at_init = {service for phase, service, op in log if op == "client" and phase == "init"}
    assert created_at_init == CLIENTS[workload]
    late = [entry for entry in log if entry[0] == "first request" and entry[2] == "client"]
    assert late == [], f"clients created by the first request: {late}"
    if workload == "webhook":
        assert ["init", "ssm", "get_parameter"] in log, "the secret is fetched on first use"
        assert ["first request", "ssm", "get_parameter"] not in log
