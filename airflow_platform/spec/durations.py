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
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*(?:,|and)?", re.IGNORECASE)
_ISO = re.compile(
    r"P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?",
    re.IGNORECASE,
)
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


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "description": "A duration: a number with a unit (s, m, h, d, or the words), "
            "combined like '1h30m', or ISO 8601 like 'PT2H'.",
            "examples": EXAMPLES,
        }
    ),
]
