"""The interactive checklist: the only module that talks to questionary.

Order: project name → workload → the checklist questions that matter for that
workload (with its defaults) → the recommendation summary → the compute menu
(it repeats the recommendation, marks the recommended choice and defaults to
it; a choice a blocker rules out is refused with the blocker's sentence) →
the remaining options (the instance type defaults to the capacity plan's; one
that cannot hold a request is refused with the reason and asked again).
Answers already given with ``--data`` are not asked again. Ctrl-C raises
KeyboardInterrupt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import questionary

from infra_scaffold.contract import COMPUTED_ANSWERS, Contract, Question, cast_answer
from infra_scaffold.decision import check_compute
from infra_scaffold.errors import AnswerError
from infra_scaffold.plan import recommend_for
from infra_scaffold.report import headline

__all__ = ["confirm", "interview"]

_FIRST = ("project_name", "workload")


def interview(
    contract: Contract,
    given: Mapping[str, Any],
    show: Callable[[Any], None],
    default_name: str | None = None,
) -> dict[str, Any]:
    """Ask for every answer not in ``given``; return them all (not yet planned).

    ``show`` prints the recommendation panel (it receives the Recommendation).
    """
    answers: dict[str, Any] = dict(given)
    names = [q.name for q in contract.questions]
    first = [contract.question(name) for name in _FIRST]
    checklist = contract.questions[names.index("workload") + 1 : names.index("compute")]
    rest = [q for q in contract.questions if q not in checklist]
    rest = [q for q in rest if q.name not in (*_FIRST, "compute")]

    for question in first:
        default = default_name if question.name == "project_name" else None
        _ask_if_missing(contract, question, answers, default)
    for question in checklist:
        if question.name in answers:
            continue
        if contract.asks(question, answers):
            answers[question.name] = _ask(contract, question, answers)
        else:  # does not matter for this workload: its default, like copier
            answers[question.name] = contract.default(question, answers)
    recommendation = recommend_for(contract, answers)
    show(recommendation)
    if "compute" not in answers:
        compute = contract.question("compute")
        answers["compute"] = _ask_compute(contract, compute, answers, recommendation)
    capacity = recommendation.capacity
    planned = {"instance_type": capacity.instances.size} if capacity else {}
    for question in rest:
        if question.name in answers or question.name in COMPUTED_ANSWERS:
            continue
        if contract.applies(question, answers) and contract.asks(question, answers):
            default = planned.get(question.name)
            answers[question.name] = _ask(contract, question, answers, default)
    return answers


def confirm(message: str) -> bool:
    """A yes/no question, yes by default."""
    return bool(questionary.confirm(message, default=True).unsafe_ask())


def _ask_if_missing(
    contract: Contract, question: Question, answers: dict[str, Any], default: Any
) -> None:
    if question.name not in answers:
        answers[question.name] = _ask(contract, question, answers, default)


def _ask_compute(
    contract: Contract, question: Question, answers: dict[str, Any], recommendation: Any
) -> Any:
    """The compute menu: it repeats the recommendation and marks its choice.

    The summary above it already says why, so the menu asks only the question
    (the help up to its "?"), with the one-line recommendation beside it.
    """
    recommended = recommendation.compute
    labels = tuple(
        (f"{label} (recommended)" if value == recommended else label, value)
        for label, value in question.choices
    )
    asked = question.help or question.name
    menu = replace(question, help=asked.split("?")[0] + "?" if "?" in asked else asked)
    menu = replace(menu, choices=labels)
    while True:
        choice = _ask(contract, menu, answers, recommended, instruction=headline(recommendation))
        try:
            check_compute(recommendation, choice)
        except AnswerError as error:
            questionary.print(f"  {error.rule}", style="fg:ansired")
            continue
        return choice


def _ask(
    contract: Contract,
    question: Question,
    answers: dict[str, Any],
    default: Any = None,
    instruction: str | None = None,
) -> Any:
    if default is None and question.default is not None:
        default = contract.default(question, answers)
    message = f"{question.help or question.name}"
    if question.type == "bool":
        return bool(questionary.confirm(message, default=bool(default)).unsafe_ask())
    if question.choices:
        choices = [
            questionary.Choice(title=label, value=value) for label, value in question.choices
        ]
        while True:  # a menu cannot validate as it goes: check the choice, ask again
            start = default if default in question.choice_values else None
            choice = questionary.select(
                message, choices=choices, default=start, instruction=instruction
            ).unsafe_ask()
            try:
                contract.check(question, choice, answers)
            except AnswerError as error:
                questionary.print(f"  {error.rule}", style="fg:ansired")
                continue
            return choice

    def validate(text: str) -> bool | str:
        try:
            contract.check(question, cast_answer(question, text), answers)
        except AnswerError as error:
            return error.rule
        return True

    text = questionary.text(
        message, default="" if default is None else str(default), validate=validate
    ).unsafe_ask()
    return cast_answer(question, text)
