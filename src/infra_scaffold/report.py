"""What people read: the recommendation panel, the cost table and the chart.

Pure text: every function returns lines, so reports print fast (no rich import
on the `recommend` and `cost` paths), read well in a pipe, and are pinned by
snapshot tests.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import replace

from infra_scaffold.chart import Series, render_chart
from infra_scaffold.cost import CostReport, OptionCost, monthly_at
from infra_scaffold.decision import Recommendation

__all__ = [
    "choice_note",
    "cost_lines",
    "cost_table_lines",
    "headline",
    "recommendation_lines",
    "summary_lines",
    "terminal_width",
]

VERDICT = {
    "lambda": "AWS Lambda",
    "container": "Containers (EC2 Auto Scaling group)",
    "fargate": "Containers (ECS on Fargate)",
}
_MARKS = {"lambda": "L", "ec2-single": "S", "ec2-asg": "A", "fargate": "F"}


def terminal_width() -> int:
    """The width reports wrap to (80 to 110 columns)."""
    return max(80, min(110, shutil.get_terminal_size((100, 24)).columns))


def recommendation_lines(
    recommendation: Recommendation, width: int, current: str | None = None
) -> list[str]:
    """The boxed panel `scaffold recommend` and `scaffold new` show.

    ``current`` is the compute a project already uses, if any: a differing
    recommendation is pointed out.
    """
    inner = width - 4
    body = [f"Recommendation: {VERDICT[recommendation.compute]}"]
    if current and current != recommendation.compute:
        body.append(f"This project uses {VERDICT.get(current, current)}.")
    if recommendation.blockers:
        body += ["", "Hard blockers for Lambda:"]
        body += _bullets((f"[{b.id}] {b.message}" for b in recommendation.blockers), inner)
    body += ["", "Why:"]
    body += _bullets(recommendation.reasons, inner)
    if recommendation.mitigations:
        body += ["", "Cold starts and their mitigations:"]
        body += _bullets(recommendation.mitigations, inner)
    body += ["", "Monthly cost for this profile:"]
    body += cost_table_lines(recommendation.costs, inner)
    return _box("Lambda or not?", body)


def headline(recommendation: Recommendation) -> str:
    """The one-line recommendation: ``Recommendation: AWS Lambda``."""
    return f"Recommendation: {VERDICT[recommendation.compute]}"


def summary_lines(recommendation: Recommendation, width: int, more: str = "") -> list[str]:
    """The recommendation in a few lines, for `scaffold new` (every mode).

    The headline, why (the first blocker, else the first reason), the monthly
    costs and the break-even (the cost reasons), then ``more`` (where the
    details are, unwrapped). Short enough to leave the headline on an 80x24 screen when
    the compute menu appears.
    """
    why = [b.message for b in recommendation.blockers[:1]] or list(recommendation.reasons[:1])
    lines = [headline(recommendation)]
    lines += _bullets([*why, *recommendation.reasons[1:]], width)
    if more:  # a command to copy: never wrapped
        lines.append(f"  {more}")
    return lines


def choice_note(recommendation: Recommendation, compute: str) -> str | None:
    """A note when the chosen compute goes against the recommendation (else None)."""
    if compute == recommendation.compute:
        return None
    return (
        f"Note: this project uses {VERDICT.get(compute, compute)} although the checklist "
        f"recommends {VERDICT[recommendation.compute]}; record why in "
        "docs/adr/0001-compute-platform.md."
    )


def cost_lines(report: CostReport, width: int) -> list[str]:
    """The table, chart and assumptions of `scaffold cost`."""
    chart = render_chart(_series(report), _break_even_marks(report), width=min(60, width - 14))
    return [*cost_table_lines(report, width), "", *chart, "", *_assumptions(report, width)]


def cost_table_lines(report: CostReport, width: int) -> list[str]:
    """Every option's monthly cost, break-even against Lambda, and breakdown."""
    head = f"{'option':<11}{'USD/month':>11}  {'cheaper than Lambda above':>25}  what"
    lines = [head, "-" * min(width, len(head) + 30)]
    label_width = max(20, width - 51)
    compared = report.option("lambda").available  # no break-even against what cannot run
    for option in report.options:
        even = _volume(report.break_even_requests_per_month.get(option.id, "-"))
        usd = _usd(option.monthly_usd)
        if not compared:
            even = "-"
        if not option.available:
            even, usd = "-", "unavailable"
        label = textwrap.wrap(option.label, label_width) or [""]
        lines.append(f"{option.id:<11}{usd:>11}  {even:>25}  {label[0]}")
        lines.extend(f"{'':<51}{rest}" for rest in label[1:])
    lines.append("")
    for option in report.options:
        parts = " + ".join(f"{item} {_usd(usd)}" for item, usd in option.breakdown)
        if not option.available:
            parts = f"unavailable: {option.unavailable_reason}" + (
                f" (it would cost {parts})" if parts else ""
            )
        lines.extend(textwrap.wrap(f"{option.id}: {parts}", width, subsequent_indent="    "))
    return lines


def _assumptions(report: CostReport, width: int) -> list[str]:
    assumptions = dict(report.assumptions)
    notes = assumptions.pop("notes")
    values = ", ".join(f"{key}={value}" for key, value in assumptions.items())
    lines = ["Assumptions:"]
    lines += textwrap.wrap(values, width, initial_indent="  ", subsequent_indent="  ")
    lines += _bullets(notes, width)
    return lines


def _series(report: CostReport) -> list[Series]:
    def at(option: OptionCost) -> Callable[[float], float | None]:
        if option.id == "ec2-single" and option.fleet is not None:
            option = replace(option, unavailable_reason=None)  # drawn where it holds the load
        return lambda requests: monthly_at(report.inputs, option, requests)

    # Lambda last: it is the line every other one is compared with. An option
    # that cannot serve this workload at all is left out.
    return [
        Series(_MARKS.get(option.id, "?"), f"{option.id}: {option.label}", at(option))
        for option in sorted(report.options, key=lambda o: o.id == "lambda")
        if option.available or (option.id == "ec2-single" and option.fleet is not None)
    ]


def _break_even_marks(report: CostReport) -> list[tuple[str, str, float]]:
    volumes = report.break_even_requests_per_month
    return [(_MARKS.get(k, "?"), k, float(v)) for k, v in volumes.items() if v]


def _bullets(items: Iterable[str], width: int) -> list[str]:
    lines: list[str] = []
    for item in items:
        lines += textwrap.wrap(item, width, initial_indent="  - ", subsequent_indent="    ")
    return lines


def _box(title: str, body: list[str]) -> list[str]:
    inner = max(len(line) for line in body) if body else 0
    inner = max(inner, len(title) + 2)
    top = f"╭─ {title} " + "─" * (inner - len(title) - 1) + "╮"
    rows = [f"│ {line:<{inner}} │" for line in body]
    return [top, *rows, "╰" + "─" * (inner + 2) + "╯"]


def _usd(amount: float) -> str:
    return f"${amount:,.2f}" if amount >= 0.01 or amount == 0 else "<$0.01"


def _volume(value: object) -> str:
    if value is None:
        return "never"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
