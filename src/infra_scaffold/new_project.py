"""`scaffold new`: collect the answers → decide → render → tell the user what happened."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer

from infra_scaffold.contract import COMPUTED_ANSWERS, load_contract
from infra_scaffold.decision import Recommendation
from infra_scaffold.errors import AnswerError, AnswerProblems
from infra_scaffold.plan import Plan, check_given, make_plan
from infra_scaffold.render import ANSWERS_FILE, Rendered, check_destination, render_project
from infra_scaffold.report import (
    VERDICT,
    choice_note,
    cost_table_lines,
    summary_lines,
    terminal_width,
)
from infra_scaffold.signals import Terminated
from infra_scaffold.sources import resolve_source

__all__ = ["NEXT_STEPS", "run"]

#: What to do first in each kind of project (Makefile targets it has).
NEXT_STEPS = {
    "lambda": [
        ("make install", "the development tools (README.md lists what else each target needs)"),
        ("make test", "the project's own unit tests"),
        ("make scan", "checkov and bandit"),
        ("make deploy", "sam build, then sam deploy (confirms the change set)"),
    ],
    "container": [
        ("make install", "the development tools (README.md lists what else each target needs)"),
        ("make test", "the app's own tests"),
        ("make scan", "checkov and bandit"),
        ("make build", "the Docker image"),
        ("make plan", "terraform plan (fill in terraform.tfvars first)"),
    ],
}
#: The Fargate project is the container project's tree with ECS in place of instances.
NEXT_STEPS["fargate"] = NEXT_STEPS["container"]


def run(
    *,
    dest: Path | None,
    given: Mapping[str, Any],
    defaults: bool,
    template: str | None,
    vcs_ref: str | None,
    git: bool,
) -> None:
    """Create one project; exits 130 (Ctrl-C) or 143 (SIGTERM) with nothing written."""
    try:
        interactive = not defaults and sys.stdin.isatty()
        rendered, plan = _run(dest, dict(given), interactive, defaults, template, vcs_ref, git)
    except KeyboardInterrupt:
        typer.echo("\nCancelled: nothing was written.", err=True)
        raise typer.Exit(130) from None
    except Terminated:
        typer.echo("\nStopped: nothing was written.", err=True)
        raise typer.Exit(143) from None
    _report(rendered, plan, interactive=interactive)


def _named_after_folder(error: AnswerError | AnswerProblems) -> AnswerError | AnswerProblems:
    """``error`` with the project_name problem saying the name came from the folder."""
    problems = error.problems if isinstance(error, AnswerProblems) else (error,)
    told = [
        AnswerError(
            problem.key,
            f"{problem.rule} (taken from the folder name: pass --data project_name=NAME)",
        )
        if problem.key == "project_name"
        else problem
        for problem in problems
    ]
    if isinstance(error, AnswerProblems):
        return AnswerProblems(told, error.advice)
    return told[0]


def _run(
    dest: Path | None,
    given: dict[str, Any],
    interactive: bool,
    defaults: bool,
    template: str | None,
    vcs_ref: str | None,
    git: bool,
) -> tuple[Rendered, Plan]:
    if dest is not None:
        check_destination(dest)
    source = resolve_source(template, vcs_ref)
    contract = load_contract(source.questions)
    named_after_folder = dest is not None and not interactive and "project_name" not in given
    if dest is not None and named_after_folder:
        given["project_name"] = dest.name
    # Every wrong value (and, when nobody can be asked, every missing answer) at once.
    try:
        check_given(contract, given, complete=not interactive and not defaults)
    except (AnswerError, AnswerProblems) as error:
        raise _named_after_folder(error) if named_after_folder else error from None
    shown: list[Recommendation] = []
    if interactive:
        from infra_scaffold import prompts  # noqa: PLC0415 - questionary only when asking

        def show(recommendation: Recommendation) -> None:
            shown.append(recommendation)
            _show(recommendation)

        answers = prompts.interview(contract, given, show, default_name=dest.name if dest else None)
    else:
        answers = given
    plan = make_plan(contract, answers)
    dest = dest or Path(str(plan.answers["project_name"]))
    check_destination(dest)
    if interactive:
        if shown and _prices(shown[-1]) != _prices(plan.recommendation):
            # A later answer (the instance type) changed what the panel showed.
            width = terminal_width()
            lines = ["", "Monthly cost with the answers as given:"]
            lines += cost_table_lines(plan.recommendation.costs, width)
            typer.echo("\n".join(lines))
        typer.echo(_summary(plan, dest))
        if not prompts.confirm(f"Create {dest}?"):
            raise KeyboardInterrupt
        with _spinner(f"Rendering {dest} ..."):
            return render_project(plan, dest, source, git=git), plan
    return render_project(plan, dest, source, git=git), plan


def _show(recommendation: Recommendation) -> None:
    """The recommendation before the compute menu: short, so that its headline
    is still on an 80x24 screen when the menu appears."""
    typer.echo("\n".join(["", *summary_lines(recommendation, terminal_width() - 2)]))


def _prices(recommendation: Recommendation) -> list[tuple[str, float, str]]:
    return [(o.id, o.monthly_usd, o.label) for o in recommendation.costs.options]


def _summary(plan: Plan, dest: Path) -> str:
    answers = {k: v for k, v in plan.answers.items() if k not in COMPUTED_ANSWERS}
    width = max(len(k) for k in answers)
    lines = ["", "Summary:"]
    lines += [f"  {key:<{width}}  {value}" for key, value in answers.items()]
    lines.append(f"  {'into':<{width}}  {dest.absolute()}")
    return "\n".join(lines)


def _spinner(message: str) -> Any:
    from rich.console import Console  # noqa: PLC0415 - only the interactive path

    return Console(stderr=True).status(message)


def _report(rendered: Rendered, plan: Plan, *, interactive: bool) -> None:
    answers = plan.answers
    compute = str(answers["compute"])
    lines = [
        f"Created {answers['project_name']} ({VERDICT[compute]}, {answers['workload']}) "
        f"in {rendered.path}:",
        *(f"  {path}" for path in rendered.files),
    ]
    if not interactive:  # nobody saw the recommendation yet
        answers_file = rendered.path / ANSWERS_FILE
        more = f"Details: scaffold recommend --data-file {answers_file}"
        lines += ["", *summary_lines(plan.recommendation, terminal_width() - 2, more)]
    note = choice_note(plan.recommendation, compute)
    if note:
        lines += ["", note]
    if rendered.committed:
        lines.append("It is a git repository with one initial commit.")
    lines += ["", "Next steps:", f"  cd {rendered.path}"]
    lines += [f"  {command:<13} # {what}" for command, what in NEXT_STEPS[compute]]
    lines += [
        "  docs/adr/0001-compute-platform.md records why this compute was chosen.",
        "  scaffold update pulls in later template releases.",
    ]
    typer.echo("\n".join(lines))
