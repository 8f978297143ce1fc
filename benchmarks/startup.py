"""Start-up budget: `scaffold --help`, `recommend` and `cost` vs `copier --help`.

Each must take at most a third of `copier --help` (whole process, best of N).
Exit 1 when one does not.

    python benchmarks/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from _timing import best_and_median, report

BUDGET = 1 / 3


def main() -> int:
    """Time each command and compare it with copier --help."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    bindir = Path(sys.executable).parent
    scaffold = bindir / "scaffold"
    copier = bindir / "copier" if (bindir / "copier").exists() else shutil.which("copier")
    if copier is None:
        print("copier is not installed", file=sys.stderr)
        return 2
    commands: dict[str, list[str | Path]] = {
        "copier --help": [copier, "--help"],
        "scaffold --help": [scaffold, "--help"],
        "scaffold recommend --data workload=http_api": [
            scaffold, "recommend", "--data", "workload=http_api"
        ],
        "scaffold recommend --json --data workload=worker": [
            scaffold, "recommend", "--json", "--data", "workload=worker"
        ],
        "scaffold cost": [scaffold, "cost"],
        "scaffold cost --json": [scaffold, "cost", "--json"],
    }  # fmt: skip
    rows = [(name, *best_and_median(cmd, runs)) for name, cmd in commands.items()]
    report(rows, "copier --help")
    limit = rows[0][1] * BUDGET
    slow = [name for name, best, _ in rows[1:] if best > limit]
    print(f"budget: {limit * 1000:.0f} ms (a third of copier --help)")
    for name in slow:
        print(f"OVER BUDGET: {name}")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
