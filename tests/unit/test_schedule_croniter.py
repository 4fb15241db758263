"""Our cron check against croniter, the parser Airflow schedules with.

The platform checks cron expressions itself (`spec.models._check_schedule`) to say which field
is wrong, and so that `validate` does not import croniter (about 50 ms of start-up, for every
spec with a schedule). croniter stays the authority: hypothesis writes expressions from the
pieces cron is made of, and

- whatever we accept, croniter accepts (else a DAG that passed `validate` would fail to parse);
- every ordinary expression croniter accepts, we accept;
- where croniter tolerates oddities (a range ending at 0 in a field counted from 1, `#` inside
  a list), we refuse with a message, listed below by design.
"""

from __future__ import annotations

import pytest
from croniter import croniter
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from airflow_platform.spec.models import _check_schedule

pytestmark = pytest.mark.unit

_ANY_ATOM = st.one_of(
    st.integers(min_value=0, max_value=65).map(str),
    st.sampled_from(["*", "?", "L", "W", "15W", "LW", "5L", "1#2", "sun#1", "7#5", "0#6", ""]),
    st.sampled_from(["jan", "FEB", "Dec", "mon", "SUN", "sat", "foo"]),
)


@st.composite
def _any_item(draw: st.DrawFn) -> str:
    base = draw(_ANY_ATOM)
    if draw(st.booleans()) and base not in ("*", "?", ""):
        base = f"{base}-{draw(_ANY_ATOM)}"
    if draw(st.integers(0, 3)) == 0:
        base = f"{base}/{draw(st.sampled_from(['0', '1', '2', '15', '100', 'x', '']))}"
    return base


_ANY_FIELD = st.lists(_any_item(), min_size=1, max_size=3).map(",".join)
_ANY = st.lists(_ANY_FIELD, min_size=5, max_size=5).map(" ".join)

# (low, high, names) of minute, hour, day of month, month, day of week.
_FIELDS = (
    (0, 59, ()),
    (0, 23, ()),
    (1, 31, ("L",)),
    (1, 12, ("jan", "FEB", "Dec")),
    (0, 7, ("mon", "SUN", "sat")),
)


@st.composite
def _ordinary_field(draw: st.DrawFn, index: int) -> str:
    low, high, names = _FIELDS[index]
    special = {2: ["?", "15W", "1W"], 4: ["?", "1#2", "sun#1", "7#5"]}.get(index, [])
    if special and draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from(special))  # these stand alone in their field
    items = []
    for _ in range(draw(st.integers(1, 3))):
        first = draw(st.integers(low, high))
        item = draw(st.sampled_from(["*", str(first), *names]))
        if item.isdigit() and draw(st.booleans()):
            item += f"-{draw(st.integers(first, high))}"
        if item == "L":
            items.append(item)  # the last day takes no step
            continue
        if draw(st.integers(0, 2)) == 0:
            item += f"/{draw(st.integers(1, 30))}"
        items.append(item)
    return ",".join(items)


_ORDINARY = st.tuples(*(_ordinary_field(i) for i in range(5))).map(" ".join)


def _ours(expression: str) -> bool:
    try:
        _check_schedule(expression)
    except ValueError:
        return False
    return True


_SETTINGS = settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(_ANY)
@example("0 0 ?/1 * *")
@example("0 0 15W,3 * *")
@example("0 0 L/1 * *")
@example("0 0 * * 1#2/2")
def test_whatever_we_accept_croniter_accepts(expression: str) -> None:
    if _ours(expression):
        assert croniter.is_valid(expression), expression


@_SETTINGS
@given(_ORDINARY)
@example("0 0 * * sun#1")
@example("0 0 3-L * *")
@example("0 0 L,5 * *")
@example("0 0 ? * ?")
def test_every_ordinary_expression_croniter_accepts_we_accept(expression: str) -> None:
    assert croniter.is_valid(expression), expression
    assert _ours(expression), expression


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("0 0 8-0 * *", "0 is out of range for the day of month field (1-31)"),
        ("0 0 * jan-0 *", "0 is out of range for the month field (1-12)"),
        ("0 0 * * 1,1#2", "'1#2' must be the whole day of week field (no list, no step)"),
    ],
)
def test_oddities_croniter_tolerates_are_refused_with_a_message(
    expression: str, problem: str
) -> None:
    assert croniter.is_valid(expression)
    with pytest.raises(ValueError, match="not a valid cron expression") as caught:
        _check_schedule(expression)
    assert problem in str(caught.value)
