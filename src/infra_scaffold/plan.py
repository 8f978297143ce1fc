"""From given answers to a complete, checked set of answers and its recommendation.

Collect (prompts or ``--data``) → :func:`make_plan` → render. The plan holds
every answer copier records, ``compute`` defaulting to the recommendation,
``instance_type`` to the capacity plan's, and ``decision_record`` and
``capacity_plan`` filled in, so rendering needs no further decisions.
"""

from __future__ import annotations

from collections.abc import Mapping
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
from infra_scaffold.errors import AnswerError

__all__ = ["REQUIRED_KEYS", "Plan", "first_unanswered", "make_plan", "recommend_for"]

#: Answers without a default: a project cannot be made without them.
REQUIRED_KEYS = ("project_name", "workload")


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything needed to render one project."""

    answers: Mapping[str, Any]
    """Every answer to record, ``decision_record`` and ``capacity_plan`` included."""
    recommendation: Recommendation
    """What the checklist recommends (``answers['compute']`` may differ if allowed)."""


def recommend_for(contract: Contract, given: Mapping[str, Any]) -> Recommendation:
    """Resolve the checklist answers in ``given`` (defaults for the rest) and decide.

    An ``instance_type`` not given is left to the capacity plan (the cheapest
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
    return recommend(replace(profile, offered_instance_types=offered))


def make_plan(contract: Contract, given: Mapping[str, Any]) -> Plan:
    """Complete ``given`` into the answers of a project, or raise AnswerError.

    ``compute`` defaults to the recommendation; an explicit ``compute`` that a
    hard blocker rules out is refused with the blocker's sentence.
    ``instance_type`` defaults to the capacity plan's.
    """
    recommendation = recommend_for(contract, given)
    capacity = recommendation.capacity
    if capacity is None:  # the validators refuse such answers first; a fork may not
        reason = recommendation.costs.option("ec2-asg").unavailable_reason
        raise AnswerError("instance_type", reason or "no instance type holds one request")
    compute = recommendation.compute
    if "compute" in given:
        compute = cast_answer(contract.question("compute"), given["compute"])
    check_compute(recommendation, compute)
    planned = {"compute": compute, "instance_type": capacity.instances.size}
    answers = contract.resolve({**planned, **given, "compute": compute}, required=REQUIRED_KEYS)
    answers["decision_record"] = recommendation.record()
    answers["capacity_plan"] = capacity.record()
    return Plan(answers=answers, recommendation=recommendation)


def first_unanswered(contract: Contract, given: Mapping[str, Any]) -> str | None:
    """The first question an interactive run would ask that ``given`` leaves open.

    Without a terminal nobody can be asked: ``scaffold new`` stops at once and
    names it (``--defaults`` takes every default instead).
    """
    resolved = dict(given)
    for question in contract.questions:
        name = question.name
        if name in COMPUTED_ANSWERS or name in resolved:
            continue
        if not contract.applies(question, resolved):
            continue
        if name in REQUIRED_KEYS or name == "compute" or contract.asks(question, resolved):
            return name
        resolved[name] = contract.default(question, resolved)
    return None
