"""IAM policies checked against AWS's own action catalogue, offline (policy_sentry).

Why policy_sentry rather than parliament: both ship an offline copy of AWS's
Service Authorization Reference (every action, the resource types it supports and
their ARN formats), but policy_sentry refreshes its copy with every release (0.15.2,
2026) and exposes the two look-ups this check needs (an action's resource ARN
formats; the service's action list), while parliament's last release (1.6.4, 2025)
lags its own catalogue updates by months and would call newer actions unknown.

A finding is one line: an action AWS does not know (a typo, a renamed action), or an
action on a resource it does not support (the statement grants nothing there, as
``dynamodb:ListStreams`` on a stream ARN: that action supports only ``*``).
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Iterator
from typing import Any

from policy_sentry.querying.actions import get_action_data
from policy_sentry.shared.iam_data import get_service_prefix_data

#: Where a policy document can sit in a Terraform resource's attributes.
POLICY_KEYS = frozenset({"policy", "assume_role_policy", "policy_document", "access_policies"})


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@functools.cache
def _service_actions(prefix: str) -> tuple[str, ...]:
    data = get_service_prefix_data(prefix)
    if not data:
        return ()
    return tuple(f"{prefix}:{name}".lower() for name in data.get("privileges", {}))


@functools.cache
def _arn_formats(action: str) -> frozenset[str] | None:
    """The raw ARN formats ``action`` accepts (``{"*"}``: no resource type); None if unknown."""
    prefix, _, name = action.partition(":")
    prefix = prefix.lower()  # IAM reads action names case-insensitively ("SNS:Publish")
    data = get_action_data(prefix, name)
    if not data or not data.get(prefix):
        return None
    return frozenset(entry["resource_arn_format"] for entry in data[prefix])


def _expand(action: str) -> list[str]:
    """The known actions an action pattern (``kms:Encrypt*``, ``s3:*``) stands for."""
    prefix = action.partition(":")[0].lower()
    return [a for a in _service_actions(prefix) if fnmatch.fnmatchcase(a, action.lower())]


def _patterns_overlap(left: str, right: str) -> bool:
    """Whether some string matches both patterns (``*`` matches any run of characters)."""

    @functools.cache
    def step(i: int, j: int) -> bool:
        if i == len(left) and j == len(right):
            return True
        if i < len(left) and left[i] == "*":
            return step(i + 1, j) or (j < len(right) and step(i, j + 1))
        if j < len(right) and right[j] == "*":
            return step(i, j + 1) or (i < len(left) and step(i + 1, j))
        return i < len(left) and j < len(right) and left[i] == right[j] and step(i + 1, j + 1)

    return step(0, 0)


def _resource_matches(resource: str, formats: frozenset[str]) -> bool:
    """Whether a policy's resource (IAM wildcards ``*``/``?``) can name a resource of
    one of the ARN formats (``${Variable}`` stands for any name).

    An overlap test rather than policy_sentry's own ARN matcher: that one reads a
    policy's ``*`` literally, so ``log-group:NAME:*`` (which IAM matches against the
    group's ``log-group:NAME:log-stream:S`` ARNs) would look like a mismatch.
    """
    if resource == "*":
        return True
    if formats == frozenset({"*"}):
        return False
    pattern = resource.replace("?", "*")
    return any(_patterns_overlap(pattern, re.sub(r"\$\{[^}]+\}", "*", raw)) for raw in formats)


def statement_findings(statement: dict[str, Any], where: str) -> list[str]:
    """What is wrong with one statement: unknown actions, actions on unsupported resources."""
    findings = []
    actions = _as_list(statement.get("Action", statement.get("NotAction", [])))
    resources = _as_list(statement.get("Resource", statement.get("NotResource", "*")))
    for action in actions:
        if not isinstance(action, str) or ":" not in action:
            if action != "*":
                findings.append(f"{where}: {action!r} is not an action")
            continue
        known = _expand(action) if "*" in action or "?" in action else [action.lower()]
        formats = [_arn_formats(name) for name in known]
        if not known or any(f is None for f in formats):
            findings.append(f"{where}: {action} is not an action AWS knows")
            continue
        if "NotResource" in statement or "NotAction" in statement:
            continue
        for resource in resources:
            if not isinstance(resource, str):
                findings.append(f"{where}: {action} on an unresolved resource {resource!r}")
            elif not any(_resource_matches(resource, f) for f in formats if f is not None):
                supported = sorted(set().union(*(f for f in formats if f is not None)))
                findings.append(
                    f"{where}: {action} does not apply to {resource} (it supports {supported})"
                )
    return findings


def document_findings(document: dict[str, Any], where: str) -> list[str]:
    """Findings for every statement of a policy document."""
    findings = []
    for index, statement in enumerate(_as_list(document.get("Statement", []))):
        label = f"{where} statement {statement.get('Sid') or index}"
        findings += statement_findings(statement, label)
    return findings


def _as_document(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    if isinstance(value, dict) and "Statement" in value:
        return value
    return None


def policy_documents(values: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every policy document in parsed data: JSON strings under a policy key, and dicts.

    Works on a Terraform state's resource ``values`` and on a CloudFormation
    resource's ``Properties`` alike.
    """
    if isinstance(values, dict):
        document = _as_document(values)
        if document is not None:
            yield path, document
            return
        for key, value in values.items():
            here = f"{path}.{key}" if path else str(key)
            if key in POLICY_KEYS:
                document = _as_document(value)
                if document is not None:
                    yield here, document
                    continue
            yield from policy_documents(value, here)
    elif isinstance(values, list):
        for index, value in enumerate(values):
            yield from policy_documents(value, f"{path}[{index}]")


def terraform_state_findings(state: dict[str, Any]) -> tuple[int, list[str]]:
    """Lint every policy in ``terraform show -json`` output; (policies seen, findings)."""
    seen, findings = 0, []
    modules = [state.get("values", {}).get("root_module", {})]
    while modules:
        module = modules.pop()
        modules.extend(module.get("child_modules", []))
        for resource in module.get("resources", []):
            if resource.get("mode") != "managed":
                continue
            for path, document in policy_documents(resource.get("values", {})):
                seen += 1
                findings += document_findings(document, f"{resource['address']} {path}")
    return seen, findings
