"""Whole numbers as people write them: the one parser for prompts, ``--data`` and options.

Accepted, with an optional sign:

- plain digits, ``1000000``; underscores between digits, ``1_000_000``;
- commas between groups of exactly three digits, ``1,000,000``;
- an exponent, ``1e6``, ``2.5E6``;
- a suffix: ``k``/``K`` (thousand), ``M`` (million), ``B`` (billion), ``1.5M``.

Refused, so that no value is guessed:

- a result that is not whole (``1.5``, ``2.5e-1``);
- a decimal point without an exponent or suffix (``1.000`` is one in some
  locales and a thousand in others);
- commas in other groups (``1,00``), and a lowercase ``m`` (milli or million?).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Final

__all__ = ["RULE", "parse_whole"]

#: What a user is told when the text is not a whole number this parser reads.
RULE: Final = (
    "must be a whole number: 1000000, 1,000,000, 1_000_000, 1e6 or 1M "
    "(a decimal point only with an exponent or k/M/B, as in 2.5M)"
)
_SUFFIXES: Final = {"": 0, "k": 3, "K": 3, "M": 6, "B": 9}
#: Beyond any limit an answer has; stops ``1e999999`` from building a huge integer.
_MAX_EXPONENT: Final = 30
_NUMBER = re.compile(
    r"""
    (?P<sign>[+-]?)
    (?P<whole>\d{1,3}(?:,\d{3})+|\d+(?:_\d+)*)
    (?:\.(?P<fraction>\d+))?
    (?:[eE](?P<exponent>[+-]?\d+))?
    (?P<suffix>[kKMB]?)
    """,
    re.VERBOSE,
)


def parse_whole(raw: object) -> int:
    """The whole number ``raw`` stands for (text, an int, or a float from YAML).

    Raises ValueError carrying the rule the value breaks (:data:`RULE` when it
    is not readable as a number at all).
    """
    if isinstance(raw, int | float):
        return _from_number(raw)
    text = str(raw).strip()
    match = _NUMBER.fullmatch(text)
    if match is None:
        if re.fullmatch(r"[+-]?[\d.,_]+m", text):
            raise ValueError("'m' could mean milli or million: write M for million")
        raise ValueError(RULE)
    fraction, exponent, suffix = match["fraction"], match["exponent"], match["suffix"]
    if fraction is not None and exponent is None and not suffix:
        raise ValueError(RULE)
    shift = _SUFFIXES[suffix] + int(exponent or 0)
    if abs(shift) > _MAX_EXPONENT:
        raise ValueError(f"{text} is out of range")
    digits = match["whole"].replace(",", "").replace("_", "")
    try:
        value = Decimal(f"{match['sign']}{digits}.{fraction or 0}").scaleb(shift)
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        raise ValueError(RULE) from None
    if value != value.to_integral_value():
        raise ValueError(f"must be a whole number ({text} is {value.normalize():f})")
    return int(value)


def _from_number(raw: float) -> int:
    """An int as it is; a float (YAML's ``1.0e+6``) only when whole; never a bool."""
    if isinstance(raw, bool):
        raise ValueError(RULE)
    if isinstance(raw, int):
        return raw
    if not raw.is_integer():
        raise ValueError(f"must be a whole number ({raw:g} is not)")
    return int(raw)
