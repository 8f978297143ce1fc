"""Whole-process timing shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def best_and_median(
    command: Sequence[str | Path],
    runs: int,
    before: Callable[[], None] | None = None,
    env: dict[str, str] | None = None,
) -> tuple[float, float]:
    """Run ``command`` ``runs`` times (after one warm-up); best and median seconds."""
    times = []
    for attempt in range(runs + 1):
        if before:
            before()
        start = time.perf_counter()
        subprocess.run(
            [str(c) for c in command], check=True, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        if attempt:  # the first run warms the file-system cache
            times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def report(rows: list[tuple[str, float, float]], reference: str) -> None:
    """Print a table of best/median times relative to the reference row."""
    base = next(best for name, best, _ in rows if name == reference)
    print(f"{'command':<58} {'best':>8} {'median':>8} {'vs ref':>7}")
    for name, best, median in rows:
        print(f"{name:<58} {best * 1000:>6.0f}ms {median * 1000:>6.0f}ms {best / base:>6.2f}x")
