"""Rendering overhead: `scaffold new --defaults` vs `copier copy --defaults`.

Both render the bundled template with the same answers into a fresh folder,
whole process, best of N; `scaffold new` may be at most 15% slower. Shown
with and without the initial git commit (`copier copy` makes none).
Exit 1 when over budget.

    python benchmarks/new_vs_copier.py [--runs 7] [--workload http_api]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from _timing import best_and_median, report

from infra_scaffold.contract import bundled_template
from infra_scaffold.sources import resolve_source

BUDGET = 1.15


def main() -> int:
    """Render the same project both ways and compare."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--workload", default="http_api")
    options = parser.parse_args()
    bindir = Path(sys.executable).parent
    work = Path(tempfile.mkdtemp(prefix="bench-new-"))
    try:
        # The answers `scaffold new --defaults` records, given to copier as-is.
        probe = work / "probe-svc"
        subprocess_run([bindir / "scaffold", "new", probe, "--defaults", "--no-git",
                        "--data", f"workload={options.workload}"])  # fmt: skip
        recorded = yaml.safe_load((probe / ".copier-answers.yml").read_text())
        data_file = work / "answers.yml"
        answers = {k: v for k, v in recorded.items() if not k.startswith("_")}
        data_file.write_text(yaml.safe_dump(answers))
        template = resolve_source(None, None).location  # the plain copy scaffold renders
        dest = work / "bench-svc"

        def clean() -> None:
            shutil.rmtree(dest, ignore_errors=True)

        commands: dict[str, list[str | Path]] = {
            "copier copy --defaults --data-file answers.yml": [
                bindir / "copier", "copy", "--defaults", "--quiet", "--data-file", data_file,
                template, dest,
            ],
            "scaffold new --defaults --data-file answers.yml --no-git": [
                bindir / "scaffold", "new", dest, "--defaults", "--no-git",
                "--data-file", data_file,
            ],
            "scaffold new --defaults --data-file answers.yml (git commit)": [
                bindir / "scaffold", "new", dest, "--defaults", "--data-file", data_file,
            ],
        }  # fmt: skip
        rows = [
            (name, *best_and_median(cmd, options.runs, before=clean))
            for name, cmd in commands.items()
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(rows, "copier copy --defaults --data-file answers.yml")
    base = rows[0][1]
    over = [name for name, best, _ in rows[1:] if best > base * BUDGET]
    print(
        f"budget: {base * BUDGET * 1000:.0f} ms (copier copy + 15%); template {bundled_template()}"
    )
    for name in over:
        print(f"OVER BUDGET: {name}")
    return 1 if over else 0


def subprocess_run(command: list[object]) -> None:
    """Run a set-up command, failing loudly."""
    subprocess.run([str(c) for c in command], check=True, capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
