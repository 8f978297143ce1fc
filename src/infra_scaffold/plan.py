"""From given answers to a complete, checked set of answers and its recommendation.

Collect (prompts or ``--data``) → :func:`make_plan` → render. The plan holds
every answer copier records, ``compute`` defaulting to the recommendation,
``instance_type`` to the capacity plan's, and ``decision_record``,
``capacity_plan`` and, where the template has it, the first entry of
``decision_history`` (ADR 0001) filled in, so rendering needs no further
decisions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from infra_scaffold.contract import COMPUTED_ANSWERS, Contract, cast_answer
from infra_scaffold.decision import (
    PROFILE_KEYS,
    Recommendation,
    WorkloadProfile,
    check_compute,
    recommend,
)
from infra_scaffold.errors import (
    AnswerError,
    AnswerProblems,
    ConfigError,
    MissingAnswerError,
    raise_problems,
)
from infra_scaffold.records import HISTORY, first_history

__all__ = ["REQUIRED_KEYS", "Plan", "check_given", "make_plan", "recommend_for", "unanswered"]

#: Answers without a default: a project cannot be made without them.
REQUIRED_KEYS = ("project_name", "workload")


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything needed to render one project."""

    answers: Mapping[str, Any]
    """Every answer to record, ``decision_record``, ``capacity_plan`` (and
    ``decision_history``) included."""
    recommendation: Recommendation
    """What the checklist recommends (``answers['compute']`` may differ if allowed)."""


def recommend_for(contract: Contract, given: Mapping[str, Any]) -> Recommendation:
    """Resolve the checklist answers in ``given`` (defaults for the rest) and decide.

    A ``compute`` in ``given`` that a hard blocker rules out is refused with
    the blocker's sentence (ComputeForbiddenError), wherever it is given. An
    ``instance_type`` not given is left to the capacity plan (the cheapest
    fleet that serves the peak).
    """
    keys = tuple(k for k in PROFILE_KEYS if k != "instance_type" or k in given)
    checklist = contract.resolve(
        {k: v for k, v in given.items() if k in keys},
        only=keys,
        required=("workload",),
        respect_when=False,
    )
    profile = WorkloadProfile.from_answers(checklist)
    # A fork may offer fewer instance types than the catalogue: plan among its own.
    offered = tuple(str(v) for v in contract.question("instance_type").choice_values)
    recommendation = recommend(replace(profile, offered_instance_types=offered))
    if "compute" in given:
        check_compute(recommendation, cast_answer(contract.question("compute"), given["compute"]))
    return recommendation


def make_plan(contract: Contract, given: Mapping[str, Any]) -> Plan:
    """Complete ``given`` into the answers of a project, or raise AnswerError.

    ``compute`` defaults to the recommendation; an explicit ``compute`` that a
    hard blocker rules out is refused with the blocker's sentence.
    ``instance_type`` defaults to the capacity plan's.
    """
    recommendation = recommend_for(contract, given)
    capacity = recommendation.capacity
    asked = {q.name for q in contract.questions}
    sized = "capacity_plan" in asked  # not in releases before 0.4.0
    if capacity is None and sized:  # the validators refuse such answers first; a fork may not
        reason = recommendation.costs.option("ec2-asg").unavailable_reason
        raise AnswerError("instance_type", reason or "no instance type holds one request")
    compute = recommendation.compute
    offered = contract.question("compute").choice_values
    if compute not in offered and compute == "fargate":
        # A release before Fargate (0.4.0 and older) offers containers on EC2 only.
        compute = "container"
    if "compute" in given:
        compute = cast_answer(contract.question("compute"), given["compute"])
    planned: dict[str, Any] = {"compute": compute}
    if capacity is not None:
        planned["instance_type"] = capacity.instances.size
    answers = contract.resolve({**planned, **given, "compute": compute}, required=REQUIRED_KEYS)
    answers["decision_record"] = recommendation.record()
    if capacity is not None and sized:
        answers["capacity_plan"] = capacity.record()
    if HISTORY in asked:  # not in 0.1.0 to 0.3.0
        answers[HISTORY] = first_history(answers, answers["decision_record"])
    return Plan(answers=answers, recommendation=recommendation)


def check_given(contract: Contract, given: Mapping[str, Any], *, complete: bool) -> None:
    """Raise every problem of ``given`` at once: each wrong value and, with
    ``complete``, each answer an interactive run would ask for that is missing.

    Without a terminal nobody can be asked, so ``scaffold new`` names every
    missing key in one message (``--defaults`` takes every default instead).
    """
    valid, problems = contract.collect(given, only=tuple(given), respect_when=False)
    wrong = {problem.key for problem in problems}
    missing = unanswered(contract, valid, wrong) if complete else []
    hint = " (no terminal to ask in), or use --defaults"
    if missing and not problems and len(missing) == 1:
        raise MissingAnswerError(missing[0], hint)
    problems += [MissingAnswerError(key, brief=True) for key in missing]
    order = {name: index for index, name in enumerate(contract.keys)}
    problems.sort(key=lambda problem: order.get(problem.key, -1))
    if missing:
        advice = f"pass the missing answers with --data KEY=VALUE or --data-file FILE{hint}"
        raise AnswerProblems(problems, advice)
    raise_problems(problems)


def unanswered(contract: Contract, given: Mapping[str, Any], skip: Iterable[str] = ()) -> list[str]:
    """The questions an interactive run would ask that ``given`` leaves open, in order.

    ``given`` holds checked, typed answers; ``skip`` names answers given but
    wrong. The search stops at a question that depends on an answer missing
    or wrong (it is named already).
    """
    resolved = dict(given)
    skipped = set(skip)
    missing: list[str] = []
    for question in contract.questions:
        name = question.name
        if name in COMPUTED_ANSWERS or name in resolved or name in skipped:
            continue
        try:
            if not contract.applies(question, resolved):
                continue
            if name in REQUIRED_KEYS or name == "compute" or contract.asks(question, resolved):
                missing.append(name)
                continue
            resolved[name] = contract.default(question, resolved)
        except (KeyError, ConfigError):
            break
    return missing
