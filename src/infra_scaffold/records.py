"""Decision records: which ADRs about the compute a project keeps, and when to add one.

A project's compute decision is history. ``docs/adr/0001-compute-platform.md``
is written once; when an update changes the recommendation or the compute,
a new record is added that supersedes the one before, and no record is ever
rewritten (the template marks them ``_skip_if_exists``). The recorded answer
``decision_history`` holds one entry per record, oldest first:

- ``number``: the record's ADR number (``0001`` is 1; later ones take the
  next number free in ``docs/adr``, so a team's own ADRs keep theirs);
- ``compute``: the compute chosen (``lambda`` or ``container``);
- ``answers``: the checklist answers it was made from;
- ``recommendation``: the recommendation then (``Recommendation.record()``).

From it, ``copier update`` renders every record again. Projects made before
the history existed (0.1.0, 0.2.0) recorded only ``decision_record``: their
first entry is rebuilt from the answers they recorded, which are what their
ADR 0001 says. Pure: mappings in, lists out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from infra_scaffold.decision import PROFILE_KEYS

__all__ = [
    "HISTORY",
    "RECORD_SLOTS",
    "first_history",
    "next_history",
    "record_name",
    "recorded_history",
    "taken_numbers",
]

#: The recorded answer holding the decision records.
HISTORY = "decision_history"

#: How many records the template renders (0001 and eight superseding files in
#: ``template/docs/adr``): copier makes at most one file of each template file.
RECORD_SLOTS = 9

_ADR_FILE = re.compile(r"^(\d{4})-")


def _entry(
    number: int, answers: Mapping[str, Any], recommendation: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "number": number,
        "compute": answers["compute"],
        "answers": {key: answers[key] for key in PROFILE_KEYS if key in answers},
        "recommendation": dict(recommendation),
    }


def first_history(
    answers: Mapping[str, Any], recommendation: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The history of a new project: ADR 0001, from its answers and recommendation."""
    return [_entry(1, answers, recommendation)]


def recorded_history(recorded: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The history in a project's answers, or its ADR 0001 rebuilt from a 0.1/0.2 project."""
    history = recorded.get(HISTORY)
    if isinstance(history, list) and history:
        return [dict(entry) for entry in history]
    return first_history(recorded, recorded.get("decision_record") or {})


def next_history(
    history: list[dict[str, Any]],
    answers: Mapping[str, Any],
    recommendation: Mapping[str, Any],
    taken: Iterable[int] = (),
) -> list[dict[str, Any]] | None:
    """``history`` plus a record superseding the last, or None when nothing changed.

    A record is added when the compute differs from the last record's, or the
    recommendation differs from one the last record made (a project rendered
    by plain copier recorded none: its first recommendation is no change).
    The new record takes the next ADR number after ``taken`` (numbers already
    used in ``docs/adr``) and the history's own.
    """
    last = history[-1]
    before = (last.get("recommendation") or {}).get("recommended")
    changed = answers["compute"] != last.get("compute") or (
        before is not None and before != recommendation.get("recommended")
    )
    if not changed:
        return None
    number = max([*taken, *(int(entry.get("number", 1)) for entry in history)]) + 1
    return [*history, _entry(number, answers, recommendation)]


def taken_numbers(file_names: Iterable[str]) -> set[int]:
    """ADR numbers in use, from the names of the files in ``docs/adr``."""
    return {int(m.group(1)) for name in file_names if (m := _ADR_FILE.match(name))}


def record_name(entry: Mapping[str, Any]) -> str:
    """The file a history entry renders to: ``docs/adr/NNNN-compute-platform.md``."""
    return f"docs/adr/{int(entry['number']):04d}-compute-platform.md"
