"""Write docs/cli.md from the `--help` texts, so the reference matches the code.

python scripts/gen_cli_docs.py          # rewrite docs/cli.md
python scripts/gen_cli_docs.py --check  # exit 1 if docs/cli.md is stale
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "cli.md"
COMMANDS: tuple[list[str], ...] = (
    [], ["new"], ["update"], ["releases"], ["recommend"], ["cost"]
)  # fmt: skip


def help_text(args: list[str]) -> str:
    """`scaffold ARGS --help` at a fixed width, as users see it."""
    env = {**os.environ, "COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "infra_scaffold", *args, "--help"],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    return done.stdout.replace("python -m infra_scaffold", "scaffold").rstrip() + "\n"


def render() -> str:
    """The whole reference page."""
    parts = [
        "# CLI reference\n",
        "Generated from the `--help` texts by `scripts/gen_cli_docs.py`; a test fails when "
        "it is out of date. Start with [getting started](getting-started.md).\n",
    ]
    for args in COMMANDS:
        title = " ".join(["scaffold", *args])
        parts.append(f"## `{title}`\n\n```text\n{help_text(args)}```\n")
    return "\n".join(parts)


def main() -> int:
    """Rewrite the page, or check it with --check."""
    text = render()
    if "--check" in sys.argv[1:]:
        if TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET} is stale: run python scripts/gen_cli_docs.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
