"""A plain-text chart of monthly cost against requests per month (both log scales).

Pure: returns lines of text, so it works in any terminal, in a pipe and in a
test. Each option is drawn with its own letter, in order, so a later line
covers an earlier one where they meet, and only where it can serve the load
(its cost is None elsewhere); each break-even volume is marked on the axis
below with the letter of the option that becomes cheaper than Lambda.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Series", "render_chart"]

LOW_REQUESTS = 1e5
HIGH_REQUESTS = 1e9


@dataclass(frozen=True, slots=True)
class Series:
    """One line of the chart."""

    mark: str
    """The character the line is drawn with."""
    label: str
    """The legend text."""
    cost: Callable[[float], float | None]
    """Monthly USD at a given number of requests per month (None: not available there)."""


def render_chart(
    series: Sequence[Series],
    break_even: Sequence[tuple[str, str, float]],
    *,
    width: int = 60,
    height: int = 14,
) -> list[str]:
    """Draw ``series`` from 100k to 1B requests per month.

    ``break_even`` holds ``(mark, name, volume)`` triples to show on the axis.
    """
    xs = [_x_at(column, width) for column in range(width)]
    values = [[_floor(s.cost(x)) for x in xs] for s in series]
    drawn = [v for points in values for v in points if v is not None] or [0.01]
    low = math.log10(min(drawn))
    high = math.log10(max(drawn))
    high = high if high > low else low + 1
    grid = [[" "] * width for _ in range(height)]
    for line, points in zip(series, values, strict=True):
        for column, value in enumerate(points):
            if value is None:
                continue
            row = round((math.log10(value) - low) / (high - low) * (height - 1))
            grid[height - 1 - row][column] = line.mark
    lines = []
    for index, row_cells in enumerate(grid):
        level = high - index * (high - low) / (height - 1)
        label = _usd(10**level) if index % 3 == 0 or index == height - 1 else ""
        lines.append(f"{label:>9} |{''.join(row_cells)}")
    axis = ["-"] * width
    marks = []
    for mark, name, volume in break_even:
        if LOW_REQUESTS <= volume <= HIGH_REQUESTS:
            axis[_column_of(volume, width)] = mark
            marks.append(f"{mark} on the axis: {name} is cheaper above {volume:,.0f}")
    lines.append(f"{'':>9} +{''.join(axis)}")
    lines.append(
        f"{'':>9}  {'100k':<{width // 4}}{'1M':<{width // 4}}{'10M':<{width // 4}}"
        f"{'100M':<{width // 4 - 3}}1B"
    )
    lines.append(f"{'':>9}  requests per month (log scale); monthly USD (log scale)")
    lines.extend(f"{'':>9}  {s.mark} {s.label}" for s in series)
    lines.extend(f"{'':>9}  {mark}" for mark in marks)
    return lines


def _floor(value: float | None) -> float | None:
    return None if value is None else max(value, 0.01)


def _x_at(column: int, width: int) -> float:
    span = math.log10(HIGH_REQUESTS) - math.log10(LOW_REQUESTS)
    return float(10 ** (math.log10(LOW_REQUESTS) + span * column / (width - 1)))


def _column_of(volume: float, width: int) -> int:
    span = math.log10(HIGH_REQUESTS) - math.log10(LOW_REQUESTS)
    return round((math.log10(volume) - math.log10(LOW_REQUESTS)) / span * (width - 1))


def _usd(amount: float) -> str:
    if amount >= 1000:
        return f"${amount / 1000:,.0f}k"
    return f"${amount:,.0f}" if amount >= 10 else f"${amount:,.2f}"
