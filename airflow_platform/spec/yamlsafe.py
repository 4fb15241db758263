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
            line=1,
            column=1,
        )
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise SpecError.single(
            file,
            "the file is UTF-16 text, not UTF-8",
            hint="save the file as UTF-8",
            line=1,
            column=1,
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
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise SpecError.single(
            file,
            "file contains NUL bytes",
            hint="is this a binary file? save the spec as plain UTF-8 text",
            line=line,
            column=nul - (text.rfind("\n", 0, nul) + 1) + 1,
        )
    return text


SPEC_START = "a spec starts with `job:` (one job) or `dag:` (a pipeline)"


def parse_yaml(text: str, file: str, *, start_hint: str = SPEC_START) -> tuple[Any, SourceMap]:
    """One YAML document as dicts, lists, strings and ``None``, with its source map.

    ``start_hint`` tells the author of an empty file what the document starts with.
    """
    if not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()
    ):
        raise SpecError.single(
            file,
            "file is empty",
            hint=start_hint,
            line=1,
            column=1,
        )
    loader = yaml.CSafeLoader(text)
    try:
        node = _compose(loader, file)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, file, text) from None
    except yaml.YAMLError as exc:
        raise SpecError.single(file, f"not valid YAML: {exc}", line=1, column=1) from None
    finally:
        loader.dispose()
    converter = _Converter(file)
    try:
        data = converter.convert(node, ())
    except _TooDeepError as exc:
        raise SpecError([exc.problem]) from None
    if converter.problems:
        raise SpecError(converter.problems)
    return data, converter.source


class _TooDeepError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _too_deep(file: str, mark: Any, path: Path = ()) -> Problem:
    return Problem(
        file,
        mark.line + 1,
        mark.column + 1,
        join_path(path),
        f"nested deeper than {MAX_DEPTH} levels",
        hint="a spec is a few levels deep: check the brackets and indentation here",
    )


def _compose(loader: Any, file: str) -> yaml.Node:
    """The document's node tree, built from libyaml's events without recursion.

    libyaml's own composer recurses in C, so a file of a few hundred thousand ``[`` crashes
    the interpreter; this one keeps an explicit stack and stops at ``MAX_DEPTH``.
    """
    loader.get_event()  # stream start
    start = loader.get_event()
    if isinstance(start, yaml.StreamEndEvent):
        raise SpecError.single(file, "file holds no YAML document", line=1, column=1)
    anchors: dict[str, yaml.Node] = {}
    # Open collections: (node, anchor, key waiting for its value in a mapping).
    stack: list[list[Any]] = []
    root: yaml.Node | None = None
    while root is None:
        try:
            event: Any = loader.get_event()
        except yaml.MarkedYAMLError as exc:
            # Remember which field was being read, to name it in the syntax error.
            exc.spec_path = _open_path(stack)  # type: ignore[attr-defined]
            raise
        start_mark: Any = event.start_mark
        done: Any = None
        anchor = getattr(event, "anchor", None)
        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchors:
                raise SpecError.single(
                    file,
                    f"alias '*{event.anchor}' refers to no anchor defined before it",
                    hint=f"define `&{event.anchor}` earlier in the file, or write the value out",
                    line=start_mark.line + 1,
                    column=start_mark.column + 1,
                )
            done = anchors[event.anchor]
        elif isinstance(event, yaml.ScalarEvent):
            tag = event.tag
            if tag is None or tag == "!":
                tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
            end_mark: Any = event.end_mark
            done = yaml.ScalarNode(tag, event.value, start_mark, end_mark, style=event.style)
        elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            if len(stack) >= MAX_DEPTH:
                raise SpecError([_too_deep(file, event.start_mark)])
            kind = (
                yaml.SequenceNode
                if isinstance(event, yaml.SequenceStartEvent)
                else yaml.MappingNode
            )
            tag = event.tag
            if tag is None or tag == "!":
                tag = loader.resolve(kind, None, event.implicit)
            stack.append([kind(tag, [], start_mark, None), anchor, None])
            continue
        elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            done, anchor, _ = stack.pop()
            done.end_mark = event.end_mark
        else:  # pragma: no cover - libyaml emits nothing else inside a document
            raise SpecError.single(file, f"unexpected YAML event {event}", line=1, column=1)
        if anchor is not None:
            anchors[anchor] = done
        if not stack:
            root = done
            break
        parent = stack[-1]
        if isinstance(parent[0], yaml.SequenceNode):
            parent[0].value.append(done)
        elif parent[2] is None:
            parent[2] = done
        else:
            parent[0].value.append((parent[2], done))
            parent[2] = None
    loader.get_event()  # document end
    if not loader.check_event(yaml.StreamEndEvent):
        mark: Any = loader.peek_event().start_mark
        raise SpecError.single(
            file,
            "invalid YAML: file holds more than one YAML document (a second `---`)",
            hint="put each job or pipeline in a file of its own",
            line=mark.line + 1,
            column=mark.column + 1,
        )
    return root


def _open_path(stack: list[list[Any]]) -> Path:
    """The field path of the collections being composed: keys, and indexes in lists."""
    parts: list[str | int] = []
    for node, _anchor, key in stack:
        if isinstance(node, yaml.SequenceNode):
            parts.append(len(node.value))
        elif isinstance(key, yaml.ScalarNode):
            parts.append(str(key.value))
        else:
            break
    return tuple(parts)


def _syntax_error(exc: yaml.MarkedYAMLError, file: str, text: str) -> SpecError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "invalid YAML"
    hint = "check the indentation and quoting around this position"
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    lines = text.splitlines()
    source_line = lines[line - 1] if 0 < line <= len(lines) else ""
    indent = source_line[: len(source_line) - len(source_line.lstrip())]
    context = exc.context_mark
    if exc.context and context and exc.problem_mark and context.line + 1 != line:
        problem += f" ({exc.context} that starts on line {context.line + 1}, column "
        problem += f"{context.column + 1})"
    if "tab" in problem or "\t" in indent or source_line[column - 1 : column] == "\t":
        problem = "a tab character where YAML expects spaces"
        hint = "YAML indents with spaces, not tabs: replace the tabs on this line"
    path = join_path(getattr(exc, "spec_path", ()))
    return SpecError.single(
        file, f"invalid YAML: {problem}", hint=hint, path=path, line=line, column=column
    )


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
                # Point at the top-level field being expanded: the node itself sits wherever
                # its anchor was defined, and its expanded path means nothing to the author.
                top = path[:1]
                line, column = self.source.keys.get(top) or self.source.values.get(top, (1, 1))
                self.problems.append(
                    Problem(
                        self.source.file,
                        line,
                        column,
                        join_path(top),
                        f"document expands to more than {MAX_NODES:,} values "
                        "(aliases that multiply)",
                        "write the values out instead of nesting `*alias` references",
                    )
                )
            return None
        if len(path) > MAX_DEPTH:
            raise _TooDeepError(_too_deep(self.source.file, node.start_mark, path[:1]))
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
        if node.tag == _TAG + "null":
            return None
        text: str = node.value
        return text

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _SCALAR_TAGS | {
                _TAG + "merge"
            }:
                self._fail(
                    key_node,
                    path,
                    "mapping keys must be plain names",
                    hint="write the key as a word followed by a colon, e.g. `team:`",
                )
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
