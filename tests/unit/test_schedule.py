"""Schedules: presets and cron expressions, checked as Airflow's cron parser (croniter) would."""

from __future__ import annotations

import pytest

from airflow_platform.spec.models import SCHEDULE_PRESETS, _check_schedule

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "schedule",
    [*SCHEDULE_PRESETS, "0 6 * * *", "*/5 * * * 1-5", "0 0 L * *", "0 0 15W * *",
     "0 0 * * 1#2", "0 0 1 JAN,jul *", "0 0 * * MON-FRI", "0 9-17/2 * * *", "0 0 * * 7",
     "0 0 ? * *", " 0 6 * * * "],
)  # fmt: skip
def test_valid_schedules_are_accepted(schedule: str) -> None:
    assert _check_schedule(schedule) == schedule.strip()


def test_absent_schedule_means_on_demand() -> None:
    assert _check_schedule(None) is None


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        ("@dialy", "unknown schedule preset '@dialy'; did you mean '@daily'? use one of"),
        ("0 6 * *", "is not a cron expression (5 fields"),
        ("0 6 * * * *", "is not a cron expression (5 fields"),
        ("every day", "is not a cron expression (5 fields"),
        ("61 * * * *", "61 is out of range for the minute field (0-59)"),
        ("0 24 * * *", "24 is out of range for the hour field (0-23)"),
        ("0 0 0 * *", "0 is out of range for the day of month field (1-31)"),
        ("0 0 32 * *", "32 is out of range for the day of month field (1-31)"),
        ("0 0 * 13 *", "13 is out of range for the month field (1-12)"),
        ("0 0 * * 8", "8 is out of range for the day of week field (0-7)"),
        ("0 0 * FOO *", "'FOO' is not a month (1-12)"),
        ("*/0 * * * *", "the step '/0' of the minute field must be a positive whole number"),
        ("1,,2 * * * *", "'' is not a minute (0-59)"),
        ("? 0 * * *", "'?' is not a minute (0-59)"),
        ("0 0 LW * *", "'LW' is not a day of month (1-31)"),
        ("0 0 * * 5L", "'5L' is not a day of week (0-7)"),
    ],
)
def test_invalid_schedules_say_which_field_is_wrong(schedule: str, problem: str) -> None:
    with pytest.raises(ValueError, match="'0 6 \\* \\* \\*'") as caught:
        _check_schedule(schedule)
    assert problem in str(caught.value)
