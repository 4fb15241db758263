"""Durations as people write them, and the compact form the platform prints."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_platform.spec.durations import format_duration, parse_duration

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("60 minutes", 3600),
        ("90 minutes", 5400),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("90m", 5400),
        ("45s", 45),
        ("2 hours", 7200),
        ("1 hour 30 minutes", 5400),
        ("2 hours, 15 minutes", 8100),
        ("1 hour and 30 minutes", 5400),
        ("1.5h", 5400),
        ("1d", 86400),
        ("3 days", 259200),
        ("10 MIN", 600),
        ("  5m  ", 300),
        ("PT2H", 7200),
        ("PT1H30M", 5400),
        ("PT45S", 45),
        ("P1D", 86400),
        ("P1DT1H", 90000),
        ("pt10m", 600),
    ],
)
def test_parse_duration_reads_human_and_iso_forms(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_parse_duration_passes_a_timedelta_through() -> None:
    assert parse_duration(timedelta(minutes=3)) == timedelta(minutes=3)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("90", "'90' has no unit"),
        (90, "'90' has no unit"),
        ("1.5", "'1.5' has no unit"),
        ("", "the duration is empty"),
        ("   ", "the duration is empty"),
        ("3 fortnights", "unknown unit 'fortnights' in '3 fortnights'"),
        ("10 mins and a bit", "cannot read '10 mins and a bit' as a duration"),
        ("1h30", "cannot read '1h30' as a duration"),
        ("PT", "'PT' is not an ISO 8601 duration"),
        ("P", "'P' is not an ISO 8601 duration"),
        ("P1DT", "'P1DT' is not an ISO 8601 duration"),
        ("PT2X", "'PT2X' is not an ISO 8601 duration"),
        ("h", "cannot read 'h' as a duration"),
        ("1h-30m", "cannot read '1h-30m' as a duration"),
        (True, "expected a duration"),
        (None, "the duration is empty"),
        ([1, "h"], "expected a duration"),
        (10**30, "'a very large number' has no unit"),
        ("99999999999999999999 days", "'99999999999999999999 days' is too long a duration"),
        ("P99999999999999D", "'P99999999999999D' is too long a duration"),
        ("1" * 400 + "s", "'" + "1" * 37 + "...' is too long a duration"),
        (
            "367 days",
            "'367 days' is too long a duration (the most any duration can be is 366 days)",
        ),
    ],
)
def test_parse_duration_refuses_with_how_to_write_one(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=r"e\.g\. '90 minutes'") as caught:
        parse_duration(value)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (45, "45s"), (60, "1m"), (5400, "1h30m"), (7200, "2h"), (3661, "1h1m1s"),
     (86400, "24h"), (172800, "48h")],
)  # fmt: skip
def test_format_duration_gives_the_shortest_exact_compact_form(seconds: int, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text


@pytest.mark.parametrize("seconds", [1, 59, 61, 3599, 3600, 5400, 86399, 90061])
def test_format_then_parse_round_trips(seconds: int) -> None:
    assert parse_duration(format_duration(timedelta(seconds=seconds))) == timedelta(seconds=seconds)
