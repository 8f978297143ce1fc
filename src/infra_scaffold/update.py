"""`scaffold update`: copier update with the checks a user needs first.

Before: the project must be a git repository, with a clean tree, and an
answers file (each missing one is one line, and nothing changes). During: new
answers (``--data``) are checked like ``scaffold new`` checks them, and the
decision is re-run on them. After: a summary of what changed and of files with
conflict markers, and, when the recommendation differs from the project's
compute, the cost difference and the exact command that switches.
An error or interrupt during the update puts the tree back as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
import yaml

from infra_scaffold.contract import COMPUTED_ANSWERS, load_contract
from infra_scaffold.decision import Recommendation
from infra_scaffold.errors import AnswerError, NotUpdatableError, UpdateError
from infra_scaffold.git import git
from infra_scaffold.plan import Plan, make_plan
from infra_scaffold.render import ANSWERS_FILE
from infra_scaffold.signals import Terminated, terminate_as_exception
from infra_scaffold.sources import resolve_source

__all__ = ["CONFLICT_MARKER", "Outcome", "run", "switch_advice"]

#: How copier marks a conflict inline (``conflict="inline"``).
CONFLICT_MARKER = "<<<<<<< before updating"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an update did."""

    old_ref: str | None
    """Template release before."""
    new_ref: str | None
    """Template release after."""
    changes: tuple[tuple[str, str], ...]
    """``(git status code, path)`` of every changed file."""
    conflicts: tuple[str, ...]
    """Files that carry conflict markers."""


def run(dest: Path, given: Mapping[str, Any], vcs_ref: str | None) -> None:
    """Update the project at ``dest``; exit 1 if conflicts need resolving."""
    dest = dest.absolute()
    recorded = _preflight(dest)
    plan = _plan(recorded, given, vcs_ref)
    head = _git(dest, "rev-parse", "HEAD").strip()
    data = {key: plan.answers[key] for key in given if key in plan.answers}
    planned_type = plan.answers.get("instance_type")
    if planned_type is not None and recorded.get("instance_type") != planned_type:
        # Moving to containers: the plan's type, not copier's one-request default.
        data["instance_type"] = planned_type
    if data:  # the records follow the answers they were made from
        data["decision_record"] = plan.answers["decision_record"]
    if data or not (recorded.get("capacity_plan") or {}).get("sized"):
        # Made before capacity plans, or by plain copier: size it now.
        data["capacity_plan"] = plan.answers["capacity_plan"]
        data.setdefault("decision_record", plan.answers["decision_record"])
    try:
        with terminate_as_exception():
            _copier_update(dest, data, vcs_ref)
    except BaseException as error:
        _restore(dest, head)
        if isinstance(error, KeyboardInterrupt | Terminated):
            typer.echo("\nStopped: the project is as it was.", err=True)
            raise typer.Exit(130 if isinstance(error, KeyboardInterrupt) else 143) from None
        raise
    outcome = _outcome(dest, recorded.get("_commit"))
    typer.echo("\n".join(_summary(dest, outcome)))
    advice = switch_advice(plan.recommendation, str(plan.answers["compute"]), dest)
    if advice:
        typer.echo("\n" + advice)
    if outcome.conflicts:
        typer.echo(
            f"\n{len(outcome.conflicts)} file(s) have conflict markers ({CONFLICT_MARKER!r}): "
            "resolve them, then commit.",
            err=True,
        )
        raise typer.Exit(1)


def switch_advice(recommendation: Recommendation, compute: str, dest: Path) -> str:
    """When the checklist now recommends the other compute: what it saves, and how."""
    if recommendation.compute == compute:
        return ""
    costs = recommendation.costs
    now = costs.option("lambda" if compute == "lambda" else "ec2-asg").monthly_usd
    then = costs.option("lambda" if recommendation.compute == "lambda" else "ec2-asg").monthly_usd
    lines = [
        f"The checklist now recommends {recommendation.compute} (this project uses {compute}).",
        f"  Monthly estimate: {compute} ${now:,.2f}, {recommendation.compute} ${then:,.2f} "
        f"({'saves' if then < now else 'costs'} ${abs(now - then):,.2f} per month).",
    ]
    lines += [f"  - {b.message}" for b in recommendation.blockers]
    lines += [f"  - {reason}" for reason in recommendation.reasons[:1]]
    lines.append(f"  To switch: scaffold update {dest} --data compute={recommendation.compute}")
    return "\n".join(lines)


def _preflight(dest: Path) -> dict[str, Any]:
    """Refuse, in one line each, what copier update cannot work with."""
    if not dest.is_dir():
        raise NotUpdatableError(f"{dest} is not a folder")
    inside = _git(dest, "rev-parse", "--show-toplevel", check=False)
    if not inside or Path(inside.strip()).resolve() != dest.resolve():
        raise NotUpdatableError(
            f"{dest} is not a git repository: copier update needs one "
            "(git init && git add --all && git commit)"
        )
    answers_path = dest / ANSWERS_FILE
    if not answers_path.is_file():
        raise NotUpdatableError(
            f"{dest} has no {ANSWERS_FILE}: it was not made from a template "
            "(scaffold new makes one)"
        )
    if _git(dest, "status", "--porcelain"):
        raise NotUpdatableError(
            f"{dest} has uncommitted changes: commit or stash them first, so the update "
            "can be reviewed and undone"
        )
    recorded = yaml.safe_load(answers_path.read_text(encoding="utf-8")) or {}
    if not isinstance(recorded, dict) or not recorded.get("_src_path"):
        raise NotUpdatableError(f"{answers_path} does not say which template made the project")
    return recorded


def _plan(recorded: Mapping[str, Any], given: Mapping[str, Any], vcs_ref: str | None) -> Plan:
    """Check the recorded answers with the new ones against the target release."""
    bad = sorted(set(given) & COMPUTED_ANSWERS)
    if bad:
        raise AnswerError(bad[0], "is filled in by scaffold; it cannot be given")
    source = resolve_source(str(recorded["_src_path"]), vcs_ref)
    contract = load_contract(source.questions)
    current = {
        k: v for k, v in recorded.items() if not k.startswith("_") and k not in COMPUTED_ANSWERS
    }
    known = set(contract.keys)
    current = {k: v for k, v in current.items() if k in known}  # dropped by the new release
    try:
        return make_plan(contract, {**current, **given})
    except AnswerError as error:
        if error.key != "instance_type" or "instance_type" in given:
            raise
        # The recorded type no longer holds one request (new answers, or rules
        # the project predates): name the type the plan would choose.
        others = {k: v for k, v in {**current, **given}.items() if k != "instance_type"}
        choice = make_plan(contract, others).answers.get("instance_type")
        raise AnswerError(
            "instance_type",
            f"{error.rule}; pass --data instance_type={choice} (the plan's choice) or another "
            "that holds one request",
        ) from None


def _copier_update(dest: Path, data: Mapping[str, Any], vcs_ref: str | None) -> None:
    from copier import run_update  # noqa: PLC0415 - the one place copier updates
    from copier.errors import CopierError  # noqa: PLC0415

    try:
        run_update(
            dest,
            data=dict(data),
            vcs_ref=vcs_ref,
            defaults=True,
            overwrite=True,
            skip_answered=True,
            conflict="inline",
            quiet=True,
            unsafe=False,
        )
    except ValueError as error:
        raise UpdateError(f"copier refused an answer: {error}") from None
    except CopierError as error:
        raise UpdateError(f"copier update failed: {error}") from None


def _outcome(dest: Path, old_ref: Any) -> Outcome:
    status = _git(dest, "status", "--porcelain", "--untracked-files=all")
    changes = tuple((line[:2].strip(), line[3:]) for line in status.splitlines())
    conflicts = tuple(path for code, path in changes if code != "D" and _has_marker(dest / path))
    recorded = yaml.safe_load((dest / ANSWERS_FILE).read_text(encoding="utf-8")) or {}
    new_ref = recorded.get("_commit")
    return Outcome(
        old_ref=str(old_ref) if old_ref else None,
        new_ref=str(new_ref) if new_ref else None,
        changes=changes,
        conflicts=conflicts,
    )


def _has_marker(path: Path) -> bool:
    try:
        return any(line.startswith(CONFLICT_MARKER) for line in path.read_text().splitlines())
    except (OSError, UnicodeDecodeError):
        return False


def _summary(dest: Path, outcome: Outcome) -> list[str]:
    if not outcome.changes:
        return [f"{dest} is up to date with the template ({outcome.new_ref})."]
    names = {"M": "changed", "A": "added", "??": "added", "D": "removed", "R": "renamed"}
    lines = [f"Updated {dest} from {outcome.old_ref} to {outcome.new_ref}:"]
    for code, path in outcome.changes:
        mark = " (conflict)" if path in outcome.conflicts else ""
        lines.append(f"  {names.get(code, code):<8} {path}{mark}")
    lines.append("Review with `git diff`, then commit.")
    return lines


def _restore(dest: Path, head: str) -> None:
    """Put the (previously clean) tree back exactly as it was."""
    _git(dest, "reset", "--hard", "--quiet", head, check=False)
    _git(dest, "clean", "-fd", "--quiet", check=False)


def _git(cwd: Path, *args: str, check: bool = True) -> str:
    return git(*args, cwd=cwd, error=UpdateError, check=check)
