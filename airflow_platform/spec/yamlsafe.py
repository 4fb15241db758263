"""Reads one YAML document as plain data, remembering where every value came from.

Specs are data, so this reader never constructs objects: it composes the node tree with
libyaml's safe composer and converts it itself. That gives it the chance to refuse what the
stock loaders accept silently — duplicate keys, object-constructing tags, alias bombs, YAML
1.1's ``no``/``on`` booleans — and to keep a line and column for each field path.

Every scalar becomes its source text (or ``None`` for a null); the pydantic models coerce text
to ``int`` or ``bool`` where a field wants one, so a name such as ``no`` or ``1e3`` stays the
string the author wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from airflow_platform.spec.errors import Problem, SpecError, join_path

MAX_FILE_BYTES = 1024 * 1024
MAX_NODES = 20_000
MAX_DEPTH = 64

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_NULLS = {"", "~", "null", "Null", "NULL"}

Path = tuple[str | int, ...]


@dataclass
class SourceMap:
    """Where each field path of a document starts (1-based line and column)."""

    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """The position of ``path`` (its key when ``key``), else of its nearest ancestor."""
        probe = tuple(path)
        if key and probe in self.keys:
            return self.keys[probe]
        while probe:
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))

    def problem(self, path: Path, message: str, hint: str = "", *, key: bool = False) -> Problem:
        line, column = self.locate(path, key=key)
        return Problem(self.file, line, column, join_path(path), message, hint)


def read_text(data: bytes, file: str) -> str:
    """Decodes a spec file's bytes, refusing what a person could not have meant."""
    if len(data) > MAX_FILE_BYTES:
        raise SpecError.single(
            file,
            f"file is {len(data):,} bytes; the limit is {MAX_FILE_BYTES:,} (1 MiB)",
            hint="a spec describes one job or pipeline: keep data and code in their own files",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError.single(
            file,
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            hint="save the file as UTF-8",
            line=line,
            column=column,
        ) from None
    if "\x00" in text:
        raise SpecError.single(file, "file contains NUL bytes", hint="is this a binary file?")
    return text


def parse_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """One YAML document as dicts, lists, strings and ``None``, with its source map."""
    if not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()
    ):
        raise SpecError.single(
            file, "file is empty", hint="a spec starts with `job:` (one job) or `dag:` (a pipeline)"
        )
    loader = yaml.CSafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, file) from None
    except yaml.YAMLError as exc:
        raise SpecError.single(file, f"not valid YAML: {exc}") from None
    except RecursionError:
        raise SpecError.single(file, f"nested deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()
    if node is None:
        raise SpecError.single(file, "file holds no YAML document")
    converter = _Converter(file)
    try:
        data = converter.convert(node, ())
    except RecursionError:
        raise SpecError.single(file, f"nested deeper than {MAX_DEPTH} levels") from None
    if converter.problems:
        raise SpecError(converter.problems)
    return data, converter.source


def _syntax_error(exc: yaml.MarkedYAMLError, file: str) -> SpecError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "invalid YAML"
    hint = "check the indentation and quoting around this position"
    if exc.context == "expected a single document in the stream":
        problem = "file holds more than one YAML document (a second `---`)"
        hint = "put each job or pipeline in a file of its own"
    elif "found character '\\t'" in problem:
        hint = "YAML indents with spaces, not tabs"
    line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    return SpecError.single(file, f"invalid YAML: {problem}", hint=hint, line=line, column=column)


class _Converter:
    def __init__(self, file: str) -> None:
        self.source = SourceMap(file)
        self.problems: list[Problem] = []
        self.visited = 0

    def _fail(self, node: yaml.Node, path: Path, message: str, hint: str = "") -> None:
        mark = node.start_mark
        self.problems.append(
            Problem(
                self.source.file, mark.line + 1, mark.column + 1, join_path(path), message, hint
            )
        )

    def convert(self, node: yaml.Node, path: Path) -> Any:
        self.visited += 1
        if self.visited > MAX_NODES:
            if self.visited == MAX_NODES + 1:
                self._fail(
                    node,
                    path,
                    f"document expands to more than {MAX_NODES:,} values (aliases that multiply)",
                    hint="write the values out instead of nesting `*alias` references",
                )
            return None
        if len(path) > MAX_DEPTH:
            raise RecursionError
        self.source.values.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if isinstance(node, yaml.SequenceNode):
            self._check_tag(node, path, _TAG + "seq")
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            self._check_tag(node, path, _TAG + "map")
            return self._mapping(node, path)
        self._fail(node, path, "unsupported YAML node")
        return None

    def _check_tag(self, node: yaml.Node, path: Path, expected: str) -> bool:
        if node.tag == expected or (isinstance(node, yaml.ScalarNode) and node.tag in _SCALAR_TAGS):
            return True
        tag = node.tag.replace(_TAG, "!!")
        self._fail(
            node,
            path,
            f"YAML tag '{tag}' is not allowed: specs are data and cannot construct objects",
            hint="remove the tag; write the value as plain text",
        )
        return False

    def _scalar(self, node: yaml.ScalarNode, path: Path) -> str | None:
        if not self._check_tag(node, path, _TAG + "str"):
            return None
        text: str = node.value
        if node.style is None and text in _NULLS:
            return None
        return text

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _SCALAR_TAGS | {
                _TAG + "merge"
            }:
                self._fail(key_node, path, "mapping keys must be plain names")
                continue
            key = str(key_node.value)
            if key_node.tag == _TAG + "merge":
                self._fail(
                    key_node,
                    path,
                    "merge keys (`<<`) are not supported",
                    hint="write the keys out, or use `dag.defaults` for values shared by tasks",
                )
                continue
            key_path = (*path, key)
            if key in first_seen:
                self._fail(
                    key_node,
                    key_path,
                    f"duplicate key '{key}' (first defined on line {first_seen[key]})",
                    hint="keep one of them",
                )
                continue
            first_seen[key] = key_node.start_mark.line + 1
            self.source.keys[key_path] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
            out[key] = self.convert(value_node, key_path)
        return out
