"""A lab's own wells table: read from a path or URI, every problem reported at once with its
line and column, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from norm.wells import WellsError, parse_wells, read_wells

pytestmark = pytest.mark.unit

GOOD = """\
Well,Strain, Plate ,Batch,Value,operator
A01,WT,p1,day1,10.2,ann
A02,mut-7,p1,day1,11.9,ann
A03,WT,p2,day2,9.1,bob
A04,mut-7,p2,day2,10.8,bob
"""


def test_a_good_table_is_read_with_its_columns_matched_without_regard_to_case(
    tmp_path: Path,
) -> None:
    path = tmp_path / "plates.csv"
    path.write_text(GOOD)
    wells = read_wells(str(path), parent="WT")
    assert list(wells.table.columns) == ["well", "strain", "plate", "batch", "value"]
    assert wells.table["value"].tolist() == [10.2, 11.9, 9.1, 10.8]
    assert wells.table["plate"].tolist() == ["p1", "p1", "p2", "p2"]
    assert wells.warnings == []


def test_a_file_uri_is_read_like_a_path(tmp_path: Path) -> None:
    path = tmp_path / "plates.csv"
    path.write_text(GOOD)
    assert len(read_wells(path.as_uri(), parent="WT").table) == 4


def test_every_problem_comes_at_once_with_line_and_column() -> None:
    text = (
        "well,strain,plate,batch,value\n"
        "A01,parent,p1,d1,10\n"
        "A02,s1,p1,d1,n/a\n"
        "A03,,p1,d1,9\n"
        "A04,s2,p1,d2,9\n"
        "A01,s3,p2,d2,9\n"
        "A05,s4,p2,d2\n"
    )
    with pytest.raises(WellsError) as caught:
        parse_wells(text, "lab.csv")
    assert caught.value.problems == [
        "lab.csv:3:14: value: 'n/a' is not a finite number; remove the row of a well that was not measured",
        "lab.csv:4:5: strain: empty; every well needs its strain",
        "lab.csv:5:11: batch: plate 'p1' is in batch 'd2' here but in 'd1' on line 2; a plate belongs to one batch",
        "lab.csv:6:1: well: 'A01' is also on line 2; well names must be unique",
        "lab.csv:7:1: row has 4 fields, the header has 5; give every row one field per column",
    ]
    assert str(caught.value).endswith("lab.csv: 5 problem(s); the wells table was not used")


def test_missing_columns_are_named_with_a_suggestion() -> None:
    with pytest.raises(WellsError) as caught:
        parse_wells("strain,plates,vlaue\nparent,p1,3\n", "lab.csv")
    assert caught.value.problems == [
        "lab.csv:1:1: plate: required column missing (columns: 'strain', 'plates', 'vlaue'); did you mean 'plates'?",
        "lab.csv:1:1: batch: required column missing (columns: 'strain', 'plates', 'vlaue'); add it",
        "lab.csv:1:1: value: required column missing (columns: 'strain', 'plates', 'vlaue'); did you mean 'vlaue'?",
    ]


def test_a_missing_parent_says_how_to_name_it() -> None:
    with pytest.raises(WellsError) as caught:
        parse_wells("strain,plate,batch,value\nWT,p1,d1,3\nm1,p1,d1,4\n", "lab.csv")
    assert caught.value.problems == [
        "lab.csv: strain: no well of the parent strain 'parent' (strains include WT, m1); "
        "name the control strain with the parent param (PARENT=...)"
    ]


def test_plates_without_the_parent_and_a_single_batch_are_warnings_not_errors() -> None:
    wells = parse_wells(
        "strain,plate,batch,value\nparent,p1,d1,3\nm1,p1,d1,4\nm1,p2,d1,5\n", "x.csv"
    )
    assert wells.warnings == [
        "1 plate(s) have no parent well (p2): their offsets rest on the other strains they share with other plates",
        "one batch only: the batch-effect scale is not identified (its prior decides)",
    ]


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(WellsError, match=r"no such file; the wells param names a CSV file or URL"):
        read_wells(str(tmp_path / "nope.csv"))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('strainplebvu,"\n0123456789.-x ')), max_size=300))
def test_any_text_is_either_a_table_or_a_wells_error(text: str) -> None:
    try:
        wells = parse_wells("strain,plate,batch,value\n" + text, "fuzz.csv")
    except WellsError as exc:
        problems = exc.problems
    else:
        assert "parent" in set(wells.table["strain"])
        assert wells.table["value"].notna().all()
        return
    assert problems
    assert all(p.startswith("fuzz.csv") for p in problems)
