"""A lab's wells table: read from a file or URI, checked, every problem reported at once.

The table is CSV with a header and one row per well. Required columns: ``strain``, ``plate``,
``batch`` (the day or run the plate belongs to), ``value`` (the measurement); an optional
``well`` column names each well (unique), and other columns are ignored. Header names match
without regard to case or surrounding spaces. The parent strain (the control on each plate) is
named ``parent`` unless the ``parent`` param says otherwise.

Files are opened with fsspec, so a local path, ``file://``, ``http(s)://`` and (with s3fs
installed) ``s3://`` all work. Problems come as ``source:line:column: column: what; how to
fix it``.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
from collections import defaultdict
from dataclasses import dataclass

import pandas as pd

from norm.steps import StepError

REQUIRED = ("strain", "plate", "batch", "value")
MAX_LISTED = 50


class WellsError(StepError):
    """The wells table cannot be used; ``problems`` lists every reason."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:MAX_LISTED]
        more = len(problems) - len(shown)
        tail = [f"… and {more} more"] if more else []
        summary = f"{source}: {len(problems)} problem(s); the wells table was not used"
        super().__init__("\n".join([*shown, *tail, summary]))


@dataclass(frozen=True)
class Wells:
    """A checked wells table and what is worth a warning."""

    table: pd.DataFrame  # well, strain, plate, batch, value
    parent: str
    warnings: list[str]


def _read_text(source: str) -> str:
    import fsspec

    try:
        with fsspec.open(source, "rt", encoding="utf-8-sig", newline="") as f:
            return str(f.read())
    except FileNotFoundError:
        raise WellsError(
            source, [f"{source}: no such file; the wells param names a CSV file or URL"]
        ) from None
    except (OSError, ValueError, ImportError, UnicodeDecodeError) as exc:
        raise WellsError(source, [f"{source}: cannot be read: {exc}"]) from None


def _column(raw_line: str, fields: list[str], index: int) -> int:
    """1-based character column where field ``index`` starts (exact for unquoted lines)."""
    if '"' in raw_line:
        return 1
    return sum(len(f) + 1 for f in fields[:index]) + 1


def read_wells(source: str, parent: str = "parent") -> Wells:
    """Reads and checks the wells table at ``source``; a WellsError lists every problem."""
    return parse_wells(_read_text(source), source, parent)


def parse_wells(text: str, source: str, parent: str = "parent") -> Wells:
    """Checks the CSV ``text`` (named ``source`` in messages) as a wells table."""
    raw_lines = text.splitlines()
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise WellsError(
            source,
            [f"{source}:1:1: the file is empty; write a header: well,strain,plate,batch,value"],
        ) from None
    names = [h.strip().lower() for h in header]
    problems: list[str] = []
    where: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in (*REQUIRED, "well") and name not in where:
            where[name] = i
    for name in REQUIRED:
        if name not in where:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"did you mean {header[names.index(close[0])]!r}?" if close else "add it"
            found = ", ".join(repr(h) for h in header) or "none"
            problems.append(
                f"{source}:1:1: {name}: required column missing (columns: {found}); {hint}"
            )
    if problems:
        raise WellsError(source, problems)

    rows: list[tuple[str, str, str, str, float]] = []
    plate_batch: dict[str, tuple[str, int]] = {}
    well_line: dict[str, int] = {}
    for fields in reader:
        line = reader.line_num
        raw = raw_lines[line - 1] if line - 1 < len(raw_lines) else ""
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            problems.append(
                f"{source}:{line}:1: row has {len(fields)} fields, the header has {len(header)}; "
                "give every row one field per column"
            )
            continue
        values = {name: fields[i].strip() for name, i in where.items()}
        for name in ("strain", "plate", "batch"):
            if not values[name]:
                problems.append(
                    f"{source}:{line}:{_column(raw, fields, where[name])}: {name}: empty; "
                    f"every well needs its {name}"
                )
        try:
            value = float(values["value"])
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            problems.append(
                f"{source}:{line}:{_column(raw, fields, where['value'])}: value: "
                f"{values['value']!r} is not a finite number; "
                "remove the row of a well that was not measured"
            )
        plate, batch = values["plate"], values["batch"]
        if plate and batch:
            first = plate_batch.setdefault(plate, (batch, line))
            if first[0] != batch:
                problems.append(
                    f"{source}:{line}:{_column(raw, fields, where['batch'])}: batch: plate "
                    f"{plate!r} is in batch {batch!r} here but in {first[0]!r} on line "
                    f"{first[1]}; a plate belongs to one batch"
                )
        well = values.get("well", "")
        if well:
            if well in well_line:
                problems.append(
                    f"{source}:{line}:{_column(raw, fields, where['well'])}: well: {well!r} "
                    f"is also on line {well_line[well]}; well names must be unique"
                )
            well_line.setdefault(well, line)
        else:
            well = f"{plate}#line{line}"
        rows.append((well, values["strain"], plate, batch, value))

    table = pd.DataFrame(rows, columns=["well", "strain", "plate", "batch", "value"])
    if table.empty and not problems:
        problems.append(f"{source}:2:1: no wells: the table has a header but no rows")
    strains = set(table["strain"]) - {""}
    if not table.empty and parent not in strains:
        sample = ", ".join(sorted(strains)[:5])
        problems.append(
            f"{source}: strain: no well of the parent strain {parent!r} (strains include "
            f"{sample}); name the control strain with the parent param (PARENT=...)"
        )
    elif strains and strains == {parent}:
        problems.append(
            f"{source}: strain: only the parent {parent!r} was measured; nothing to compare"
        )
    if problems:
        raise WellsError(source, problems)
    return Wells(table=table, parent=parent, warnings=_warnings(table, parent))


def _warnings(table: pd.DataFrame, parent: str) -> list[str]:
    """What the model can live with but a person should know."""
    out = []
    plates_of: dict[str, set[str]] = defaultdict(set)
    for strain, plate in zip(table["strain"], table["plate"], strict=True):
        plates_of[strain].add(plate)
    without = sorted(set(table["plate"]) - plates_of[parent])
    if without:
        out.append(
            f"{len(without)} plate(s) have no parent well ({', '.join(without[:5])}): their "
            "offsets rest on the other strains they share with other plates"
        )
    if table["batch"].nunique() < 2:
        out.append("one batch only: the batch-effect scale is not identified (its prior decides)")
    return out
