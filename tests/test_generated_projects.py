"""What both kinds of generated project share, on a plain workstation and offline.

The same basic make targets (``help`` by default, ``install``, ``test``,
``lint``, ``scan``), the same pinned scanner and tool versions, the same
GitHub Actions versions, a README that lists every tool each target runs with
its minimum version, and a ``make scan`` that works with no network.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections import defaultdict
from pathlib import Path
from typing import Final

import pytest
import yaml
from support import scanners
from support.render import REPO, plain_template, render

MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")

#: One project per kind and per image architecture: (compute, workload).
VARIANTS: Final = {
    "lambda": ("lambda", "http_api"),
    "container": ("container", "http_api"),
    "container-gpu": ("container", "ml_inference"),
}
BASIC_TARGETS: Final = {"help", "install", "test", "lint", "scan"}
#: The programs make targets may run, and the README row that must list each.
PROGRAMS: Final = {
    "python": "Python", "pip": "pip", "pytest": "pytest", "ruff": "ruff", "bandit": "bandit",
    "cfn-lint": "cfn-lint", "hadolint": "hadolint", "checkov": "checkov",
    "terraform": "Terraform", "docker": "Docker", "aws": "AWS CLI", "sam": "AWS SAM CLI",
}  # fmt: skip
#: Commands of a recipe that come with any shell.
SHELL_WORDS: Final = {
    "grep", "awk", "echo", "set", "read", "test", "if", "then", "fi", "exit",
}  # fmt: skip


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    template = plain_template(tmp_path_factory.mktemp("template"))
    return {
        name: render(template, tmp_path_factory.mktemp(name), compute=compute, workload=workload)
        for name, (compute, workload) in VARIANTS.items()
    }


def make(project: Path, *args: str, env: dict[str, str] | None = None) -> str:
    assert MAKE is not None
    done = subprocess.run(
        [MAKE, *args], cwd=project, capture_output=True, text=True, check=False, env=env,
        timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def targets(project: Path) -> set[str]:
    text = (project / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z]+):", text, flags=re.MULTILINE))


@pytest.mark.parametrize("name", VARIANTS)
def test_make_alone_lists_the_basic_targets(projects, name):
    assert targets(projects[name]) >= BASIC_TARGETS
    listed = make(projects[name])  # the default goal
    for target in targets(projects[name]):
        assert re.search(rf"^  {target} +\S", listed, flags=re.MULTILINE), target


def test_the_lambda_lint_needs_no_sam_cli(projects):
    """`sam validate --lint` has its own target: lint runs with pip-installed tools only."""
    commands = make(projects["lambda"], "-n", "lint")
    assert "sam " not in commands
    assert "sam validate --lint" in make(projects["lambda"], "-n", "validate")


def programs_of(commands: str) -> set[str]:
    """The programs a dry run's command lines start (python modules by their own name)."""
    found: set[str] = set()
    for line in commands.replace("\\\n", " ").splitlines():
        for segment in re.split(r"[;|]|&&|\$\(", line):
            words = [w for w in segment.split() if not re.fullmatch(r"[A-Z_]+=\S*", w)]
            if not words:
                continue
            program = Path(words[0]).name
            if re.fullmatch(r"python[\d.]*", program):
                found.add("python")
                if len(words) > 2 and words[1] == "-m":
                    found.add(words[2])
                continue
            # A shell word, or a shell variable assigned (repository=$(...)).
            if program.rstrip(")") in SHELL_WORDS or re.fullmatch(r"[a-z_]+=.*", program):
                continue
            assert program in PROGRAMS, f"{program!r} in {line!r}: add it to the README and here"
            found.add(program)
    return found


def prerequisites(readme: str) -> dict[str, tuple[str, str]]:
    """The README's table of tools: tool cell -> (version cell, needed-by cell)."""
    start = readme.index("What each `make` target needs")
    table = readme[start:].split("\n\n")[1]
    rows = [line.strip("|").split(" | ") for line in table.splitlines()[2:]]
    return {tool.strip(): (version.strip(), needed.strip()) for tool, version, needed in rows}


@pytest.mark.parametrize("name", VARIANTS)
def test_the_readme_lists_what_every_target_runs_with_a_minimum_version(projects, name):
    project = projects[name]
    table = prerequisites((project / "README.md").read_text(encoding="utf-8"))
    for target in sorted(targets(project) - {"help"}):
        for program in programs_of(make(project, "-n", target, "TAG=1.0.0")):
            row = PROGRAMS[program]
            if program == "pip" and not any(tool == "pip" for tool in table):
                row = "Python"  # pip comes with Python here; no minimum of its own
            tool = next((t for t in table if re.search(rf"(^|\W){re.escape(row)}(\W|$)", t)), None)
            assert tool is not None, f"{target} runs {program}: no README row {row!r}"
            version, needed = table[tool]
            pinned_in = re.match(r"as pinned in `([^`]+)`", version)
            if pinned_in:  # installed by `make install`: the file must pin it
                pinned = (project / pinned_in[1]).read_text(encoding="utf-8")
                assert re.search(rf"\b{program}(-bin)?==\d", pinned), (program, pinned_in[1])
            else:
                assert re.search(r"\d", version), f"{tool}: no version"
            assert f"`{target}`" in needed or needed == "every target", (target, tool, needed)


def pins(project: Path) -> dict[str, set[str]]:
    """Every pinned tool version a project states: requirements, pyproject, CI, Makefile, README."""
    found: dict[str, set[str]] = defaultdict(set)
    texts = [p.read_text(encoding="utf-8") for p in project.rglob("*") if p.is_file()]
    for text in texts:
        for tool, version in re.findall(r"\b([a-z][a-z0-9-]*)(?:\[[a-z]+\])?==([\w.]+)", text):
            found[tool].add(version)
    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    for key, value in workflow.get("env", {}).items():  # e.g. CHECKOV_VERSION: "3.3.30"
        if key.endswith("_VERSION") and key != "PYTHON_VERSION":
            found[key.removesuffix("_VERSION").lower().replace("_", "-")].add(str(value))
    ranged = re.compile(r"\b(checkov|bandit|ruff|pytest|cfn-lint|hadolint(-bin)?)\s*[<>~]=")
    for text in texts:
        assert not ranged.search(text), f"a range, not a pin: {ranged.search(text)}"
    return found


def test_both_kinds_pin_the_same_tool_versions(projects: dict[str, Path]) -> None:
    every: dict[str, set[str]] = defaultdict(set)
    for project in projects.values():
        for tool, versions in pins(project).items():
            every[tool] |= versions
    lam, box = pins(projects["lambda"]), pins(projects["container"])
    for shared in ("checkov", "bandit", "ruff", "pytest"):
        assert shared in lam, shared
        assert shared in box, shared
    assert {tool: versions for tool, versions in every.items() if len(versions) > 1} == {}
    script = (REPO / "scripts" / "test.sh").read_text(encoding="utf-8")
    (tested,) = re.findall(r"^CHECKOV_VERSION=([\d.]+)$", script, flags=re.MULTILINE)
    assert every["checkov"] == {tested}, "the suite scans with the checkov the projects pin"


def test_both_kinds_use_the_same_action_versions(projects: dict[str, Path]) -> None:
    refs: dict[str, set[str]] = defaultdict(set)
    for project in projects.values():
        for path in (project / ".github" / "workflows").glob("*.yml"):
            workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
            for job in workflow["jobs"].values():
                for step in job["steps"]:
                    if "uses" in step:
                        action, ref = step["uses"].split("@")
                        refs[action].add(ref)
    assert {"actions/checkout", "actions/setup-python"} <= set(refs)
    assert {action: r for action, r in refs.items() if len(r) > 1} == {}


def _offline_env(home: Path) -> dict[str, str]:
    """No network (proxies that refuse), an empty HOME, and this suite's scanners on PATH."""
    tools = home / "bin"
    tools.mkdir(parents=True)
    (tools / "checkov").symlink_to(scanners.checkov_bin())
    path = os.pathsep.join([str(tools), str(Path(sys.executable).parent), "/usr/bin", "/bin"])
    proxy = "http://127.0.0.1:9"
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update({"PATH": path, "HOME": str(home), "PYTHON": sys.executable, "NO_PROXY": ""})
    env.update({k: proxy for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")})
    return env


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lambda", "container"])
def test_make_scan_passes_offline_without_a_traceback(projects, name, tmp_path):
    assert MAKE is not None
    done = subprocess.run(
        [MAKE, "scan"], cwd=projects[name], capture_output=True, text=True, check=False,
        env=_offline_env(tmp_path / "home"), timeout=900,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Traceback" not in output
    assert "Failed checks: 0" in output
    assert not re.search(r"Failed checks: [1-9]", output)


def test_the_lambda_dev_group_is_what_make_install_installs(projects):
    pyproject = tomllib.loads((projects["lambda"] / "pyproject.toml").read_text())
    group = pyproject["dependency-groups"]["dev"]
    assert all("==" in requirement for requirement in group)
    assert "--group dev" in make(projects["lambda"], "-n", "install")
