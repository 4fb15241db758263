"""Durations as people write them: "90 minutes", "1h30m", "90m", "45s", "PT2H"."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from airflow_platform.spec.errors import shorten

_UNITS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
}
_NUMBER = r"\d+(?:\.\d+)?"
_PART = re.compile(rf"\s*({_NUMBER})\s*([a-z]+)\s*(?:,|and)?", re.IGNORECASE)


def _iso_duration(*, for_schema: bool) -> str:
    """ISO 8601 ``PnDTnHnMnS``: for the parser with named groups (matched ignoring case), for
    the JSON Schema without names, each letter in either case (patterns have no flags), and
    with at least one part, a ``T`` only before a time part (what the parser also demands)."""

    def letter(upper: str) -> str:
        return f"[{upper}{upper.lower()}]" if for_schema else upper

    def part(name: str) -> str:
        number = f"(?:{_NUMBER})" if for_schema else f"(?P<{name}>{_NUMBER})"
        return f"{number}{letter(name.upper())}"

    if not for_schema:
        return f"P(?:{part('d')})?(?:T(?:{part('h')})?(?:{part('m')})?(?:{part('s')})?)?"
    hours, minutes, seconds = part("h"), part("m"), part("s")
    time = f"{letter('T')}(?:{hours}(?:{minutes})?(?:{seconds})?|{minutes}(?:{seconds})?|{seconds})"
    return f"{letter('P')}(?:{part('d')}(?:{time})?|{time})"


_ISO = re.compile(_iso_duration(for_schema=False), re.IGNORECASE)
MAX_SECONDS = 366 * 86400
"""Longer durations are refused while parsing (the policy's caps are far lower)."""
EXAMPLES = ["90 minutes", "1h30m", "45s", "PT2H"]
_HOW = "write a number with a unit, e.g. '90 minutes', '1h30m', '45s' or ISO 8601 'PT2H'"


def parse_duration(value: Any) -> timedelta:
    """Parses a human or ISO 8601 duration; raises ``ValueError`` saying how to write one."""
    if isinstance(value, timedelta):
        return value
    if value is None:
        raise ValueError(f"the duration is empty; {_HOW}")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a duration; {_HOW}")
    if not isinstance(value, str):
        # A bare number (from JSON, or YAML read elsewhere) never has a unit.
        shown = f"{value}" if abs(value) < 10**15 else "a very large number"
        raise ValueError(f"'{shown}' has no unit; {_HOW}")
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        raise ValueError(f"'{shorten(text)}' has no unit; {_HOW}")
    if not text:
        raise ValueError(f"the duration is empty; {_HOW}")
    if text[0] in "pP":
        iso = _ISO.fullmatch(text)
        if not iso or text.upper() in {"P", "PT"} or text.upper().endswith("T"):
            raise ValueError(f"'{shorten(text)}' is not an ISO 8601 duration; {_HOW}")
        parts = {k: float(v) for k, v in iso.groupdict().items() if v}
        seconds = (
            parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600 + parts.get("m", 0) * 60
        ) + parts.get("s", 0)
        return _bounded(seconds, text)
    seconds = 0.0
    pos = 0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        unit = match.group(2).lower()
        if unit not in _UNITS:
            raise ValueError(
                f"unknown unit '{shorten(match.group(2))}' in '{shorten(text)}'; {_HOW}"
            )
        seconds += float(match.group(1)) * _UNITS[unit]
        pos = match.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f"cannot read '{shorten(text)}' as a duration; {_HOW}")
    return _bounded(seconds, text)


def _bounded(seconds: float, text: str) -> timedelta:
    if not seconds <= MAX_SECONDS:  # also catches inf from a number with hundreds of digits
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise ValueError(
            f"'{shown}' is too long a duration (the most any duration can be is "
            f"{MAX_SECONDS // 86400} days); {_HOW}"
        )
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest exact compact form: ``1h30m``, ``45s``, ``2h``."""
    total = int(value.total_seconds())
    out = ""
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            out += f"{total // size}{unit}"
            total %= size
    return out or "0s"


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" for c in word)


# What parse_duration accepts, as one pattern (the editor's check, and the chart's values
# schema, so no lookaround: Helm's Go regexp has none): number-unit parts, a unit followed by a
# separator, a digit or the end (so '1hand' is refused, as here), or ISO 8601. The 366-day
# bound is the parser's alone.
_UNIT_CHOICES = "|".join(_any_case(u) for u in sorted(_UNITS, key=len, reverse=True))
_SEPARATOR = rf"(?:\s*,|\s+{_any_case('and')})?"
SCHEMA_PATTERN = (
    rf"^\s*(?:(?:\s*{_NUMBER}\s*(?:{_UNIT_CHOICES}){_SEPARATOR})+"
    rf"|{_iso_duration(for_schema=True)})\s*$"
)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": SCHEMA_PATTERN,
            "description": "A duration: a number with a unit (s, m, h, d, or the words), "
            "combined like '1h30m', or ISO 8601 like 'PT2H'.",
            "examples": EXAMPLES,
        }
    ),
]
