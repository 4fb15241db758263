"""Flavor sizes are read by the Kubernetes client's own quantity parser.

`config.parse_memory` and `parse_cpu` go through `airflow_platform.quantity` (the client's
parser, loaded without importing the client); hypothesis checks that they give what
`kubernetes.utils.parse_quantity` itself gives, for every form a flavor may be written in.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kubernetes.utils import parse_quantity

from airflow_platform.config import parse_cpu, parse_memory

pytestmark = pytest.mark.unit

_NUMBER = st.one_of(
    st.integers(0, 10**6).map(str),
    st.decimals(min_value=0, max_value=10**4, places=3, allow_nan=False).map(str),
)


@given(_NUMBER, st.sampled_from(["", "k", "M", "G", "T", "Ki", "Mi", "Gi", "Ti", "Pi"]))
def test_memory_is_what_the_kubernetes_client_reads(number: str, suffix: str) -> None:
    expected = parse_quantity(number + suffix)
    if expected != expected.to_integral_value():
        with pytest.raises(ValueError, match="a whole number of bytes"):
            parse_memory(number + suffix)
    else:
        assert parse_memory(number + suffix) == int(expected)


@given(_NUMBER, st.sampled_from(["", "m", "k"]))
def test_cpu_is_what_the_kubernetes_client_reads(number: str, suffix: str) -> None:
    assert parse_cpu(number + suffix) == float(parse_quantity(number + suffix))


@pytest.mark.parametrize("quantity", ["1Gi", "2 G", "-1", "1x", ""])
def test_cpu_refuses_sizes_spaces_and_nonsense(quantity: str) -> None:
    with pytest.raises(ValueError, match="is not a CPU quantity"):
        parse_cpu(quantity)
