"""The AWS names a project derives from ``project_name``, checked against their rules.

``copier.yml``'s ``aws_names`` table lists every such name (``{project}`` stands for
the answer) with its service's rules; the ``project_name`` validator there checks
the same table for plain copier. A name that breaks a rule is refused before
anything is rendered, with the reason, instead of failing at ``terraform plan`` or
``sam deploy``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["derived_name_violation"]

PLACEHOLDER = "{project}"


def derived_name_violation(project_name: str, table: Iterable[Mapping[str, Any]]) -> str | None:
    """The first rule a name derived from ``project_name`` breaks, in copier.yml's words.

    ``table`` is the ``aws_names`` data table: entries with ``name`` (a pattern with
    ``{project}``), ``what`` (the kind of name, with its article), and optional ``max_length``,
    ``forbidden_prefixes`` and ``forbidden_suffixes``. Returns None when every name
    is valid.
    """
    for entry in table:
        name = str(entry["name"]).replace(PLACEHOLDER, project_name)
        what = entry["what"]
        limit = entry.get("max_length")
        if limit is not None and len(name) > limit:
            return f"makes {name}, longer than the {limit} characters allowed for {what}"
        for prefix in entry.get("forbidden_prefixes", ()):
            if name.startswith(prefix):
                return f"makes {name}, but {what} may not begin with {prefix}"
        for suffix in entry.get("forbidden_suffixes", ()):
            if name.endswith(suffix):
                return f"makes {name}, but {what} may not end with {suffix}"
    return None
