"""The one error type every loader raises, carrying every problem of a file at once."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a spec or config file, located and explained.

    ``line`` and ``column`` are 1-based; 0 means the whole file. ``path`` is the field path
    (``job.resource_flavor``, ``tasks.model.fit_model.depends_on[0]``); empty for the document.
    ``message`` says what is wrong and ``hint`` how to fix it.
    """

    file: str
    line: int
    column: int
    path: str
    message: str
    hint: str = ""

    @property
    def location(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"

    def __str__(self) -> str:
        where = f"{self.location}: {self.path}: " if self.path else f"{self.location}: "
        return where + self.message + (f"; {self.hint}" if self.hint else "")

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "text": str(self)}


class SpecError(ValueError):
    """A spec, pipeline or platform config that cannot be used, with all of its problems.

    The CLI, the DAG factory and the operators all show ``str(error)``, so a scientist reads
    the same text wherever the problem surfaces.
    """

    def __init__(self, problems: Sequence[Problem], *, partial: object = None) -> None:
        if not problems:
            raise ValueError("SpecError needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(
            sorted(dict.fromkeys(problems), key=lambda p: (p.file, p.line, p.column, p.path))
        )
        # What could still be read despite the problems (the loader's ``Document``), so that
        # later checks (the policy) can report their problems in the same round.
        self.partial = partial
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(
        cls,
        file: str,
        message: str,
        *,
        hint: str = "",
        path: str = "",
        line: int = 0,
        column: int = 0,
    ) -> SpecError:
        return cls([Problem(file, line, column, path, message, hint)])


def closest(word: str, choices: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The choice closest to ``word``, if any is close enough."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(word: str, choices: Iterable[str], *, cutoff: float = 0.6) -> str:
    """A ``did you mean 'x'?`` suffix for the closest choice, or an empty string."""
    close = closest(word, choices, cutoff=cutoff)
    return f"did you mean '{close}'?" if close else ""


def join_path(parts: Iterable[str | int]) -> str:
    """``('tasks', 'model', 'fit', 'depends_on', 0)`` → ``tasks.model.fit.depends_on[0]``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def shorten(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters for a message, saying how long it really was."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 20]}… ({len(text):,} characters)"
