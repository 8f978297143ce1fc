"""The Lambda project (compute=lambda, issue 3).

Every workload renders a project that passes cfn-lint, checkov (on template.yaml and
after the SAM transform), bandit, ruff and its own tests, and has the shape its
workload needs. Each variant is rendered once for the module; the scanners of all
variants run concurrently.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.lambda_tools import (
    CheckovReport,
    checkov_cloudformation,
    load_template,
    metadata_skips,
    parameter_accepts,
    parse_structured,
    privilege_findings,
    render_plain,
    resolve,
    sam_transform,
    structured_files,
    write_transformed,
    zipped_size,
)
from support.markdown import paragraphs, shown_as_text
from support.render import REPO, answers_for, plain_template, render
from support.scanners import bandit, cfn_lint, project_pytest, run, tool

pytestmark = pytest.mark.slow

#: The variants issue 3 asks for: every workload, http_api warm and public.
VARIANTS: dict[str, dict[str, Any]] = {
    "http_api": {"workload": "http_api"},
    "http_api_warm": {
        "workload": "http_api",
        "latency_sensitive": True,
        "provisioned_concurrency": 3,
    },
    "http_api_public": {"workload": "http_api", "api_auth": "none"},
    "webhook": {"workload": "webhook"},
    "webhook_warm": {"workload": "webhook", "latency_sensitive": True},
    "s3_events": {"workload": "s3_events"},
    "sqs_consumer": {"workload": "sqs_consumer", "max_duration_seconds": 45},
    "dynamodb_stream": {"workload": "dynamodb_stream"},
    "scheduled_job": {"workload": "scheduled_job"},
}
WORKLOADS = ("http_api", "webhook", "s3_events", "sqs_consumer", "dynamodb_stream", "scheduled_job")
#: Variants behind an HTTP API, and those kept warm with provisioned concurrency.
API_VARIANTS = [n for n, g in VARIANTS.items() if g["workload"] in ("http_api", "webhook")]
WARM_VARIANTS = [n for n in API_VARIANTS if VARIANTS[n].get("latency_sensitive")]
#: Variants with a dead-letter queue.
WITH_DLQ = ("s3_events", "sqs_consumer", "dynamodb_stream", "scheduled_job")
#: Free text with everything that breaks naive templating.
HOSTILE = (
    'Orders "API" \\ C:\\new\\table\nline two\r\n\ttabbed ${x} %{x} {{ x }} {% if %} '
    "!Ref X # not a comment 'single' ünïcødé 日本語 \u2028 emoji 🚀🔥 & <b>"
)
CODE_ZIP_LIMIT = 20 * 1024

Scans = dict[tuple[str, str], Future[Any]]


# --- Rendering and scanning, once per module ---------------------------------------------


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lambda")


@pytest.fixture(scope="module")
def projects(workdir: Path) -> dict[str, Path]:
    """Every variant, plus a hostile description (http_api) and plain copier (no record)."""
    template = plain_template(workdir / "template")
    rendered = {
        name: render(template, workdir / name, compute="lambda", **given)
        for name, given in VARIANTS.items()
    }
    rendered["hostile"] = render(
        template, workdir / "hostile", compute="lambda", workload="http_api", description=HOSTILE
    )
    rendered["plain"] = render_plain(
        template, workdir / "plain", compute="lambda", workload="scheduled_job"
    )
    return rendered


@pytest.fixture(scope="module")
def transformed(projects: dict[str, Path], workdir: Path) -> dict[str, Path]:
    """The template of each variant after the SAM transform (offline)."""
    return {name: write_transformed(projects[name], workdir / "sam" / name) for name in VARIANTS}


@pytest.fixture(scope="module")
def scans(
    workdir: Path, projects: dict[str, Path], transformed: dict[str, Path]
) -> Iterator[Scans]:
    """Every scanner on every variant, started at once; each test waits for its own.

    checkov runs once over the whole work folder (every template.yaml, and every
    template after the SAM transform).
    """
    with ThreadPoolExecutor(max_workers=3) as pool:
        jobs: Scans = {("checkov", "all"): pool.submit(checkov_cloudformation, workdir)}
        for name in VARIANTS:
            jobs["cfn-lint-sam", name] = pool.submit(cfn_lint, transformed[name])
        for name in [*VARIANTS, "hostile"]:
            jobs["cfn-lint", name] = pool.submit(cfn_lint, projects[name] / "template.yaml")
            jobs["pytest", name] = pool.submit(project_pytest, projects[name])
            jobs["bandit", name] = pool.submit(bandit, projects[name] / "src")
        yield jobs


@pytest.fixture(scope="module")
def checkov_results(
    scans: Scans, workdir: Path, projects: dict[str, Path], transformed: dict[str, Path]
) -> dict[tuple[str, str], CheckovReport]:
    """checkov's findings per variant: on template.yaml (``checkov``) and after the transform."""
    results: dict[str, CheckovReport] = scans["checkov", "all"].result()
    found = {}
    for name in VARIANTS:
        for kind, target in (
            ("checkov", projects[name] / "template.yaml"),
            ("checkov-sam", transformed[name]),
        ):
            key = target.relative_to(workdir).as_posix()
            assert key in results, f"checkov did not scan {key}; it scanned {sorted(results)}"
            found[kind, name] = results[key]
    return found


def given(name: str) -> dict[str, Any]:
    """The complete answers a variant was rendered with."""
    return answers_for(compute="lambda", **VARIANTS[name])


def template_of(projects: dict[str, Path], name: str) -> dict[str, Any]:
    return load_template(projects[name] / "template.yaml")


def function_of(template: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = template["Resources"]["Function"]["Properties"]
    return props


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def output(result: subprocess.CompletedProcess[str]) -> str:
    return (result.stdout + result.stderr)[-6000:]


# --- Scanners ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*VARIANTS, "hostile"])
def test_cfn_lint_reports_nothing(scans: Scans, name: str) -> None:
    result = scans["cfn-lint", name].result()
    assert (result.returncode, result.stdout.strip()) == (0, ""), output(result)


@pytest.mark.parametrize("name", VARIANTS)
def test_cfn_lint_reports_nothing_after_the_sam_transform(scans: Scans, name: str) -> None:
    result = scans["cfn-lint-sam", name].result()
    assert (result.returncode, result.stdout.strip()) == (0, ""), output(result)


@pytest.mark.parametrize("kind", ["checkov", "checkov-sam"])
@pytest.mark.parametrize("name", VARIANTS)
def test_checkov_finds_no_failed_check(
    checkov_results: dict[tuple[str, str], CheckovReport], name: str, kind: str
) -> None:
    report = checkov_results[kind, name]
    passed = report.passed_ids
    assert report.failed == [], "\n".join(report.failures())
    assert report.parsing_errors == []
    assert len(passed) >= 15, f"checkov ran only {sorted(passed)}"


def test_checkov_finds_nothing_in_any_template_it_scanned(scans: Scans) -> None:
    results: dict[str, CheckovReport] = scans["checkov", "all"].result()
    failures = [line for report in results.values() for line in report.failures()]
    assert failures == [], "\n".join(failures)
    assert "hostile/template.yaml" in results


@pytest.mark.parametrize("name", VARIANTS)
def test_every_skip_is_in_metadata_with_a_reason_and_documented(
    checkov_results: dict[tuple[str, str], CheckovReport], projects: dict[str, Path], name: str
) -> None:
    skips = metadata_skips(template_of(projects, name))
    security = (projects[name] / "docs" / "security.md").read_text(encoding="utf-8")
    assert ("CKV_AWS_117", "Function") in skips
    for (check_id, logical_id), reason in skips.items():
        assert len(reason) > 40, f"{check_id} on {logical_id}: {reason!r} is not a reason"
        rows = [line for line in security.splitlines() if check_id in line and reason in line]
        assert rows, f"docs/security.md lacks {check_id} ({logical_id}) with the reason {reason!r}"
    for kind in ("checkov", "checkov-sam"):
        report = checkov_results[kind, name]
        skipped = {(c["check_id"], c["resource"].split(".")[-1]) for c in report.skipped}
        assert skipped == set(skips), f"{kind} skipped {skipped}; the Metadata skips {set(skips)}"


@pytest.mark.parametrize("name", VARIANTS)
def test_security_doc_lists_every_check_checkov_runs(
    checkov_results: dict[tuple[str, str], CheckovReport], projects: dict[str, Path], name: str
) -> None:
    security = (projects[name] / "docs" / "security.md").read_text(encoding="utf-8")
    ran: set[str] = set()
    for kind in ("checkov", "checkov-sam"):
        report = checkov_results[kind, name]
        ran |= report.passed_ids | {c["check_id"] for c in report.skipped}
    missing = sorted(check for check in ran if check not in security)
    assert missing == [], f"docs/security.md does not mention {missing}"


@pytest.mark.parametrize("name", [*VARIANTS, "hostile"])
def test_bandit_reports_nothing_on_the_function_code(scans: Scans, name: str) -> None:
    report = scans["bandit", name].result()
    assert report["results"] == [], report["results"]
    assert report["errors"] == [], report["errors"]
    assert report["metrics"]["_totals"]["loc"] > 30, "bandit scanned no code"


@pytest.mark.parametrize("name", [*VARIANTS, "hostile"])
def test_ruff_is_clean_with_the_projects_own_config(projects: dict[str, Path], name: str) -> None:
    check = run(
        [tool("ruff"), "check", "--no-cache", "--output-format", "concise", "."], cwd=projects[name]
    )
    assert check.returncode == 0, output(check)
    fmt = run([tool("ruff"), "format", "--no-cache", "--check", "--diff", "."], cwd=projects[name])
    assert fmt.returncode == 0, output(fmt)


@pytest.mark.parametrize("name", [*VARIANTS, "hostile"])
def test_the_projects_own_tests_pass(scans: Scans, name: str) -> None:
    result = scans["pytest", name].result()
    assert result.returncode == 0, output(result)
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary, summary
    for word in ("skipped", "xfail", "warning", "error", "deselected"):
        assert word not in summary, summary


# --- Packaging and imports ---------------------------------------------------------------


@pytest.mark.parametrize("name", VARIANTS)
def test_the_code_zips_to_at_most_20_kb(projects: dict[str, Path], name: str) -> None:
    size = zipped_size(projects[name] / "src")
    assert 0 < size <= CODE_ZIP_LIMIT, f"src/ zips to {size} bytes"


@pytest.mark.parametrize("name", VARIANTS)
def test_the_handler_imports_only_the_standard_library_and_the_runtimes_boto3(
    projects: dict[str, Path], name: str
) -> None:
    """boto3 comes with the Lambda runtime; nothing else may be needed at import."""
    probe = (
        "import sys, types; sys.path.insert(0, 'src'); "
        "sys.modules['boto3'] = types.SimpleNamespace(client=lambda *a, **k: None); "
        "import app; assert callable(app.handler); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('botocore', 'requests', 'urllib3', 'yaml', 'pydantic')))"
    )
    env = {**os.environ, "WEBHOOK_SECRET_PARAMETER": "/demo-svc/webhook-secret"}
    result = run([sys.executable, "-I", "-B", "-c", probe], cwd=projects[name], env=env)
    assert result.returncode == 0, output(result)
    assert result.stdout.strip() == "[]", result.stdout
    assert not (projects[name] / "src" / "requirements.txt").exists()


# --- The shape of template.yaml ----------------------------------------------------------


@pytest.mark.parametrize("name", VARIANTS)
def test_the_function_follows_the_answers(projects: dict[str, Path], name: str) -> None:
    template = template_of(projects, name)
    answers = given(name)
    fn = function_of(template)
    assert template["Resources"]["Function"]["Type"] == "AWS::Serverless::Function"
    assert (fn["Runtime"], fn["Architectures"], fn["Tracing"]) == (
        "python3.13",
        ["arm64"],
        "Active",
    )
    assert fn["Timeout"] == answers["max_duration_seconds"]
    assert fn["MemorySize"] == answers["memory_mb"]
    assert fn["EphemeralStorage"] == {"Size": answers["ephemeral_storage_mb"]}
    assert fn["ReservedConcurrentExecutions"] == {
        "Fn::If": [
            "HasReservedConcurrency",
            {"Ref": "ReservedConcurrency"},
            {"Ref": "AWS::NoValue"},
        ]
    }
    assert template["Parameters"]["ReservedConcurrency"]["Type"] == "Number"
    assert fn["KmsKeyArn"] == {"Fn::GetAtt": ["Key", "Arn"]}


@pytest.mark.parametrize("name", VARIANTS)
def test_logs_are_json_retained_and_encrypted_with_a_rotated_key(
    projects: dict[str, Path], name: str
) -> None:
    template = template_of(projects, name)
    logging = function_of(template)["LoggingConfig"]
    assert logging["LogFormat"] == "JSON"
    log_group = template["Resources"][logging["LogGroup"]["Ref"]]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert log_group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["Key", "Arn"]}
    (key,) = of_type(template, "AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True


@pytest.mark.parametrize("name", VARIANTS)
def test_alarms_go_to_an_encrypted_topic(projects: dict[str, Path], name: str) -> None:
    template = template_of(projects, name)
    (topic,) = of_type(template, "AWS::SNS::Topic").values()
    assert topic["Properties"]["KmsMasterKeyId"] == {"Ref": "Key"}
    alarms = {
        alarm["Properties"]["MetricName"]: alarm["Properties"]
        for alarm in of_type(template, "AWS::CloudWatch::Alarm").values()
    }
    expected = {"Errors", "Throttles"}
    if VARIANTS[name]["workload"] in WITH_DLQ:
        expected.add("ApproximateNumberOfMessagesVisible")
        dlq = alarms["ApproximateNumberOfMessagesVisible"]["Dimensions"][0]["Value"]
        assert dlq == {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}
    assert set(alarms) == expected
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


@pytest.mark.parametrize("name", VARIANTS)
def test_permissions_are_scoped_to_the_projects_own_resources(
    transformed: dict[str, Path], name: str
) -> None:
    template = parse_structured(transformed[name])
    assert of_type(template, "AWS::IAM::Role"), "the transform should keep the explicit role"
    assert privilege_findings(template) == []


@pytest.mark.parametrize("name", API_VARIANTS)
def test_the_api_is_an_explicit_http_api_with_access_logs_and_throttling(
    projects: dict[str, Path], name: str
) -> None:
    template = template_of(projects, name)
    api = template["Resources"]["HttpApi"]
    assert api["Type"] == "AWS::Serverless::HttpApi"
    props = api["Properties"]
    assert props["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": ["AccessLogGroup", "Arn"]}
    assert props["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
    }
    for event in function_of(template)["Events"].values():
        assert event["Type"] == "HttpApi"
        assert event["Properties"]["ApiId"] == {"Ref": "HttpApi"}


def test_the_http_api_requires_a_jwt_by_default(projects: dict[str, Path]) -> None:
    template = template_of(projects, "http_api")
    auth = template["Resources"]["HttpApi"]["Properties"]["Auth"]
    assert auth["DefaultAuthorizer"] == "Jwt"
    assert auth["Authorizers"]["Jwt"]["JwtConfiguration"] == {
        "issuer": {"Ref": "JwtIssuer"},
        "audience": {"Ref": "JwtAudience"},
    }
    assert "Default" not in template["Parameters"]["JwtIssuer"]
    events = function_of(template)["Events"]
    assert events["Health"]["Properties"]["Auth"] == {"Authorizer": "NONE"}
    assert "Auth" not in events["Hello"]["Properties"]


def test_api_auth_none_renders_a_public_api_and_says_so(projects: dict[str, Path]) -> None:
    project = projects["http_api_public"]
    template = load_template(project / "template.yaml")
    assert "Auth" not in template["Resources"]["HttpApi"]["Properties"]
    assert "JwtIssuer" not in template["Parameters"]
    assert "The API is public" in (project / "README.md").read_text(encoding="utf-8")
    assert "No authorization" in (project / "docs" / "security.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", WARM_VARIANTS)
def test_latency_sensitive_apis_get_an_alias_with_provisioned_concurrency(
    projects: dict[str, Path], transformed: dict[str, Path], name: str
) -> None:
    template = template_of(projects, name)
    fn = function_of(template)
    assert fn["AutoPublishAlias"] == "live"
    assert fn["ProvisionedConcurrencyConfig"] == {
        "ProvisionedConcurrentExecutions": {"Ref": "ProvisionedConcurrency"}
    }
    count = given(name)["provisioned_concurrency"]
    assert template["Parameters"]["ProvisionedConcurrency"]["Default"] == count
    assert template["Parameters"]["ReservedConcurrency"]["Default"] > count
    expanded = parse_structured(transformed[name])
    permissions = of_type(expanded, "AWS::Lambda::Permission").values()
    assert {p["Properties"]["FunctionName"]["Ref"] for p in permissions} == {"FunctionAliaslive"}


@pytest.mark.parametrize("name", [n for n in VARIANTS if n not in WARM_VARIANTS])
def test_other_functions_keep_no_warm_environments(projects: dict[str, Path], name: str) -> None:
    template = template_of(projects, name)
    assert "AutoPublishAlias" not in function_of(template)
    assert "ProvisionedConcurrencyConfig" not in function_of(template)
    assert "ProvisionedConcurrency" not in template["Parameters"]


def test_the_webhook_reads_its_secret_from_parameter_store(projects: dict[str, Path]) -> None:
    template = template_of(projects, "webhook")
    env = function_of(template)["Environment"]["Variables"]
    assert env["WEBHOOK_SECRET_PARAMETER"] == {"Ref": "WebhookSecretParameterName"}
    assert env["IDEMPOTENCY_TABLE"] == {"Ref": "IdempotencyTable"}
    statements = template["Resources"]["FunctionRole"]["Properties"]["Policies"][0]
    (read,) = [
        s for s in statements["PolicyDocument"]["Statement"] if s["Sid"] == "ReadSigningSecret"
    ]
    assert read["Action"] == "ssm:GetParameter"
    assert "${WebhookSecretParameterName}" in read["Resource"]["Fn::Sub"]
    code = (projects["webhook"] / "src" / "signature.py").read_text(encoding="utf-8")
    assert "hmac.compare_digest" in code
    assert "hashlib.sha256" in code
    assert "tolerance_seconds" in code


#: Delivers events/delivery.json, then replays it with another X-Delivery-Id (as
#: someone who captured it could, within the tolerance); prints what was processed.
REPLAY_WITH_A_NEW_DELIVERY_ID = """
import json, sys
sys.path[:0] = ["src", "tests"]
import conftest  # its stand-in boto3: clients that refuse every call
import app
from fakes import Clock, FakeDynamoDB
from idempotency import Idempotency

event = json.load(open("events/delivery.json"))
now = int(event["headers"]["x-signature-timestamp"]) + 60
table, processed = FakeDynamoDB(), []
app.process = processed.append

def deliver(event):
    store = Idempotency("table", table, lock_seconds=30, clock=Clock(now))
    return app.handle(event, secrets=[b"test-secret"], store=store, now=now, tolerance_seconds=300)

answers = [deliver(event)]
event["headers"]["x-delivery-id"] = "0b9e6c1a-replayed-with-a-new-id"
answers.append(deliver(event))
print(json.dumps({"answers": answers, "processed": len(processed)}))
"""


def test_a_webhook_replayed_with_a_new_delivery_id_is_not_processed_again(
    projects: dict[str, Path],
) -> None:
    """The duplicate check keys on what the signature covers, not on an unsigned header."""
    result = run(
        [sys.executable, "-I", "-B", "-c", REPLAY_WITH_A_NEW_DELIVERY_ID], cwd=projects["webhook"]
    )
    assert result.returncode == 0, output(result)
    report = json.loads(result.stdout)
    first, replay = report["answers"]
    assert (first["statusCode"], json.loads(first["body"])) == (200, {"status": "processed"})
    assert json.loads(replay["body"]) != {"status": "processed"}, replay
    assert report["processed"] == 1
    signed = '"<timestamp>.<delivery id>.<raw body>"'
    assert signed in (projects["webhook"] / "README.md").read_text(encoding="utf-8")
    assert signed in (projects["webhook"] / "docs" / "security.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "name", ["webhook", "s3_events", "sqs_consumer", "dynamodb_stream", "scheduled_job"]
)
def test_consumers_record_processed_events_with_a_ttl(projects: dict[str, Path], name: str) -> None:
    template = template_of(projects, name)
    table = template["Resources"]["IdempotencyTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["SSESpecification"]["KMSMasterKeyId"] == {"Fn::GetAtt": ["Key", "Arn"]}
    code = (projects[name] / "src" / "idempotency.py").read_text(encoding="utf-8")
    assert "ConditionExpression=CLAIMABLE" in code
    assert "run_once" in (projects[name] / "src" / "app.py").read_text(encoding="utf-8")


def test_s3_events_come_from_a_locked_down_bucket(projects: dict[str, Path]) -> None:
    template = template_of(projects, "s3_events")
    bucket = template["Resources"]["EventBucket"]["Properties"]
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": ["Key", "Arn"]},
    }
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    policy = template["Resources"]["EventBucketPolicy"]["Properties"]["PolicyDocument"]
    (deny,) = policy["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    event = function_of(template)["Events"]["ObjectCreated"]
    assert event["Type"] == "S3"
    assert event["Properties"]["Bucket"] == {"Ref": "EventBucket"}
    assert function_of(template)["DeadLetterQueue"]["TargetArn"] == {
        "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
    }


def test_the_sqs_consumer_has_a_dlq_partial_batches_and_a_long_visibility_timeout(
    projects: dict[str, Path],
) -> None:
    template = template_of(projects, "sqs_consumer")
    queue = template["Resources"]["Queue"]["Properties"]
    assert queue["KmsMasterKeyId"] == {"Fn::GetAtt": ["Key", "Arn"]}
    assert queue["VisibilityTimeout"] == 6 * given("sqs_consumer")["max_duration_seconds"] == 270
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
    }
    assert template["Resources"]["DeadLetterQueue"]["Properties"]["KmsMasterKeyId"]
    event = function_of(template)["Events"]["Messages"]
    assert event["Type"] == "SQS"
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


#: ReservedConcurrency values to try: the parameter's own constraints pick the valid ones.
RESERVATIONS = range(-5, 3001)


def sqs_poller(template: dict[str, Any], reservation: int) -> tuple[Any, dict[str, Any]]:
    """(reserved concurrent executions, queue poller settings) for one ReservedConcurrency.

    Read from template.yaml (the function and its SQS event) or, after the SAM
    transform, from the function and its event source mapping.
    """
    parameters = {"ReservedConcurrency": reservation}
    resources = resolve(template["Resources"], template, parameters)
    fn = resources["Function"]["Properties"]
    mappings = [r for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    if mappings:
        (mapping,) = mappings
        return fn.get("ReservedConcurrentExecutions"), mapping["Properties"]
    return fn.get("ReservedConcurrentExecutions"), fn["Events"]["Messages"]["Properties"]


@pytest.mark.parametrize("stage", ["template.yaml", "transformed"])
def test_the_sqs_poller_never_invokes_more_batches_than_the_reservation_lets_run(
    projects: dict[str, Path], transformed: dict[str, Path], stage: str
) -> None:
    """Event source mappings ignore reserved concurrency: ScalingConfig must bound them.

    Otherwise a burst is throttled, and the throttled batches return to the queue and
    reach the dead-letter queue unprocessed after maxReceiveCount receives.
    """
    source = template_of(projects, "sqs_consumer")
    template = source if stage == "template.yaml" else parse_structured(transformed["sqs_consumer"])
    accepted = [r for r in RESERVATIONS if parameter_accepts(source, "ReservedConcurrency", r)]
    assert {-1, 0, 2, 10, 1000} <= set(accepted)
    assert source["Parameters"]["ReservedConcurrency"]["Default"] in accepted
    for reservation in accepted:
        reserved, poller = sqs_poller(template, reservation)
        if reservation == -1:
            assert reserved is None
        else:
            assert reserved == reservation
        if reservation == 0:
            # A stopped function would throttle every batch: the poller stops too.
            assert poller["Enabled"] is False, poller
            continue
        assert poller.get("Enabled", True) is True, (reservation, poller)
        maximum = poller.get("ScalingConfig", {}).get("MaximumConcurrency")
        assert isinstance(maximum, int), (reservation, poller)
        assert 2 <= maximum <= 1000, (reservation, maximum)
        if reserved is not None:
            assert maximum <= reserved, (reservation, maximum)
        else:
            # No reservation: the account's pool (10 in a new account) must hold it.
            planned = given("sqs_consumer")["capacity_plan"]["lambda"]
            assert maximum == planned["sqs_maximum_concurrency_unreserved"] <= 5, maximum


def test_the_sqs_consumer_documents_how_the_reservation_bounds_the_poller(
    projects: dict[str, Path],
) -> None:
    project = projects["sqs_consumer"]
    readme = (project / "README.md").read_text(encoding="utf-8")
    security = (project / "docs" / "security.md").read_text(encoding="utf-8")
    for doc in (readme, security):
        assert "MaximumConcurrency" in doc
        assert "`ReservedConcurrency`" in doc
    assert "`-1`" in readme
    assert "`0`" in readme
    template = template_of(projects, "sqs_consumer")
    description = template["Parameters"]["ReservedConcurrency"]["Description"]
    assert "poller" in description


def test_the_stream_consumer_bisects_retries_a_bounded_number_of_times_and_keeps_failures(
    projects: dict[str, Path],
) -> None:
    template = template_of(projects, "dynamodb_stream")
    table = template["Resources"]["Table"]["Properties"]
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["StreamSpecification"]["StreamViewType"]
    event = function_of(template)["Events"]["Changes"]["Properties"]
    assert event["Stream"] == {"Fn::GetAtt": ["Table", "StreamArn"]}
    assert event["BisectBatchOnFunctionError"] is True
    assert 0 <= event["MaximumRetryAttempts"] <= 10
    assert event["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
    }
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_the_scheduled_job_uses_eventbridge_scheduler_with_retries_and_a_dlq(
    projects: dict[str, Path],
) -> None:
    template = template_of(projects, "scheduled_job")
    (schedule,) = of_type(template, "AWS::Scheduler::Schedule").values()
    target = schedule["Properties"]["Target"]
    assert target["Arn"] == {"Fn::GetAtt": ["Function", "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
    assert "<aws.scheduler.scheduled-time>" in target["Input"]
    assert schedule["Properties"]["ScheduleExpression"] == {"Ref": "ScheduleExpression"}


# --- The other files -----------------------------------------------------------------------


@pytest.mark.parametrize("name", VARIANTS)
def test_every_handler_has_a_sample_event_its_tests_use(
    projects: dict[str, Path], name: str
) -> None:
    project = projects[name]
    events = sorted(p.name for p in (project / "events").glob("*.json"))
    assert events
    tests = "".join(p.read_text(encoding="utf-8") for p in (project / "tests").rglob("test_*.py"))
    for event in events:
        assert f'"{event}"' in tests, f"no test uses events/{event}"


@pytest.mark.parametrize("name", VARIANTS)
def test_every_sample_event_succeeds_as_make_invoke_sends_it(
    projects: dict[str, Path], name: str
) -> None:
    """A sample that its handler refuses (a stale signature) fails the project's tests."""
    project = projects[name]
    events = sorted(p.name for p in (project / "events").glob("*.json"))
    result = run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-k", "every_sample"],
        cwd=project,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        timeout=300,
    )
    assert result.returncode == 0, output(result)
    passed = re.findall(r"::test_\w+_every_sample_event\w*\[([\w.-]+)\] PASSED", result.stdout)
    assert sorted(passed) == events, output(result)
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert "make invoke" in readme
    # What `make invoke` runs (make -n: printed, not run; sam local invoke needs Docker).
    dry_run = run(["make", "-n", "invoke", "PYTHON=python3"], cwd=project, timeout=60)
    assert dry_run.returncode == 0, output(dry_run)
    commands = [line.strip() for line in dry_run.stdout.splitlines() if line.strip()]
    first = f"events/{events[0]}"
    if VARIANTS[name]["workload"] == "webhook":
        # Signed when sent: a stored signature is a replay once the tolerance has passed.
        sent = f"python3 events/sign.py {first} | sam local invoke Function --event -"
        assert "events/sign.py" in readme
    else:
        sent = f"sam local invoke Function --event {first}"
    assert commands == ["sam build", sent], commands


@pytest.mark.parametrize("name", VARIANTS)
def test_deploys_confirm_change_sets_and_the_makefile_has_every_target(
    projects: dict[str, Path], name: str
) -> None:
    project = projects[name]
    samconfig = tomllib.loads((project / "samconfig.toml").read_text(encoding="utf-8"))
    deploy = samconfig["default"]["deploy"]["parameters"]
    assert deploy["confirm_changeset"] is True
    assert samconfig["default"]["global"]["parameters"]["stack_name"] == "demo-svc"
    makefile = (project / "Makefile").read_text(encoding="utf-8")
    for target in ("test", "lint", "scan", "build", "deploy", "invoke"):
        assert f"\n{target}:" in makefile or f"\n{target}: " in makefile, target


@pytest.mark.parametrize("name", VARIANTS)
def test_ci_runs_every_check(projects: dict[str, Path], name: str) -> None:
    workflow = yaml.safe_load((projects[name] / ".github" / "workflows" / "ci.yml").read_text())
    commands = "\n".join(
        step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]
    )
    for command in (
        "python -m pytest",
        "ruff check",
        "ruff format --check",
        "cfn-lint template.yaml",
        "sam validate --lint",
        "checkov --file template.yaml",
        "bandit --recursive",
    ):
        assert command in commands, command
    assert workflow["permissions"] == {"contents": "read"}


def test_the_generated_pyproject_configures_ruff_and_pytest(projects: dict[str, Path]) -> None:
    pyproject = tomllib.loads((projects["http_api"] / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["description"] == given("http_api")["description"]
    assert pyproject["project"]["dependencies"] == []
    assert pyproject["tool"]["pytest"]["ini_options"]["pythonpath"] == ["src"]
    assert "S" in pyproject["tool"]["ruff"]["lint"]["select"]


def test_the_readme_explains_the_decision_and_the_cost(projects: dict[str, Path]) -> None:
    readme = (projects["sqs_consumer"] / "README.md").read_text(encoding="utf-8")
    record = given("sqs_consumer")["decision_record"]
    assert record["reasons"][0] in readme
    assert f"${record['monthly_usd']['lambda']:.2f} a month" in readme
    assert "sam deploy --guided" in readme
    assert "docs/security.md" in readme


@pytest.mark.parametrize("name", VARIANTS)
def test_the_readme_has_the_sections_both_kinds_of_project_share(
    projects: dict[str, Path], name: str
) -> None:
    project = projects[name]
    readme = (project / "README.md").read_text(encoding="utf-8")
    headings = [line for line in readme.splitlines() if line.startswith("## ")]
    for heading in (
        "## Why Lambda",
        "## What was generated",
        "## Develop",
        "## Deploy",
        "## What it costs",
        "## Security",
        "## Updating",
    ):
        assert heading in headings, f"{heading} missing from {headings}"
    updating = readme.split("## Updating", 1)[1]
    for words in ("scaffold update", "copier update", ".github/workflows/template-update.yml"):
        assert words in updating, words
    assert (project / ".github" / "workflows" / "template-update.yml").is_file()
    generated = readme.split("## What was generated", 1)[1].split("\n## ", 1)[0]
    shipped = [
        path.relative_to(project).as_posix()
        for path in sorted((project / ".github" / "workflows").iterdir())
    ]
    for path in [*shipped, ".copier-answers.yml"]:
        assert f"`{path}`" in generated, f"{path} missing from What was generated"


def test_the_readme_handles_a_project_rendered_without_a_decision_record(
    projects: dict[str, Path],
) -> None:
    readme = (projects["plain"] / "README.md").read_text(encoding="utf-8")
    assert "No recommendation was recorded" in readme
    assert "No estimate was recorded" in readme
    for leak in ("None", "{}", "Undefined", "$0.00"):
        assert leak not in readme


# --- Free text -----------------------------------------------------------------------------


def test_a_hostile_description_stays_intact_and_every_file_parses(
    projects: dict[str, Path], scans: Scans
) -> None:
    project = projects["hostile"]
    files = structured_files(project)
    assert {f.name for f in files} >= {
        "template.yaml",
        "pyproject.toml",
        "samconfig.toml",
        "ci.yml",
    }
    parsed = {f.relative_to(project).as_posix(): parse_structured(f) for f in files}
    template = parsed["template.yaml"]
    assert template["Description"] == HOSTILE
    assert function_of(template)["Description"] == HOSTILE
    assert template["Resources"]["HttpApi"]["Properties"]["Description"] == HOSTILE
    assert parsed["pyproject.toml"]["project"]["description"] == HOSTILE
    sam_transform(template)  # the transform accepts it too
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert "\n!Ref" not in readme
    description = paragraphs(readme)[1]  # after the title: shown as written, as plain text
    assert (description.markup, description.text) == (frozenset(), shown_as_text(HOSTILE))
    result = scans["cfn-lint", "hostile"].result()
    assert (result.returncode, result.stdout.strip()) == (0, ""), output(result)


# --- Benchmark -----------------------------------------------------------------------------


def test_the_start_benchmark_reports_every_handler() -> None:
    """benchmarks/lambda_start.py: init and first call per workload, clients at init only."""
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "lambda_start.py"), "--runs", "1"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 0, output(result)
    rows = {
        line.split()[0]: line.split()[1:] for line in result.stdout.splitlines() if line.split()
    }
    for workload in WORKLOADS:
        assert workload in rows, result.stdout
        clients, init, first, cold, warm = map(float, rows[workload])
        assert cold >= init >= 0, rows[workload]
        assert min(first, warm) >= 0, rows[workload]
        assert (clients == 0) == (workload == "http_api"), rows[workload]
