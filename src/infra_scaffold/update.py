"""`scaffold update`: copier update with the checks a user needs first.

Before: the project is found (from any folder inside it), must be in a git
repository with a clean tree, and have an answers file; new answers
(``--data``) are checked like ``scaffold new`` checks them. All of that
happens before anything reads a template source, so a mistake is reported
as itself, offline. Then the releases are prepared (:mod:`infra_scaffold.upstream`:
the package's own release history for bundled projects, no network), the
decision is re-run on the answers, and copier updates the project. After: a
summary of what changed, of files with conflict markers and of any decision
record added; when the recommendation differs from the project's compute,
the cost difference and the exact command that switches. An error or
interrupt during the update puts the tree back as it was.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
import yaml

from infra_scaffold import records
from infra_scaffold.contract import COMPUTED_ANSWERS, load_contract
from infra_scaffold.decision import OPTION_OF_COMPUTE, Recommendation
from infra_scaffold.errors import AnswerError, NotUpdatableError, UpdateError
from infra_scaffold.git import git, git_environment
from infra_scaffold.plan import Plan, make_plan
from infra_scaffold.render import ANSWERS_FILE, record_source
from infra_scaffold.signals import Terminated, terminate_as_exception
from infra_scaffold.sources import is_bundled
from infra_scaffold.upstream import Upstream, open_upstream

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
    """``(git status code, path)`` of every changed file, from the repository root."""
    conflicts: tuple[str, ...]
    """Files that carry conflict markers."""


@dataclass(frozen=True, slots=True)
class _Project:
    root: Path
    """The folder holding the answers file."""
    top: Path
    """The git repository it is in (the same folder, or one above)."""
    recorded: Mapping[str, Any]
    """The answers file."""


def run(
    dest: Path, given: Mapping[str, Any], vcs_ref: str | None, template: str | None = None
) -> None:
    """Update the project at or above ``dest``; exit 1 if conflicts need resolving."""
    project = _preflight(_find_project(dest.absolute()))
    recorded = project.recorded
    _check_given(given, recorded, strict=is_bundled(template or str(recorded["_src_path"])))
    with open_upstream(
        str(recorded["_src_path"]), str(recorded.get("_commit", "")), template, vcs_ref
    ) as upstream:
        plan, notice = _plan(recorded, given, upstream)
        data, added = _data(project, given, plan)
        head = _git(project.top, "rev-parse", "HEAD").strip()
        try:
            with terminate_as_exception():
                _copier_update(project.root, data, upstream)
                if upstream.record_src:
                    record_source(project.root / ANSWERS_FILE, upstream.record_src, None)
        except BaseException as error:
            _restore(project.top, head)
            if isinstance(error, KeyboardInterrupt | Terminated):
                typer.echo("\nStopped: the project is as it was.", err=True)
                raise typer.Exit(130 if isinstance(error, KeyboardInterrupt) else 143) from None
            raise
    outcome = _outcome(project, recorded.get("_commit"))
    typer.echo("\n".join(_summary(project.root, outcome, upstream)))
    if notice:
        typer.echo("\n" + notice)
    if added:
        typer.echo("\n" + _record_note(added))
    advice = switch_advice(plan.recommendation, str(plan.answers["compute"]), project.root)
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
    now = costs.option(OPTION_OF_COMPUTE.get(compute, "ec2-asg")).monthly_usd
    then = costs.option(OPTION_OF_COMPUTE[recommendation.compute]).monthly_usd
    lines = [
        f"The checklist now recommends {recommendation.compute} (this project uses {compute}).",
        f"  Monthly estimate: {compute} ${now:,.2f}, {recommendation.compute} ${then:,.2f} "
        f"({'saves' if then < now else 'costs'} ${abs(now - then):,.2f} per month).",
    ]
    lines += [f"  - {b.message}" for b in recommendation.blockers]
    lines += [f"  - {reason}" for reason in recommendation.reasons[:1]]
    lines.append(f"  To switch: scaffold update {dest} --data compute={recommendation.compute}")
    return "\n".join(lines)


def _find_project(dest: Path) -> tuple[Path, Path | None]:
    """The nearest folder at or above ``dest`` with an answers file, and its git repository.

    Inside a repository the search stops at its root; outside one it goes up
    to the file system's root.
    """
    if not dest.is_dir():
        raise NotUpdatableError(f"{dest} is not a folder")
    inside = _git(dest, "rev-parse", "--show-toplevel", check=False).strip()
    top = Path(inside).resolve() if inside else None
    here = dest.resolve()
    for folder in (here, *here.parents):
        if (folder / ANSWERS_FILE).is_file():
            return folder, top
        if folder == top:
            break
    above = f", nor has any folder above it up to the repository root {top}"
    raise NotUpdatableError(
        f"{dest} has no {ANSWERS_FILE}{above if top and top != here else ''}: it was not made "
        "from a template (scaffold new makes one)"
    )


def _preflight(found: tuple[Path, Path | None]) -> _Project:
    """Refuse, in one line each, what copier update cannot work with."""
    root, top = found
    if top is None or not root.is_relative_to(top):
        raise NotUpdatableError(
            f"{root} is not a git repository, nor inside one: copier update needs one "
            f"(cd {root} && git init && git add --all && git commit)"
        )
    changed = [line[3:] for line in _git(top, "status", "--porcelain").splitlines() if line]
    if changed:
        more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        shown = ", ".join(changed[:5]) + more
        raise NotUpdatableError(
            f"{top} has uncommitted changes ({shown}): commit or stash them first, so the "
            "update can be reviewed and undone"
        )
    answers_path = root / ANSWERS_FILE
    try:
        recorded = yaml.safe_load(answers_path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError):
        raise NotUpdatableError(f"{answers_path} is not valid YAML") from None
    if not isinstance(recorded, dict) or not recorded.get("_src_path"):
        raise NotUpdatableError(f"{answers_path} does not say which template made the project")
    if not recorded.get("_commit"):
        raise NotUpdatableError(f"{answers_path} does not say which template release made it")
    return _Project(root=root, top=top, recorded=recorded)


def _check_given(given: Mapping[str, Any], recorded: Mapping[str, Any], *, strict: bool) -> None:
    """Check new answers offline, with the project's, against this package's questions.

    For the bundled template those are the target's questions: every new
    answer is checked. A fork may ask more, or allow more: only new answers
    to questions this package knows are checked here, and the fork's release
    checks them all once it is read. Only errors about new answers count: a
    recorded answer was valid for the release that recorded it.
    """
    bad = sorted(set(given) & COMPUTED_ANSWERS)
    if bad:
        raise AnswerError(bad[0], "is filled in by scaffold; it cannot be given")
    contract = load_contract()
    keys = set(contract.keys)
    answers = {k: v for k, v in recorded.items() if k in keys}
    answers.update((k, v) for k, v in given.items() if strict or k in keys)
    try:
        make_plan(contract, answers)
    except AnswerError as error:
        if error.key in given:
            raise


def _plan(
    recorded: Mapping[str, Any], given: Mapping[str, Any], upstream: Upstream
) -> tuple[Plan, str | None]:
    """Check the recorded answers with the new ones against the target release.

    Returns the plan, and a notice when the recorded instance type no longer
    holds one request (new answers, or rules the project predates) and the
    plan's choice replaces it. An ``instance_type`` given now is never replaced:
    it is refused with the reason.
    """
    _check_direction(str(recorded["_commit"]), upstream.ref)
    contract = load_contract(upstream.questions)
    current = {
        k: v for k, v in recorded.items() if not k.startswith("_") and k not in COMPUTED_ANSWERS
    }
    known = set(contract.keys)
    current = {k: v for k, v in current.items() if k in known}  # dropped by the new release
    try:
        return make_plan(contract, {**current, **given}), None
    except AnswerError as error:
        if error.key != "instance_type" or "instance_type" in given:
            raise
        others = {k: v for k, v in {**current, **given}.items() if k != "instance_type"}
        plan = make_plan(contract, others)
        notice = (
            f"instance_type: {current['instance_type']} -> {plan.answers['instance_type']}: "
            f"{error.rule}. The plan's choice replaces it (review it in `git diff`); "
            "to choose another: scaffold update --data instance_type=TYPE"
        )
        return plan, notice


def _check_direction(old: str, new: str) -> None:
    from packaging.version import InvalidVersion, Version  # noqa: PLC0415

    try:
        backwards = Version(new) < Version(old)
    except InvalidVersion:
        return
    if backwards:
        raise NotUpdatableError(
            f"the project is at {old}; {new} is older, and copier update cannot go back"
        )


def _data(
    project: _Project, given: Mapping[str, Any], plan: Plan
) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    """The answers to pass to copier, and the decision history if a record was added."""
    data = {key: plan.answers[key] for key in given if key in plan.answers}
    recorded = project.recorded
    planned_type = plan.answers.get("instance_type")
    if planned_type is not None and recorded.get("instance_type") != planned_type:
        # Moving to containers: the plan's type, not copier's one-request default.
        data["instance_type"] = planned_type
    if "capacity_plan" in plan.answers and (
        data or not (recorded.get("capacity_plan") or {}).get("sized")
    ):
        # New answers, or a project made before capacity plans (or by plain
        # copier): size it now. The decision record follows (below).
        data["capacity_plan"] = plan.answers["capacity_plan"]
    if records.HISTORY not in plan.answers:  # a target release without decision records
        if data:
            data["decision_record"] = plan.answers["decision_record"]
        return data, None
    history = records.recorded_history(project.recorded)
    adr = project.root / "docs" / "adr"
    taken = records.taken_numbers(p.name for p in adr.iterdir()) if adr.is_dir() else set()
    longer = records.next_history(history, plan.answers, plan.answers["decision_record"], taken)
    if data or longer:  # the record follows the answers it was made from
        data["decision_record"] = plan.answers["decision_record"]
    if longer or not project.recorded.get(records.HISTORY):  # 0.1/0.2 and plain copier
        data[records.HISTORY] = longer or history
    return data, longer


@contextmanager
def _environ(**values: str) -> Iterator[None]:
    """Set environment variables for this process, and put them back after."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _copier_update(dest: Path, data: Mapping[str, Any], upstream: Upstream) -> None:
    from copier import run_update  # noqa: PLC0415 - the one place copier updates
    from copier.errors import CopierError  # noqa: PLC0415

    # The redirect to the upstream repository, and a throwaway cache for
    # copier's mirror of it, in this process's environment; git_environment()
    # adds the overrides that keep the user's hooks and signing out, and hands
    # all of it to plumbum, whose copy of the environment copier's git uses.
    cache = upstream.repository.parent / "copier-cache"
    try:
        with _environ(**upstream.git_env(), COPIER_CACHE_DIR=str(cache)), git_environment():
            run_update(
                dest,
                data=dict(data),
                vcs_ref=upstream.ref,
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


def _outcome(project: _Project, old_ref: Any) -> Outcome:
    status = _git(project.top, "status", "--porcelain", "--untracked-files=all")
    changes = tuple((line[:2].strip(), line[3:]) for line in status.splitlines())
    conflicts = tuple(
        path for code, path in changes if code != "D" and _has_marker(project.top / path)
    )
    recorded = yaml.safe_load((project.root / ANSWERS_FILE).read_text(encoding="utf-8")) or {}
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


def _summary(dest: Path, outcome: Outcome, upstream: Upstream) -> list[str]:
    source = f" ({upstream.label})"
    if not outcome.changes:
        return [f"{dest} is up to date with the template ({outcome.new_ref}{source})."]
    names = {"M": "changed", "A": "added", "??": "added", "D": "removed", "R": "renamed"}
    lines = [f"Updated {dest} from {outcome.old_ref} to {outcome.new_ref}{source}:"]
    for code, path in outcome.changes:
        mark = " (conflict)" if path in outcome.conflicts else ""
        lines.append(f"  {names.get(code, code):<8} {path}{mark}")
    if upstream.record_src:
        lines.append(f"The project now records its template source as {upstream.record_src}.")
    lines.append("Review with `git diff`, then commit.")
    return lines


def _record_note(history: list[dict[str, Any]]) -> str:
    entry = history[-1]
    lines = [
        f"Decision record {records.record_name(entry)} supersedes "
        f"{records.record_name(history[-2])}: {entry['compute']} chosen, "
        f"{entry['recommendation'].get('recommended')} recommended.",
        "  Records are never rewritten; to make the earlier one point here, change its "
        "status line to 'superseded by' yourself.",
    ]
    if len(history) > records.RECORD_SLOTS:
        lines.append(
            f"  The template renders {records.RECORD_SLOTS} records: this one is kept in "
            f"{ANSWERS_FILE} only; write its file by hand."
        )
    return "\n".join(lines)


def _restore(top: Path, head: str) -> None:
    """Put the (previously clean) tree back exactly as it was."""
    _git(top, "reset", "--hard", "--quiet", head, check=False)
    _git(top, "clean", "-fd", "--quiet", check=False)


def _git(cwd: Path, *args: str, check: bool = True) -> str:
    return git(*args, cwd=cwd, error=UpdateError, check=check)
