"""Helpers for the Lambda project tests: offline SAM transform, skips, IAM, packaging."""

from __future__ import annotations

import copy
import io
import json
import re
import tomllib
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml
from copier import run_copy
from samtranslator.metrics.metrics import DummyMetricsPublisher, Metrics
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.utils.py27hash_fix import (
    to_py27_compatible_template,
    undo_mark_unicode_str_in_template,
)
from samtranslator.yaml_helper import intrinsics_multi_constructor

from support.render import answers_for
from support.scanners import CheckovReport, checkov_reports

#: Where `sam package` would have uploaded the code; the transform needs an S3 URI.
PACKAGED_CODE_URI = "s3://packaged-artifacts/code.zip"

#: Actions that have no resource-level permissions, so only ``"Resource": "*"`` works
#: (AWS's Service Authorization Reference; test_lambda_deploy checks them with its catalogue).
UNSCOPABLE_ACTIONS = frozenset(
    {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "dynamodb:ListStreams"}
)


class CfnLoader(yaml.SafeLoader):
    """A YAML loader that reads CloudFormation short-form intrinsics (``!Ref``, ``!Sub``...)."""


CfnLoader.add_multi_constructor("!", intrinsics_multi_constructor)


def load_template(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation/SAM template (YAML with intrinsic tags) into plain data."""
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(data, dict):
        raise TypeError(f"{path} is not a template")
    return data


def render_plain(template: Path, dest: Path, **given: Any) -> Path:
    """Render as plain ``copier copy`` does: the same answers, no decision record."""
    answers = answers_for(**given)
    answers["decision_record"] = {}
    run_copy(str(template), dest, data=answers, defaults=True, quiet=True)
    return dest


class StubPolicyLoader:
    """Stands in for the IAM call that maps managed-policy names to ARNs (offline)."""

    def load(self) -> dict[str, str]:
        """No managed policies: the template attaches none."""
        return {}


def sam_transform(template: dict[str, Any], region: str = "us-east-1") -> dict[str, Any]:
    """The template as CloudFormation expands it, computed offline with aws-sam-translator.

    What ``samtranslator.translator.transform.transform`` does, with the region given
    instead of looked up, the IAM lookup stubbed and the code "packaged" (the
    transform wants an S3 URI where ``sam package`` would have put one).
    """
    packaged = copy.deepcopy(template)
    for resource in packaged.get("Resources", {}).values():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(
            props.get("CodeUri"), str
        ):
            props["CodeUri"] = PACKAGED_CODE_URI
    params: dict[str, Any] = {}
    to_py27_compatible_template(packaged, params)
    metrics = Metrics("ServerlessTransform", DummyMetricsPublisher())
    # The translator reads only the session's region_name (no AWS call).
    session = SimpleNamespace(region_name=region)
    translator = Translator(None, Parser(), boto_session=session, metrics=metrics)
    translated = translator.translate(
        packaged, parameter_values=params, get_managed_policy_map=StubPolicyLoader().load
    )
    metrics.publish()
    return undo_mark_unicode_str_in_template(translated)


def write_transformed(project: Path, dest: Path) -> Path:
    """Write the transformed template of ``project`` to ``dest/template.json``."""
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / "template.json"
    transformed = sam_transform(load_template(project / "template.yaml"))
    out.write_text(json.dumps(transformed, indent=2), encoding="utf-8")
    return out


def metadata_skips(template: dict[str, Any]) -> dict[tuple[str, str], str]:
    """``{(check id, logical id): reason}`` for every checkov skip in resource Metadata."""
    skips: dict[tuple[str, str], str] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            skips[(skip["id"], logical_id)] = skip.get("comment", "")
    return skips


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def allow_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(logical id, statement)`` for every Allow statement of the IAM roles and policies."""
    for logical_id, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        documents = []
        if resource.get("Type") == "AWS::IAM::Role":
            documents = [policy["PolicyDocument"] for policy in props.get("Policies", [])]
        elif resource.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents = [props["PolicyDocument"]]
        for document in documents:
            for statement in _as_list(document["Statement"]):
                if statement.get("Effect") == "Allow":
                    yield logical_id, statement


def privilege_findings(template: dict[str, Any]) -> list[str]:
    """IAM grants broader than needed: wildcard actions, ``*`` resources, managed policies."""
    findings = []
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Properties", {}).get("ManagedPolicyArns"):
            findings.append(f"{logical_id}: managed policies attached")
    for logical_id, statement in allow_statements(template):
        actions = _as_list(statement.get("Action", []))
        resources = _as_list(statement.get("Resource", []))
        for action in actions:
            if not isinstance(action, str) or action == "*" or action.endswith(":*"):
                findings.append(f"{logical_id} {statement.get('Sid')}: wildcard action {action}")
        if "*" in resources and not set(actions) <= UNSCOPABLE_ACTIONS:
            findings.append(f"{logical_id} {statement.get('Sid')}: {actions} on every resource")
    return findings


class NoValue:
    """What ``!Ref AWS::NoValue`` resolves to: the property is left out."""


def resolve(node: Any, template: dict[str, Any], parameters: dict[str, Any]) -> Any:
    """``node`` with parameters and conditions evaluated as CloudFormation would.

    Handles ``Ref`` to a parameter or ``AWS::NoValue``, ``Fn::If``, ``Fn::Equals``,
    ``Fn::Not``, ``Fn::And``, ``Fn::Or`` and ``Condition``; properties that resolve to
    ``AWS::NoValue`` are dropped, every other intrinsic is kept as written.
    """

    def ref(name: str) -> Any:
        if name == "AWS::NoValue":
            return NoValue()
        return parameters.get(name, {"Ref": name})

    def if_(arg: list[Any]) -> Any:
        condition, then, otherwise = arg
        return walk(then if walk(template["Conditions"][condition]) else otherwise)

    intrinsics: dict[str, Callable[[Any], Any]] = {
        "Ref": ref,
        "Condition": lambda name: walk(template["Conditions"][name]),
        "Fn::If": if_,
        "Fn::Equals": lambda arg: str(walk(arg[0])) == str(walk(arg[1])),
        "Fn::Not": lambda arg: not walk(arg[0]),
        "Fn::And": lambda arg: all(walk(part) for part in arg),
        "Fn::Or": lambda arg: any(walk(part) for part in arg),
    }

    def walk(value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in map(walk, value) if not isinstance(item, NoValue)]
        if not isinstance(value, dict):
            return value
        if len(value) == 1 and next(iter(value)) in intrinsics:
            ((key, arg),) = value.items()
            return intrinsics[key](arg)
        items = {key: walk(item) for key, item in value.items()}
        return {key: item for key, item in items.items() if not isinstance(item, NoValue)}

    return walk(node)


def parameter_accepts(template: dict[str, Any], name: str, value: int) -> bool:
    """Would CloudFormation accept ``value`` for the Number parameter ``name``?

    Checks its MinValue, MaxValue and AllowedValues, and the assertions of every rule
    that applies (with the other parameters at their defaults).
    """
    spec = template["Parameters"][name]
    if value < spec.get("MinValue", value) or value > spec.get("MaxValue", value):
        return False
    if "AllowedValues" in spec and value not in spec["AllowedValues"]:
        return False
    parameters = {
        key: param["Default"] for key, param in template["Parameters"].items() if "Default" in param
    }
    parameters[name] = value
    return all(
        resolve(assertion["Assert"], template, parameters)
        for rule in template.get("Rules", {}).values()
        if resolve(rule.get("RuleCondition", True), template, parameters)
        for assertion in rule["Assertions"]
    )


#: One checkov result per file: the report, and the ids of the checks that passed
#: (CheckovReport keeps only their number).
def checkov_cloudformation(root: Path) -> dict[str, CheckovReport]:
    """checkov over every CloudFormation template under ``root``, split per file.

    One run for all the templates: checkov's start-up costs more than scanning one
    template. Same flags as ``scanners.checkov``. Keys are paths relative to ``root``;
    every report carries the run's parsing errors.
    """
    data = checkov_reports(root, ["cloudformation"])
    checks: dict[str, dict[str, list[dict[str, Any]]]] = {}
    parsing_errors: list[str] = []
    for part in data:
        results = part.get("results", {})  # an empty scan prints a bare summary
        parsing_errors += results.get("parsing_errors", [])
        for outcome in ("passed", "failed", "skipped"):
            for check in results.get(f"{outcome}_checks", []):
                found = checks.setdefault(check["file_path"].lstrip("/"), {})
                found.setdefault(outcome, []).append(check)
    return {
        path: CheckovReport(
            failed=found.get("failed", []),
            skipped=found.get("skipped", []),
            passed=found.get("passed", []),
            parsing_errors=parsing_errors,
        )
        for path, found in checks.items()
    }


def zipped_size(directory: Path) -> int:
    """Bytes of ``directory`` zipped (deflate) as a Lambda deployment package."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(directory).as_posix())
    return len(buffer.getvalue())


def parse_structured(path: Path) -> Any:
    """Parse a YAML, JSON or TOML file of a rendered project (raises if it does not parse)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yml", ".yaml"):
        return yaml.load(text, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    if path.suffix == ".json":
        return json.loads(text)
    if path.suffix == ".toml":
        return tomllib.loads(text)
    raise ValueError(f"no parser for {path}")


def structured_files(project: Path) -> list[Path]:
    """Every YAML, JSON and TOML file of a rendered project."""
    return sorted(
        path
        for path in project.rglob("*")
        if path.is_file() and path.suffix in (".yml", ".yaml", ".json", ".toml")
    )


# --- Intrinsics resolved to the values CloudFormation would produce (for the IAM linter) ---

ACCOUNT_ID = "123456789012"
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::StackName": "demo-svc",
    "AWS::URLSuffix": "amazonaws.com",
}
#: ``Fn::GetAtt X.Arn`` by X's type; ``{id}`` is the physical name CloudFormation makes.
_ARNS = {
    "AWS::KMS::Key": "arn:aws:kms:us-east-1:{account}:key/0a1b2c3d-{id}",
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:us-east-1:{account}:table/{id}",
    "AWS::SQS::Queue": "arn:aws:sqs:us-east-1:{account}:{id}",
    "AWS::S3::Bucket": "arn:aws:s3:::{lower}",
    "AWS::Lambda::Function": "arn:aws:lambda:us-east-1:{account}:function:{id}",
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{id}",
    "AWS::SNS::Topic": "arn:aws:sns:us-east-1:{account}:{id}",
    "AWS::Serverless::Function": "arn:aws:lambda:us-east-1:{account}:function:{id}",
}


def resolve_values(template: dict[str, Any], node: Any) -> Any:
    """``node`` with every intrinsic a policy uses turned into the value it stands for.

    Conditions and ``Fn::If`` are evaluated with the parameters' defaults (see
    :func:`resolve`); ``Ref``, ``Fn::GetAtt``, ``Fn::Sub`` and ``Fn::Join`` become the
    names and ARNs CloudFormation would produce for stack ``demo-svc`` in us-east-1.
    An intrinsic it cannot resolve is left in place (the linter reports it).
    """
    resolver = _Resolver(template)
    return resolver.value(resolve(node, template, dict(resolver.parameters)))


class _Resolver:
    """The physical names and ARNs of one template's resources (see resolve_values)."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.parameters = {
            key: spec.get("Default", f"{key.lower()}-value")
            for key, spec in template.get("Parameters", {}).items()
        }
        self.resources: dict[str, Any] = template.get("Resources", {})
        self.physical = {name: f"demo-svc-{name}-ABC123" for name in self.resources}

    def attribute(self, name: str, attr: str) -> Any:
        kind = self.resources.get(name, {}).get("Type", "")
        props = self.resources.get(name, {}).get("Properties", {})
        special = {
            ("AWS::Logs::LogGroup", "Arn"): lambda: (
                f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:"
                f"{self.value(props.get('LogGroupName', self.physical[name]))}:*"
            ),
            ("AWS::DynamoDB::Table", "StreamArn"): lambda: (
                self.attribute(name, "Arn") + "/stream/2026-01-01T00:00:00.000"
            ),
            ("AWS::SQS::Queue", "QueueName"): lambda: self.physical[name],
        }
        if (kind, attr) in special:
            return special[kind, attr]()
        if attr == "Arn" and kind in _ARNS:
            physical = self.physical[name]
            return _ARNS[kind].format(account=ACCOUNT_ID, id=physical, lower=physical.lower())
        return {"Fn::GetAtt": [name, attr]}

    def ref(self, name: str) -> Any:
        kind = self.resources.get(name, {}).get("Type", "")
        if name in PSEUDO or name in self.parameters:
            found = PSEUDO.get(name, self.parameters.get(name))
        elif kind == "AWS::SNS::Topic":
            found = self.attribute(name, "Arn")
        elif kind == "AWS::SQS::Queue":
            found = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT_ID}/{self.physical[name]}"
        elif kind == "AWS::S3::Bucket":
            found = self.physical[name].lower()
        else:
            found = self.physical.get(name, {"Ref": name})
        return found

    def sub(self, arg: Any) -> Any:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.value(arg[1]))

        def one(match: re.Match[str]) -> str:
            key = match[1]
            if key in variables:
                return str(variables[key])
            found = self.attribute(*key.split(".", 1)) if "." in key else self.ref(key)
            return found if isinstance(found, str) else match[0]

        return re.sub(r"\$\{([^}!][^}]*)\}", one, text)

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.value(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            intrinsics: dict[str, Callable[[Any], Any]] = {
                "Ref": self.ref,
                "Fn::GetAtt": lambda a: self.attribute(
                    *(a if isinstance(a, list) else a.split(".", 1))
                ),
                "Fn::Sub": self.sub,
                "Fn::Join": lambda a: str(a[0]).join(str(p) for p in self.value(a[1])),
            }
            if key in intrinsics:
                return intrinsics[key](arg)
        return {key: self.value(item) for key, item in node.items()}
