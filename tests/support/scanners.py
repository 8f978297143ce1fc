"""The real tools that judge a generated project, run as the project's CI would.

Each wrapper returns what the tool found, parsed from its machine-readable
output; a tool that crashes raises instead of passing silently.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CheckovReport:
    """What checkov found in one directory (all frameworks together)."""

    failed: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    passed: list[dict[str, Any]] = field(default_factory=list)
    parsing_errors: list[str] = field(default_factory=list)

    @property
    def passed_ids(self) -> frozenset[str]:
        """The ids of the checks that ran and passed."""
        return frozenset(check["check_id"] for check in self.passed)

    def failures(self) -> list[str]:
        """One line per failed check, for assertion messages."""
        return [
            f"{c['check_id']} {c['resource']} {c['file_path']}: {c['check_name']}"
            for c in self.failed
        ]


def checkov_bin() -> str:
    """checkov lives in its own virtual environment (see scripts/test.sh)."""
    candidate = os.environ.get("CHECKOV_BIN") or str(REPO / ".venv-checkov" / "bin" / "checkov")
    if not Path(candidate).is_file():
        raise RuntimeError(
            f"checkov not found at {candidate}: run `bash scripts/test.sh` or set CHECKOV_BIN"
        )
    return candidate


def checkov_reports(target: Path, frameworks: list[str], *, file: bool = False) -> list[Any]:
    """Run checkov offline on a directory (or one file); its JSON reports, one per framework."""
    cmd = [checkov_bin(), "-f" if file else "-d", str(target), "--framework", *frameworks]
    cmd += ["--skip-download", "--output", "json", "--compact"]
    env = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=900)
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError:  # a crash exits 1 like failed checks: the JSON tells them apart
        output = f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
        raise RuntimeError(f"checkov crashed (exit {proc.returncode}):\n{output}") from None
    return data if isinstance(data, list) else [data]


def checkov(target: Path, frameworks: list[str], *, file: bool = False) -> CheckovReport:
    """Scan a directory (or one file) offline; every framework's findings together."""
    report = CheckovReport()
    for part in checkov_reports(target, frameworks, file=file):
        if "results" not in part:  # an empty scan prints a bare summary
            continue
        results = part["results"]
        report.failed.extend(results.get("failed_checks", []))
        report.skipped.extend(results.get("skipped_checks", []))
        report.passed.extend(results.get("passed_checks", []))
        report.parsing_errors.extend(results.get("parsing_errors", []))
    return report


def run(cmd: list[str], cwd: Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a tool and capture its output (never raises on a non-zero exit)."""
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False, **kwargs)


def tool(name: str) -> str:
    """A console script installed beside this Python (the test venv)."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.is_file() else shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed: run `bash scripts/test.sh`")
    return found


def cfn_lint(template: Path) -> subprocess.CompletedProcess[str]:
    """cfn-lint on one template; exit 0 and no output means nothing found."""
    return run([tool("cfn-lint"), "--format", "parseable", str(template)], cwd=template.parent)


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    """hadolint on one Dockerfile, failing on every rule level."""
    return run(
        [tool("hadolint"), "--no-color", "--failure-threshold", "style", str(dockerfile)],
        cwd=dockerfile.parent,
    )


def bandit(path: Path) -> dict[str, Any]:
    """bandit over a folder; returns its JSON report (check ``results``)."""
    proc = run([tool("bandit"), "-r", "-q", "-f", "json", str(path)], cwd=path)
    try:
        report: dict[str, Any] = json.loads(proc.stdout)
        return report
    except json.JSONDecodeError:
        raise RuntimeError(f"bandit crashed:\n{proc.stdout}\n{proc.stderr}") from None


def ruff(path: Path) -> subprocess.CompletedProcess[str]:
    """ruff check with the generated project's own configuration."""
    return run([tool("ruff"), "check", "--no-cache", "."], cwd=path)


def project_pytest(path: Path) -> subprocess.CompletedProcess[str]:
    """The generated project's own test suite, offline, with this Python."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "AWS_DEFAULT_REGION": "us-east-1"}
    env.pop("PYTEST_ADDOPTS", None)
    return run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=path,
        env=env,
        timeout=600,
    )
