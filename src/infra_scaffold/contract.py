"""The answer contract: the questions of ``copier.yml``, read without copier.

``copier.yml`` is the one list of questions, choices, defaults and rules. This
module reads it so that the CLI prompts, validates and accepts ``--data`` keys
exactly as copier would, while staying fast: it needs PyYAML, and Jinja only
for expressions it cannot resolve as plain data (never for the bundled
template's checklist).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from infra_scaffold.capacity import (
    CATALOGUE,
    Demand,
    InstanceType,
    duration_refusal,
    misfit,
    nothing_fits,
)
from infra_scaffold.errors import AnswerError, ConfigError, MissingAnswerError, raise_problems
from infra_scaffold.names import derived_name_violation
from infra_scaffold.numbers import parse_whole

__all__ = [
    "COMPUTED_ANSWERS",
    "PROJECT_IDENTITY",
    "Contract",
    "Question",
    "bundled_template",
    "load_contract",
    "parse_data_file",
    "parse_data_options",
]

#: Answers the CLI fills in itself; users cannot pass them.
COMPUTED_ANSWERS = frozenset({"decision_record", "decision_history", "capacity_plan"})
#: Answers that name one project: not taken from another project's answers file.
PROJECT_IDENTITY = frozenset({"project_name"})
#: Keys only copier's answers files hold (they record the template's source).
_ANSWERS_FILE_KEYS = frozenset({"_src_path", "_commit"})

#: A question without an answer or a default, that nothing requires.
_UNANSWERED = object()
_TABLE_DEFAULT = re.compile(r"^\{\{\s*workload_defaults\[workload\]\.(\w+)\s*\}\}$")
_TRUE = frozenset({"y", "yes", "t", "true", "on", "1"})
_FALSE = frozenset({"n", "no", "f", "false", "off", "0"})


@dataclass(frozen=True, slots=True)
class Question:
    """One question of ``copier.yml``."""

    name: str
    """The answer's key, as recorded in ``.copier-answers.yml``."""
    type: str
    """``str``, ``int``, ``float``, ``bool`` or ``yaml``."""
    help: str = ""
    """The prompt text."""
    choices: tuple[tuple[str, Any], ...] = ()
    """``(label, value)`` pairs; empty when any value of the type is allowed."""
    default: Any = None
    """The raw default: a value, or a Jinja expression."""
    when: Any = True
    """Whether the question applies (raw: a bool or a Jinja expression)."""
    ask: Any = True
    """Whether copier prompts for it (raw: a bool or a Jinja expression)."""

    @property
    def choice_values(self) -> tuple[Any, ...]:
        """The values a choice question accepts."""
        return tuple(value for _, value in self.choices)


@dataclass(frozen=True, slots=True)
class Contract:
    """The questions and data tables of one template."""

    root: Path
    """The template's root folder (the one holding ``copier.yml``)."""
    questions: tuple[Question, ...]
    """The questions users answer or the CLI fills in, in ``copier.yml`` order."""
    tables: Mapping[str, Any] = field(default_factory=dict)
    """The computed questions (``when: false``) by name: the data tables
    (``workload_defaults``, ``answer_limits``, ...) and the escaped free text."""

    @property
    def keys(self) -> tuple[str, ...]:
        """Every answer key ``--data`` accepts, in order."""
        return tuple(q.name for q in self.questions if q.name not in COMPUTED_ANSWERS)

    def question(self, name: str) -> Question:
        """Return the question called ``name``."""
        for question in self.questions:
            if question.name == name:
                return question
        raise KeyError(name)

    def table(self, name: str) -> Any:
        """Return a data table, or raise ConfigError naming what is missing."""
        try:
            return self.tables[name]
        except KeyError:
            where = self.root / "copier.yml"
            raise ConfigError(f"{where}: data table {name!r} is missing") from None

    def workload_table(self, workload: str) -> Mapping[str, Any]:
        """Return the defaults (and the ``ask`` list) of one workload."""
        table: Mapping[str, Any] = self.table("workload_defaults")
        return table[workload]  # type: ignore[no-any-return]

    def default(self, question: Question, answers: Mapping[str, Any]) -> Any:
        """The default answer of ``question`` given the answers so far (typed)."""
        raw = question.default
        if isinstance(raw, str) and "{" in raw:
            match = _TABLE_DEFAULT.match(raw.strip())
            if match and "workload" in answers:
                raw = self.workload_table(answers["workload"])[match.group(1)]
            else:
                raw = _render_jinja(raw, {**self.tables, **answers})
        if raw is None:
            return None
        return cast_answer(question, raw)

    def applies(self, question: Question, answers: Mapping[str, Any]) -> bool:
        """Whether ``question`` applies (its ``when``) given the answers so far."""
        return _truthy(question.when, {**self.tables, **answers})

    def asks(self, question: Question, answers: Mapping[str, Any]) -> bool:
        """Whether ``question`` is worth a prompt given the answers so far."""
        name = question.name
        raw = question.ask
        if isinstance(raw, str) and f"'{name}' in workload_defaults[workload].ask" in raw:
            return name in self.workload_table(answers["workload"]).get("ask", ())
        return _truthy(raw, {**self.tables, **answers})

    def check(self, question: Question, value: Any, answers: Mapping[str, Any]) -> None:
        """Raise AnswerError if ``value`` breaks a rule of ``answer_limits``."""
        limits = self.table("answer_limits").get(question.name)
        if limits:
            rule = _limit_violation(value, limits) or self._table_violation(value, limits)
            if rule:
                raise AnswerError(question.name, rule)
        if question.name == "project_name" and "aws_names" in self.tables:
            rule = derived_name_violation(str(value), self.tables["aws_names"])
            if rule:
                raise AnswerError(question.name, rule)
        _check_cross_rules(self, question.name, value, answers)

    def _table_violation(self, value: Any, limits: Mapping[str, Any]) -> str | None:
        """The rule of an answer that must be a key of a data table, with a guess."""
        if "table" not in limits:
            return None
        known: Mapping[str, Any] = self.table(limits["table"])
        if value in known:
            return None
        import difflib  # noqa: PLC0415 - only for a wrong answer

        text = str(value)
        close = difflib.get_close_matches(text.lower(), [str(k) for k in known], n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        return f"{limits['table_rule']}{hint}"

    def resolve(
        self,
        given: Mapping[str, Any],
        *,
        only: Iterable[str] | None = None,
        required: Iterable[str] = (),
        respect_when: bool = True,
    ) -> dict[str, Any]:
        """Fill in defaults for the answers not given, cast and check everything.

        ``only`` limits the result to some keys (and what they depend on);
        a question without a default that is not given is an error when it is
        ``required`` and left out otherwise. With ``respect_when``, questions
        that do not apply are left out, as copier leaves them out.

        Raises AnswerError, or AnswerProblems naming every wrong answer at once.
        """
        answers, problems = self.collect(
            given, only=only, required=required, respect_when=respect_when
        )
        raise_problems(problems)
        return answers

    def collect(
        self,
        given: Mapping[str, Any],
        *,
        only: Iterable[str] | None = None,
        required: Iterable[str] = (),
        respect_when: bool = True,
    ) -> tuple[dict[str, Any], list[AnswerError]]:
        """:meth:`resolve` without raising: the answers that are right, and every problem.

        Once an answer is wrong or missing, a later question that depends on it
        (its default, ``when`` or ``ask`` cannot be worked out) ends the check:
        its problem is the earlier one.
        """
        problems: list[AnswerError] = [
            AnswerError(key, "is filled in by scaffold; it cannot be given")
            for key in sorted(set(given) & COMPUTED_ANSWERS)
        ]
        problems += [
            AnswerError(key, f"unknown key; known keys: {', '.join(self.keys)}")
            for key in sorted(set(given) - set(self.keys) - COMPUTED_ANSWERS)
        ]
        wanted = set(only) if only is not None else None
        needed = set(required)
        answers: dict[str, Any] = {}
        for question in self.questions:
            name = question.name
            if name in COMPUTED_ANSWERS:
                continue
            if wanted is not None and name not in wanted and name not in needed:
                continue
            try:
                if respect_when and not self.applies(question, answers):
                    continue
                value = self._value(question, given, answers, required=name in needed)
            except AnswerError as problem:
                problems.append(problem)
                continue
            except (KeyError, ConfigError):
                if problems:
                    break
                raise
            if value is not _UNANSWERED:
                answers[name] = value
        return answers, problems

    def _value(
        self,
        question: Question,
        given: Mapping[str, Any],
        answers: Mapping[str, Any],
        *,
        required: bool,
    ) -> Any:
        """The checked answer to ``question``: given, else its default (or _UNANSWERED)."""
        if question.name in given:
            value = cast_answer(question, given[question.name])
        elif question.default is not None:
            value = self.default(question, answers)
        elif required:
            raise MissingAnswerError(question.name)
        else:
            return _UNANSWERED
        self.check(question, value, answers)
        return value


def cast_answer(question: Question, raw: Any) -> Any:
    """Cast ``raw`` (text from ``--data`` or a YAML value) to the question's type."""
    name = question.name
    if question.type == "bool":
        value: Any = _to_bool(name, raw)
    elif question.type == "int":
        value = _to_int(name, raw)
    elif question.type == "float":
        value = _to_float(name, raw)
    elif question.type == "str":
        if not isinstance(raw, str | int | float) or isinstance(raw, bool):
            raise AnswerError(name, "must be text")
        value = str(raw)
    else:
        value = raw
    if question.choices and value not in question.choice_values:
        allowed = ", ".join(str(v) for v in question.choice_values)
        raise AnswerError(name, f"must be one of: {allowed}")
    return value


def _to_bool(name: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise AnswerError(name, "must be true or false")


def _to_int(name: str, raw: Any) -> int:
    try:
        return parse_whole(raw)
    except ValueError as error:
        raise AnswerError(name, str(error)) from None


def _to_float(name: str, raw: Any) -> float:
    if isinstance(raw, bool):
        raise AnswerError(name, "must be a number")
    try:
        value = float(str(raw).strip().replace("_", "")) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError):
        raise AnswerError(name, "must be a number") from None
    if not math.isfinite(value):
        raise AnswerError(name, "must be a number")
    return value


def _limit_violation(value: Any, limits: Mapping[str, Any]) -> str | None:
    """The rule ``value`` breaks, in the words of ``copier.yml``'s validators."""
    if isinstance(value, float):
        low, high = limits.get("min"), limits.get("max")
        if limits.get("or_zero") and value == 0:
            return None
        if (low is not None and value < low) or (high is not None and value > high):
            zero = "0 or " if limits.get("or_zero") else ""
            return f"must be {zero}a number from {low} to {high}"
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        low, high = limits.get("min"), limits.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            return f"must be an integer from {low} to {high}"
        return None
    return _text_violation(str(value), limits)


def _text_violation(text: str, limits: Mapping[str, Any]) -> str | None:
    low, high = limits.get("min_length"), limits.get("max_length")
    if (low is not None and len(text) < low) or (high is not None and len(text) > high):
        return (
            f"must be {low} to {high} characters long"
            if low is not None
            else f"must be at most {high} characters long"
        )
    if "pattern" in limits and not re.search(limits["pattern"], text):
        return str(limits["pattern_rule"])
    if "forbidden" in limits and re.search(limits["forbidden"], text):
        return str(limits["forbidden_rule"])
    if text in limits.get("reserved", ()):
        return f"is a reserved word ({', '.join(limits['reserved'])})"
    for prefix in limits.get("reserved_prefixes", ()):
        if text.startswith(prefix):
            return f"must not start with {prefix} (reserved by AWS)"
    return None


def _check_cross_rules(
    contract: Contract, name: str, value: Any, answers: Mapping[str, Any]
) -> None:
    """Rules between answers; the validators in ``copier.yml`` say the same."""
    workload = answers.get("workload")
    if name == "needs_websockets" and value and workload != "websocket":
        raise AnswerError(
            name,
            "persistent WebSocket connections are the websocket workload; "
            "choose workload=websocket",
        )
    if name == "needs_gpu" and value and workload != "ml_inference":
        raise AnswerError(
            name, "GPU projects are the ml_inference workload; choose workload=ml_inference"
        )
    if name == "avg_duration_ms" and "max_duration_seconds" in answers:
        ceiling = answers["max_duration_seconds"] * 1000
        if value > ceiling:
            raise AnswerError(name, f"must not exceed max_duration_seconds ({ceiling} ms)")
    if "capacity_facts" not in contract.tables:
        return  # a release before capacity plans (0.1.0 to 0.3.0) had none of the rules below
    if name == "max_duration_seconds" and isinstance(workload, str):
        refusal = duration_refusal(_shape(contract, workload), value)
        if refusal:
            raise AnswerError(name, refusal)
    if name == "memory_mb":
        _check_some_instance_fits(contract, value, answers)
    if name == "instance_type" and "memory_mb" in answers:
        _check_instance_fits(contract, value, answers)


def _shape(contract: Contract, workload: str) -> Any:
    return contract.workload_table(workload).get("container_shape", "service")


def _demand(contract: Contract, answers: Mapping[str, Any], memory_mb: int) -> Demand:
    """What one request needs, from the answers so far (the volume plays no part)."""
    workload = answers.get("workload")
    return Demand(
        requests_per_month=0,
        avg_duration_ms=1,
        memory_mb=memory_mb,
        vcpus_per_request=answers.get("vcpus_per_request", 0.0),
        worker=isinstance(workload, str) and _shape(contract, workload) == "worker",
        gpu=bool(answers.get("needs_gpu")),
    )


def _catalogue(contract: Contract) -> list[InstanceType]:
    """``copier.yml``'s instance types, as the capacity plan reads them.

    Releases before capacity plans (0.1.0 to 0.3.0) list only each type's
    architecture and GPU: their sizes come from the package's catalogue.
    """
    known = {row.name: row for row in CATALOGUE}
    catalogue = []
    for name, row in contract.table("instance_types").items():
        if "vcpus" in row and "memory_mb" in row:
            catalogue.append(
                InstanceType(
                    name=name,
                    vcpus=row["vcpus"],
                    memory_mb=row["memory_mb"],
                    architecture=row["architecture"],
                    usd_per_hour=0.0,
                    baseline=row.get("baseline"),
                    gpus=1 if row["gpu"] else 0,
                )
            )
        elif name in known:
            catalogue.append(known[name])
    return catalogue


def _check_instance_fits(contract: Contract, value: str, answers: Mapping[str, Any]) -> None:
    catalogue = _catalogue(contract)
    demand = _demand(contract, answers, answers["memory_mb"])
    reason = misfit(next(row for row in catalogue if row.name == value), demand, catalogue)
    if reason:
        raise AnswerError("instance_type", reason)


def _check_some_instance_fits(contract: Contract, value: int, answers: Mapping[str, Any]) -> None:
    reason = nothing_fits(_demand(contract, answers, value), _catalogue(contract))
    if reason:
        raise AnswerError("memory_mb", reason)


def _truthy(raw: Any, context: Mapping[str, Any]) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and "{" in raw:
        raw = _render_jinja(raw, context)
    return str(raw).strip().lower() in _TRUE


def _render_jinja(expression: str, context: Mapping[str, Any]) -> str:
    """Render a ``copier.yml`` expression the way copier does (lazy Jinja import)."""
    from jinja2 import StrictUndefined  # noqa: PLC0415 - only fork templates need Jinja
    from jinja2.exceptions import TemplateError  # noqa: PLC0415
    from jinja2.sandbox import SandboxedEnvironment  # noqa: PLC0415

    environment = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    try:
        return environment.from_string(expression).render(**context)
    except TemplateError as error:
        raise ConfigError(f"copier.yml: cannot evaluate {expression!r}: {error}") from None


def parse_data_options(items: Iterable[str]) -> dict[str, str]:
    """Parse repeated ``--data KEY=VALUE`` options."""
    data: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise AnswerError(item or "--data", "expected KEY=VALUE")
        data[key.strip()] = value
    return data


def parse_data_file(path: Path) -> dict[str, Any]:
    """Read a YAML mapping of answers (``--data-file``).

    From a project's answers file (it records ``_src_path``/``_commit``) the
    answers that name that project (:data:`PROJECT_IDENTITY`) are left out:
    give them with ``--data`` (or ``scaffold new DEST``) to set them.
    """
    import yaml  # noqa: PLC0415 - only needed when a data file is given

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"--data-file {path}: cannot read it ({error.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--data-file {path}: not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"--data-file {path}: not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"--data-file {path}: expected a mapping of KEY: VALUE")
    # An answers file also carries copier's own keys (_src_path, _commit) and
    # the answers scaffold computes itself: they are not inputs. Nor is its
    # project_name: it names the other project, and reusing it would give the
    # new one the same AWS resource names.
    answers_file = any(str(k) in _ANSWERS_FILE_KEYS for k in data)
    return {
        str(k): v
        for k, v in data.items()
        if not str(k).startswith("_")
        and str(k) not in COMPUTED_ANSWERS
        and not (answers_file and str(k) in PROJECT_IDENTITY)
    }


def bundled_template() -> Path:
    """The template this package carries (or, from a checkout, the repo root)."""
    override = os.environ.get("SCAFFOLD_BUNDLED_TEMPLATE")
    if override:
        return Path(override)
    packaged = Path(__file__).parent / "_template"
    if (packaged / "copier.yml").is_file():
        return packaged
    return Path(__file__).resolve().parents[2]


@cache
def load_contract(root: Path | None = None) -> Contract:
    """Read the questions and data tables of the template at ``root``."""
    import yaml  # noqa: PLC0415 - keeps `scaffold --help` free of it

    root = root or bundled_template()
    path = root / "copier.yml"
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_yaml_loader())  # noqa: S506
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the questions ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of questions")
    questions: list[Question] = []
    tables: dict[str, Any] = {}
    for name, spec in raw.items():
        if name.startswith("_"):
            continue
        details = spec if isinstance(spec, dict) else {"default": spec}
        if details.get("when") is False:
            tables[name] = details.get("default")
            continue
        questions.append(_question(name, details))
    return Contract(root=root, questions=tuple(questions), tables=tables)


def _question(name: str, spec: Mapping[str, Any]) -> Question:
    choices = spec.get("choices") or ()
    pairs = (
        tuple((str(label), value) for label, value in choices.items())
        if isinstance(choices, dict)
        else tuple((str(value), value) for value in choices)
    )
    default = spec.get("default")
    type_name = spec.get("type") or {bool: "bool", int: "int"}.get(type(default), "str")
    return Question(
        name=name,
        type=str(type_name),
        help=str(spec.get("help", "")),
        choices=pairs,
        default=default,
        when=spec.get("when", True),
        ask=spec.get("ask", True),
    )


def _yaml_loader() -> Any:
    import yaml  # noqa: PLC0415

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)
