"""The errors infra-scaffold reports to its users.

Every error a user can cause derives from :class:`ScaffoldError`; the CLI maps
it to one line on standard error (one line per problem, when several answers
are wrong at once) and the error's exit code, never a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AnswerError",
    "AnswerProblems",
    "ComputeForbiddenError",
    "ConfigError",
    "MissingAnswerError",
    "MissingReleaseError",
    "NotUpdatableError",
    "RenderError",
    "ScaffoldError",
    "SourceError",
    "UpdateError",
    "raise_problems",
]


class ScaffoldError(Exception):
    """Base class of the errors the CLI reports as one line."""

    exit_code: int = 1


class AnswerError(ScaffoldError):
    """An answer breaks a rule: names the key and the rule."""

    exit_code = 2

    def __init__(self, key: str, rule: str) -> None:
        self.key = key
        self.rule = rule
        super().__init__(f"{key}: {rule}")


class AnswerProblems(ScaffoldError):
    """Several answers break rules: every one is reported, one line each."""

    exit_code = 2

    def __init__(self, problems: Sequence[AnswerError], advice: str = "") -> None:
        self.problems = tuple(problems)
        self.advice = advice
        lines = [str(problem) for problem in self.problems]
        super().__init__("\n".join([*lines, advice] if advice else lines))


def raise_problems(problems: Sequence[AnswerError]) -> None:
    """Raise nothing, the one problem, or :class:`AnswerProblems` for several."""
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise AnswerProblems(problems)


class MissingAnswerError(AnswerError):
    """A required answer is missing and nobody can be asked for it."""

    def __init__(self, key: str, hint: str = "", *, brief: bool = False) -> None:
        advice = "" if brief else f"; pass --data {key}=VALUE or --data-file FILE{hint}"
        super().__init__(key, f"missing{advice}")


class ComputeForbiddenError(AnswerError):
    """The chosen compute is ruled out by a hard blocker."""

    def __init__(self, compute: str, reason: str) -> None:
        super().__init__("compute", f"{compute} is ruled out: {reason}")


class ConfigError(ScaffoldError):
    """A file the tool reads (copier.yml, a data file) is unreadable or malformed."""

    exit_code = 2


class RenderError(ScaffoldError):
    """Rendering a project failed; nothing was left behind."""


class UpdateError(ScaffoldError):
    """A project cannot be updated as asked; it was left as it was."""


class NotUpdatableError(UpdateError):
    """The project is not in a state copier update can work with (checked first)."""

    exit_code = 2


class MissingReleaseError(ScaffoldError):
    """A template release is not where it was looked for: names it and those available."""

    exit_code = 2


class SourceError(ScaffoldError):
    """A template source cannot be read: unreachable, not a git repository, no releases."""

    exit_code = 2
