"""Helpers for the container project's tests: parsed Terraform, the Dockerfile, the image layout.

No Docker engine and no Terraform providers exist here, so the tests judge the
generated project statically (python-hcl2, a small Dockerfile parser) and rebuild
the image's file layout in a temporary directory to run the app from it, as the
image's unprivileged user would.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import hcl2

#: The account the layout's processes run as, when the tests run as root.
NOBODY = 65534
#: PATH of the official python and nvidia/cuda images before the Dockerfile's ENV.
IMAGE_BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# --- Terraform --------------------------------------------------------------------


def hcl_string(value: Any) -> Any:
    """A string literal as python-hcl2 8.x returns it (quoted, escaped), decoded.

    Expressions (``${var.x}``) and non-strings are returned unchanged.
    """
    if not (isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"'):
        return value
    return json.loads(value.replace("$${", "${").replace("%%{", "%{"))


def _label(value: str) -> str:
    return value[1:-1] if value.startswith('"') and value.endswith('"') else value


@dataclass
class Terraform:
    """Every .tf file of a folder, parsed and merged by block type and labels."""

    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    resources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    data: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    terraform: list[dict[str, Any]] = field(default_factory=list)
    providers: list[dict[str, Any]] = field(default_factory=list)

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        return self.resources[kind][name]

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return self.resources.get(kind, {})

    def default(self, variable: str) -> Any:
        return hcl_string(self.variables[variable]["default"])


def _merge_labelled(target: dict[str, dict[str, Any]], blocks: list[dict[str, Any]]) -> None:
    for block in blocks:
        for kind, named in block.items():
            for name, body in named.items():
                target.setdefault(_label(kind), {})[_label(name)] = body


def load_terraform(folder: Path) -> Terraform:
    """Parse every ``*.tf`` in ``folder`` with python-hcl2 (raises on a syntax error)."""
    tf = Terraform()
    for path in sorted(folder.glob("*.tf")):
        with path.open(encoding="utf-8") as handle:
            parsed: dict[str, Any] = hcl2.load(handle)
        tf.files[path.name] = parsed
        _merge_labelled(tf.resources, parsed.get("resource", []))
        _merge_labelled(tf.data, parsed.get("data", []))
        for block in parsed.get("variable", []):
            tf.variables.update({_label(k): v for k, v in block.items()})
        for block in parsed.get("output", []):
            tf.outputs.update({_label(k): v for k, v in block.items()})
        for block in parsed.get("locals", []):
            tf.locals.update({k: v for k, v in block.items() if not k.startswith("__")})
        tf.terraform.extend(parsed.get("terraform", []))
        tf.providers.extend(parsed.get("provider", []))
    return tf


def blocks(body: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    """The nested blocks called ``key`` of a parsed block (python-hcl2 lists them)."""
    value = body.get(key, [])
    return value if isinstance(value, list) else [value]


def one(body: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The single nested block called ``key``."""
    found = blocks(body, key)
    assert len(found) == 1, f"expected one {key} block, found {len(found)}"
    return found[0]


def walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every ``(key, value)`` pair of a parsed structure, depth first."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


SKIP_COMMENT = re.compile(r"checkov:skip=(?P<id>CKV2?_[A-Z]+_\d+)(?P<rest>.*)")


def inline_skips(tf: Terraform) -> list[tuple[str, str, str]]:
    """``(resource address, check id, reason)`` of every ``# checkov:skip`` in a resource."""
    found = []
    for kind, named in tf.resources.items():
        for name, body in named.items():
            for comment in body.get("__comments__", []):
                match = SKIP_COMMENT.search(comment["value"])
                if match:
                    reason = match["rest"].lstrip(":").strip()
                    found.append((f"{kind}.{name}", match["id"], reason))
    return found


def templatefile_vars(expression: str) -> dict[str, str]:
    """The variables a ``templatefile(path, {k = v, ...})`` call passes, as written.

    ``expression`` is an attribute as python-hcl2 returns it (for example the
    launch template's ``user_data``); values are the unevaluated expressions.
    """
    start = expression.index(", {", expression.index("templatefile(")) + 2
    depth, items, current = 0, [], ""
    for char in expression[start + 1 :]:
        if char in "{([":
            depth += 1
        elif char in "})]":
            if depth == 0:
                break
            depth -= 1
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    pairs = (item.partition("=") for item in items if item.strip())
    return {name.strip(): value.strip() for name, _, value in pairs}


def docker_run_env(script: str) -> dict[str, str]:
    """The ``--env NAME=VALUE`` pairs of the ``docker run`` in a user data script."""
    run = script[script.index("docker run") :]
    run = run[: run.index("\nExecStop")] if "\nExecStop" in run else run
    return {m[1]: m[2] for m in re.finditer(r"--env ([A-Z_][A-Z0-9_]*)=(\S*)", run)}


def app_value(project: Path, expression: str) -> Any:
    """Evaluate ``expression`` (JSON-able; ``c`` is the app's ``app.config``) in the
    rendered project, in a process of its own as its tests would."""
    proc = subprocess.run(
        [sys.executable, "-c", f"import json, app.config as c; print(json.dumps({expression}))"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# --- Dockerfile -------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    flags: dict[str, str]
    value: str
    """The arguments after the flags, as written."""

    @property
    def args(self) -> list[str]:
        """Exec form (JSON array) or shell words."""
        text = self.value.strip()
        if text.startswith("["):
            parsed: list[str] = json.loads(text)
            return parsed
        return shlex.split(text)


@dataclass
class Stage:
    base: str
    alias: str | None
    instructions: list[Instruction]

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def _logical_lines(text: str) -> Iterator[str]:
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        yield current + line
        current = ""
    if current:
        yield current


def _split_flags(rest: str) -> tuple[dict[str, str], str]:
    flags: dict[str, str] = {}
    while rest.startswith("--"):
        token, _, rest = rest.partition(" ")
        name, _, value = token[2:].partition("=")
        flags[name] = value
        rest = rest.lstrip()
    return flags, rest


def parse_dockerfile(text: str) -> list[Stage]:
    """The stages of a Dockerfile with their instructions (enough for these tests)."""
    stages: list[Stage] = []
    for line in _logical_lines(text):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        flags, rest = _split_flags(rest.strip())
        if keyword == "FROM":
            words = rest.split()
            alias = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], alias, []))
        else:
            stages[-1].instructions.append(Instruction(keyword, flags, rest))
    return stages


def parse_env(instruction: Instruction, env: Mapping[str, str]) -> dict[str, str]:
    """The variables one ``ENV K=V ...`` sets, with ``$VAR`` expanded from ``env``."""
    result = {}
    for word in shlex.split(instruction.value):
        name, _, value = word.partition("=")
        result[name] = re.sub(
            r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: env.get(m[1], ""), value
        )
    return result


# --- A stand-in for SSM -------------------------------------------------------------


class FakeSSM:
    """SSM's GetParameter over HTTP (AWS_ENDPOINT_URL), for a service that reads a
    SecureString at start-up; ``requests`` records what it was asked."""

    def __init__(self, parameters: Mapping[str, str]) -> None:
        self.parameters = dict(parameters)
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                target = self.headers.get("X-Amz-Target", "")
                fake.requests.append({"target": target, **request})
                name = request.get("Name", "")
                answer: dict[str, Any]
                if target == "AmazonSSM.GetParameter" and name in fake.parameters:
                    value = fake.parameters[name]
                    status, answer = 200, {"Parameter": {"Name": name, "Value": value}}
                else:
                    status, answer = 400, {"__type": "ParameterNotFound", "message": name}
                body = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeSSM:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# --- The image's layout, rebuilt in a directory --------------------------------------


@dataclass
class Layout:
    """The runtime stage's files under ``root``, and how it runs its command."""

    root: Path
    env: dict[str, str]
    """The image's environment (paths as in the image)."""
    workdir: str
    user: str
    cmd: list[str]
    healthcheck: list[str]

    def host(self, image_path: str) -> Path:
        return self.root / image_path.lstrip("/")

    def host_env(self, **extra: str) -> dict[str, str]:
        """The image's environment with its paths mapped under ``root``."""
        env = dict(self.env)
        env["PATH"] = os.pathsep.join(
            str(self.host(p)) if self.host(p).is_dir() else p for p in env["PATH"].split(":")
        )
        env.setdefault("HOME", "/nonexistent")
        env.update(extra)
        return env


def _site_packages(venv: Path) -> Path:
    return (
        venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    )


def make_venv(dest: Path, python: str) -> None:
    """A venv at ``dest`` whose packages are the ones installed for this test run.

    The image's builder installs requirements.txt into its venv; here a ``.pth``
    file points the new venv at this interpreter's site-packages, which hold the
    same pinned distributions (the tests check each requirement imports).
    """
    subprocess.run([python, "-m", "venv", "--without-pip", str(dest)], check=True)
    site = _site_packages(dest)
    site.mkdir(parents=True, exist_ok=True)
    (site / "_test_requirements.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")


def build_layout(project: Path, root: Path, python: str) -> Layout:
    """Rebuild the runtime stage of ``project``'s Dockerfile under ``root``.

    COPY from the build context copies the files with their modes (as Docker does);
    COPY of the builder's venv makes an equivalent venv (see :func:`make_venv`); a
    COPY of the builder's standalone Python (the GPU image) is served by ``python``.
    """
    stages = parse_dockerfile((project / "Dockerfile").read_text(encoding="utf-8"))
    runtime = stages[-1]
    env: dict[str, str] = {"PATH": IMAGE_BASE_PATH}
    workdir, user, cmd, healthcheck = "/", "root", [], []
    for instruction in runtime.instructions:
        if instruction.keyword == "ENV":
            env.update(parse_env(instruction, env))
        elif instruction.keyword == "WORKDIR":
            workdir = instruction.value.strip()
        elif instruction.keyword == "USER":
            user = instruction.value.strip()
        elif instruction.keyword == "CMD":
            cmd = instruction.args
        elif instruction.keyword == "HEALTHCHECK":
            healthcheck = Instruction("CMD", {}, instruction.value.partition("CMD")[2]).args
        elif instruction.keyword == "COPY":
            _copy(instruction, project, root, python)
    return Layout(root, env, workdir, user, cmd, healthcheck)


def _copy(instruction: Instruction, project: Path, root: Path, python: str) -> None:
    *sources, dest = instruction.args
    target = root / dest.lstrip("/")
    for source in sources:
        if "from" not in instruction.flags:
            _copy_context(project / source, target)
        elif source == "/opt/venv":
            make_venv(target, python)
        elif source != "/opt/python":  # the GPU image's Python: ``python`` stands in
            raise AssertionError(f"unexpected COPY from a stage: {source}")


def _copy_context(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(
            source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
        )
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def unreadable_by_others(root: Path) -> list[str]:
    """Files a user who owns nothing cannot read, and folders it cannot enter."""
    problems = []
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            continue
        if path.is_dir() and (mode & 0o005) != 0o005:
            problems.append(f"{path} (dir {stat.filemode(mode)})")
        elif path.is_file() and not mode & 0o004:
            problems.append(f"{path} ({stat.filemode(mode)})")
    return problems


def world_traversable(path: Path) -> bool:
    """True when every folder above ``path`` lets others in and ``path`` is readable."""
    resolved = path.resolve()
    parents_ok = all(p.stat().st_mode & 0o001 for p in resolved.parents)
    return parents_ok and bool(resolved.stat().st_mode & 0o004)


def unprivileged_python() -> tuple[str, int | None]:
    """An interpreter of this Python version that ``nobody`` can run, and ``nobody``'s uid.

    When the tests run as root the layout's processes run as ``nobody`` (like the
    image's unprivileged user, it owns none of the files). That needs an interpreter
    outside root's home (pyenv builds usually live there). Otherwise, or when none is
    found, the processes run as the current user (uid None).
    """
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [
        str(Path(getattr(sys, "_base_executable", sys.executable)).resolve()),
        shutil.which(f"python{version}", path="/usr/local/bin:/usr/bin:/bin") or "",
    ]
    if os.geteuid() == 0:
        for candidate in filter(None, candidates):
            if world_traversable(Path(candidate)) and _runs_as_nobody(candidate, version):
                return candidate, NOBODY
    return candidates[0], None


def _runs_as_nobody(python: str, version: str) -> bool:
    check = "import sys; print(f'{sys.version_info.major}.{sys.version_info.minor}')"
    proc = subprocess.run(
        [python, "-c", check],
        capture_output=True,
        text=True,
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
        cwd="/",
        check=False,
    )
    return proc.returncode == 0 and proc.stdout.strip() == version


def world_readable_tempdir() -> Path:
    """A fresh temporary folder others may enter (pytest's tmp_path is private)."""
    path = Path(tempfile.mkdtemp(prefix="layout-"))
    path.chmod(0o755)
    return path


def spawn(
    layout: Layout, argv: list[str], uid: int | None, env: Mapping[str, str]
) -> subprocess.Popen[str]:
    """Start ``argv`` in the layout's working directory, as ``uid`` when given."""
    executable = shutil.which(argv[0], path=env["PATH"])
    assert executable, f"{argv[0]} is not on the image's PATH {env['PATH']}"
    identity: dict[str, Any] = {}
    if uid is not None:
        identity = {"user": uid, "group": uid, "extra_groups": []}
    return subprocess.Popen(
        [executable, *argv[1:]],
        cwd=layout.host(layout.workdir),
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **identity,
    )
