"""The real ``terraform`` with the real AWS provider, offline: init, validate, test, plan.

Terraform never downloads anything here. A CLI configuration file points it at a
*filesystem mirror* of the AWS provider (a folder laid out as
``registry.terraform.io/hashicorp/aws/<version>/<os_arch>/``) and forbids direct
installs of it; ``TF_PLUGIN_CACHE_DIR`` makes each ``init`` link the 675 MB provider
instead of copying it (Terraform then links the cache entry to the mirror, so
nothing is copied at all).

Where no ``terraform`` binary or no mirrored provider exists, :func:`find_terraform`
says why in one line; the tests skip with that reason, or fail when ``CI=true``
(``.ci/run`` sets it), so a CI machine that lost a tool cannot pass quietly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Where this kind of machine keeps a copy of providers for offline use; the first
#: folder holding the AWS provider wins. ``TF_PROVIDER_MIRROR`` overrides the list.
#: The last two are Terraform's own implicit local mirror folders on Linux.
MIRROR_CANDIDATES = (
    "/opt/tf-plugins",
    "~/.terraform.d/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
)
AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"
#: Each init, validate, test or plan gets this long before it counts as hung (seconds).
COMMAND_TIMEOUT = 600

_CLI_CONFIG = """\
# Written by the test harness: install the AWS provider only from the mirror.
provider_installation {{
  filesystem_mirror {{
    path    = {mirror}
    include = ["{provider}"]
  }}
  direct {{
    exclude = ["{provider}"]
  }}
}}
plugin_cache_dir = {cache}
# Without a lock file Terraform would copy from the mirror instead of linking the
# cache (Terraform >= 1.4); the generated projects ship no lock file.
plugin_cache_may_break_dependency_lock_file = true
"""


def ci() -> bool:
    """True when running in CI (``CI=true``): missing tools fail instead of skipping."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@dataclass(frozen=True, slots=True)
class TerraformTool:
    """A ``terraform`` binary and the mirrored AWS provider it is configured to use."""

    binary: Path
    """The terraform executable."""
    mirror: Path
    """The filesystem mirror holding the AWS provider."""
    provider_version: str
    """The AWS provider version in the mirror (the newest, when there are several)."""
    workdir: Path
    """Holds the CLI configuration file and the plugin cache."""

    @property
    def cli_config(self) -> Path:
        """The CLI configuration file (``TF_CLI_CONFIG_FILE``)."""
        return self.workdir / "terraform.rc"

    @property
    def plugin_cache(self) -> Path:
        """The plugin cache folder (``TF_PLUGIN_CACHE_DIR``)."""
        return self.workdir / "plugin-cache"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment every terraform command runs with (offline, no prompts)."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("TF_", "AWS_")) or key == "AWS_CA_BUNDLE"
        }
        env.update(
            TF_CLI_CONFIG_FILE=str(self.cli_config),
            TF_PLUGIN_CACHE_DIR=str(self.plugin_cache),
            TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE="true",
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            CHECKPOINT_DISABLE="1",
        )
        env.update(extra or {})
        return env

    def run(
        self,
        args: list[str],
        cwd: Path,
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = COMMAND_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``terraform ARGS`` in ``cwd``; never raises on a non-zero exit.

        A command that outlives ``timeout`` is reported as exit 124 with what it had
        printed, like coreutils' ``timeout``.
        """
        cmd = [str(self.binary), *args]
        try:
            return subprocess.run(
                cmd,
                cwd=cwd,
                env=self.env(env),
                capture_output=True,
                text=True,
                check=False,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as expired:
            out = _text(expired.stdout) + _text(expired.stderr)
            return subprocess.CompletedProcess(cmd, 124, out, f"timed out after {timeout:.0f} s")

    def init(self, folder: Path, *, env: Mapping[str, str] | None = None) -> None:
        """``terraform init -backend=false`` (the generated CI's validation init)."""
        proc = self.run(["init", "-backend=false", "-input=false", "-no-color"], folder, env=env)
        _check(proc, f"terraform init in {folder}")

    def validate(self, folder: Path) -> dict[str, Any]:
        """``terraform validate -json``: its report (``valid``, ``diagnostics``)."""
        proc = self.run(["validate", "-json", "-no-color"], folder)
        try:
            report: dict[str, Any] = json.loads(proc.stdout)
        except json.JSONDecodeError:
            raise RuntimeError(f"terraform validate crashed:\n{output(proc)}") from None
        return report

    def test(self, folder: Path, *, filter_files: list[str] | None = None) -> TestReport:
        """``terraform test`` (its ``*.tftest.hcl`` files, offline with their mocks)."""
        args = ["test", "-no-color", "-json"]
        for name in filter_files or []:
            args.append(f"-filter={name}")
        proc = self.run(args, folder)
        return TestReport.parse(proc)

    def show_json(self, folder: Path, plan: str | None = None) -> dict[str, Any]:
        """``terraform show -json [PLAN]``: the state (or a saved plan) as data."""
        proc = self.run(["show", "-json", "-no-color", *([plan] if plan else [])], folder)
        _check(proc, f"terraform show in {folder}")
        data: dict[str, Any] = json.loads(proc.stdout)
        return data


@dataclass(frozen=True, slots=True)
class TestReport:
    """What one ``terraform test -json`` run reported."""

    returncode: int
    summary: dict[str, Any]
    """The ``test_summary`` message (``status``, ``passed``, ``failed``, ``errored``...)."""
    failures: list[str]
    """One line per failed or errored run, with its diagnostics."""
    raw: str

    @classmethod
    def parse(cls, proc: subprocess.CompletedProcess[str]) -> TestReport:
        """Read the JSON lines ``terraform test -json`` prints."""
        summary: dict[str, Any] = {}
        failures: list[str] = []
        for line in proc.stdout.splitlines():
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue
            if message.get("type") == "test_summary":
                summary = message.get("test_summary", {})
            elif message.get("type") == "test_run" and message.get("test_run", {}).get(
                "status"
            ) in ("fail", "error"):
                failures.append(f"{message.get('@testfile')}: {message['test_run']}")
            elif message.get("@level") == "error":
                detail = message.get("diagnostic", {}).get("detail", "")
                failures.append(f"{message.get('@message')}: {detail}".rstrip(": "))
        return cls(proc.returncode, summary, failures, output(proc))


def output(proc: subprocess.CompletedProcess[str], limit: int = 8000) -> str:
    """The end of what a command printed, for assertion messages."""
    return (proc.stdout + "\n" + proc.stderr)[-limit:]


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else value.decode(errors="replace")


def _check(proc: subprocess.CompletedProcess[str], what: str) -> None:
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}):\n{output(proc)}")


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def mirrored_aws_versions(mirror: Path) -> list[str]:
    """AWS provider versions in ``mirror`` with a build for this machine, oldest first."""
    platform = f"linux_{'arm64' if os.uname().machine in ('aarch64', 'arm64') else 'amd64'}"
    found = [
        folder.name
        for folder in (mirror / AWS_PROVIDER).glob("*")
        if any((folder / platform).glob("terraform-provider-aws*"))
    ]
    return sorted(found, key=_version_key)


def _find_mirror() -> tuple[Path, str] | str:
    override = os.environ.get("TF_PROVIDER_MIRROR")
    candidates = [override] if override else list(MIRROR_CANDIDATES)
    for candidate in candidates:
        mirror = Path(candidate).expanduser()
        versions = mirrored_aws_versions(mirror)
        if versions:
            return mirror, versions[-1]
    where = ", ".join(candidates)
    return f"no AWS provider mirrored for offline use (looked in {where}; set TF_PROVIDER_MIRROR)"


_TOOL: TerraformTool | str | None = None


def find_terraform() -> TerraformTool | str:
    """The terraform tool, configured once per test session, or why there is none."""
    global _TOOL  # noqa: PLW0603 - one CLI config and plugin cache per test session
    if _TOOL is None:
        _TOOL = _configure()
    return _TOOL


def _configure() -> TerraformTool | str:
    binary = shutil.which("terraform")
    if binary is None:
        return "terraform is not installed"
    mirror = _find_mirror()
    if isinstance(mirror, str):
        return mirror
    folder, version = mirror
    workdir = Path(tempfile.mkdtemp(prefix="terraform-harness-"))
    tool = TerraformTool(Path(binary), folder, version, workdir)
    tool.plugin_cache.mkdir()
    tool.cli_config.write_text(
        _CLI_CONFIG.format(
            mirror=json.dumps(str(folder)),
            provider=AWS_PROVIDER,
            cache=json.dumps(str(tool.plugin_cache)),
        ),
        encoding="utf-8",
    )
    # Terraform's plugin cache is not safe for concurrent first installs (two inits
    # both try to create the same entry): fill it once, before any parallel init.
    warm = workdir / "warm-cache"
    warm.mkdir()
    (warm / "versions.tf").write_text(
        'terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n'
        f'      version = "{version}"\n    }}\n  }}\n}}\n',
        encoding="utf-8",
    )
    try:
        tool.init(warm)
    except RuntimeError as error:
        return f"terraform cannot install the mirrored AWS provider: {str(error).splitlines()[0]}"
    return tool


def variable_values(tool: TerraformTool, folder: Path, names: list[str], work: Path) -> Any:
    """The values terraform gives the variables ``names`` of ``folder/variables.tf``.

    Terraform itself reads the file (no provider needed): with the project's
    ``terraform.tfvars.example`` for the variables that have no default, so every
    other one takes its default, and every validation runs on it (a default that
    breaks its own validation raises RuntimeError, as the first plan would fail).
    """
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy2(folder / "variables.tf", work / "variables.tf")
    shutil.copy2(folder / "terraform.tfvars.example", work / "terraform.tfvars")
    values = ", ".join(f"{name} = var.{name}" for name in names)
    (work / "values.tf").write_text(f'output "values" {{\n  value = {{ {values} }}\n}}\n')
    _check(tool.run(["plan", "-input=false", "-no-color", "-out=values.plan"], work), "plan")
    return tool.show_json(work, "values.plan")["planned_values"]["outputs"]["values"]["value"]


def copy_project_terraform(project: Path, dest: Path) -> Path:
    """A copy of ``project/terraform`` at ``dest`` (the harness adds override files there)."""
    shutil.copytree(project / "terraform", dest, ignore=shutil.ignore_patterns(".terraform*"))
    return dest


# --- Version constraints ------------------------------------------------------------

_OPERATOR = re.compile(r"^\s*(~>|>=|<=|!=|=|>|<)?\s*v?(\d+(?:\.\d+){0,2})\s*$")


def constraint_accepts(constraint: str, version: str) -> bool:
    """Whether a Terraform version constraint (``">= 5.100, < 7.0"``, ``"~> 6.0"``) accepts
    ``version`` (``MAJOR.MINOR.PATCH``), as Terraform reads it.

    Raises ValueError for a constraint it cannot read.
    """
    have = _version_key(version) + (0,) * 3
    have = have[:3]
    for part in constraint.split(","):
        match = _OPERATOR.match(part)
        if not match:
            raise ValueError(f"not a version constraint: {constraint!r}")
        operator, written = match[1] or "=", match[2]
        given = _version_key(written)
        want = (*given, 0, 0, 0)[:3]
        if operator == "~>":
            # ~> 6.0 allows 6.x (x >= 0); ~> 6.0.1 allows 6.0.y (y >= 1).
            fixed = given[:-1] if len(given) > 1 else given
            if have < want or have[: len(fixed)] != fixed:
                return False
        elif not {
            "=": have == want,
            "!=": have != want,
            ">": have > want,
            ">=": have >= want,
            "<": have < want,
            "<=": have <= want,
        }[operator]:
            return False
    return True


def aws_provider_constraint(folder: Path) -> str:
    """The AWS provider's ``version`` in a folder's ``required_providers`` (read by terraform)."""
    text = "\n".join(path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.tf")))
    match = re.search(
        r'aws\s*=\s*\{[^}]*?source\s*=\s*"hashicorp/aws"[^}]*?version\s*=\s*"([^"]+)"', text, re.S
    )
    if not match:
        raise ValueError(f"{folder}: no version constraint for hashicorp/aws")
    return match[1]
