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

import copy
from typing import Any

import yaml

from airflow_platform.spec.errors import Problem, SpecError, join_path

MAX_FILE_BYTES = 1024 * 1024
MAX_NODES = 20_000
MAX_DEPTH = 64

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp")}

Path = tuple[str | int, ...]


class SourceMap:
    """Where each field path of a document starts (1-based line and column).

    Given the document's ``text`` instead of its positions, it reads them when first asked:
    a valid spec never needs them, so the fast path of ``parse_yaml`` skips them.
    """

    def __init__(
        self,
        file: str,
        values: dict[Path, tuple[int, int]] | None = None,
        keys: dict[Path, tuple[int, int]] | None = None,
        *,
        text: str | None = None,
    ) -> None:
        self.file = file
        self._values = {} if values is None else values
        self._keys = {} if keys is None else keys
        self._text = text

    @property
    def values(self) -> dict[Path, tuple[int, int]]:
        """Where each value starts."""
        self._read()
        return self._values

    @property
    def keys(self) -> dict[Path, tuple[int, int]]:
        """Where each mapping key starts."""
        self._read()
        return self._keys

    def _read(self) -> None:
        if self._text is not None:
            text, self._text = self._text, None
            located = _read_located(text, self.file)
            self._values, self._keys = located.source.values, located.source.keys

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
    data = _read_plain(text)
    if data is not _NOT_PLAIN:
        return data, SourceMap(file, text=text)
    # Never plain: a file without a document, so only the slow path looks for one.
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
    reader = _read_located(text, file)
    if reader.problems:
        raise SpecError(reader.problems)
    return reader.data, reader.source


def _read_located(text: str, file: str) -> _Reader:
    """Reads ``text`` with every position recorded; raises ``SpecError`` for what it cannot."""
    loader = yaml.CSafeLoader(text)
    reader = _Reader(loader, file)
    try:
        reader.read()
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, file, text) from None
    except yaml.YAMLError as exc:
        raise SpecError.single(file, f"not valid YAML: {exc}", line=1, column=1) from None
    finally:
        loader.dispose()
    return reader


_NOT_PLAIN = object()
# What YAML 1.1 reads as null when written plain (PyYAML's implicit null resolver).
_NULL_TEXTS = frozenset(("", "~", "null", "Null", "NULL"))


def _read_plain(text: str) -> Any:
    """The data of a plainly valid document, or ``_NOT_PLAIN``.

    Plainly valid: one document without tags, anchors, aliases, merge keys, duplicate or
    non-scalar keys, within the depth and size limits — what nearly every spec is. This reads
    it without positions; anything else (including every mistake) is left to ``_Reader``,
    which records positions to explain it. Both give the same data for a plain document.
    """
    loader = yaml.CSafeLoader(text)
    get = loader.get_event
    try:
        get()  # stream start
        if type(get()) is not yaml.DocumentStartEvent:
            return _NOT_PLAIN
        scalar, alias = yaml.ScalarEvent, yaml.AliasEvent
        map_start, seq_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
        waiting, nulls = _WAITING_FOR_KEY, _NULL_TEXTS
        # [open dict or list, the dict's key waiting for its value (or _WAITING_FOR_KEY)]
        stack: list[list[Any]] = []
        top: list[Any] | None = None  # stack[-1]
        count = 0
        while True:
            event: Any = get()
            kind = type(event)
            if kind is scalar:
                if event.anchor is not None or event.tag is not None:
                    return _NOT_PLAIN
                value = event.value
                plain = event.implicit[0]
                if plain and (value == "<<" or value == "="):  # merge and value tags
                    return _NOT_PLAIN
                if top is None or top[1] is not waiting:  # a value, not a key
                    count += 1
                    if plain and value in nulls:
                        value = None
            elif kind is map_start or kind is seq_start:
                if event.anchor is not None or event.tag is not None or len(stack) >= MAX_DEPTH:
                    return _NOT_PLAIN
                if top is not None and top[1] is waiting:
                    return _NOT_PLAIN  # a collection as a mapping key
                count += 1
                top = [{}, waiting] if kind is map_start else [[], None]
                stack.append(top)
                continue
            elif kind is alias:
                return _NOT_PLAIN
            else:  # the end of a mapping or sequence
                value = stack.pop()[0]
                top = stack[-1] if stack else None
            if count > MAX_NODES:
                return _NOT_PLAIN
            if top is None:
                break
            container = top[0]
            if top[1] is None:
                container.append(value)
            elif top[1] is waiting:
                if value in container:
                    return _NOT_PLAIN  # a duplicate key
                top[1] = value
            else:
                container[top[1]] = value
                top[1] = waiting
        get()  # document end
        if not loader.check_event(yaml.StreamEndEvent):
            return _NOT_PLAIN
        return value
    except yaml.YAMLError:
        return _NOT_PLAIN
    finally:
        loader.dispose()


def _too_deep(file: str, mark: Any, path: Path = ()) -> Problem:
    return Problem(
        file,
        mark.line + 1,
        mark.column + 1,
        join_path(path),
        f"nested deeper than {MAX_DEPTH} levels",
        hint="a spec is a few levels deep: check the brackets and indentation here",
    )


_STR = _TAG + "str"
_NULL = _TAG + "null"
_MERGE = _TAG + "merge"
_MAP = _TAG + "map"
_SEQ = _TAG + "seq"
# Plain scalars whose implicit tag matters here (null, merge `<<`, value `=`) start with one of
# these; every other implicit tag (int, bool, …) reads as text anyway, so the resolver is skipped.
_RESOLVED_STARTS = "~nN<="
_WAITING_FOR_KEY = object()  # a mapping frame's key slot before its next key


class _Frame:
    """An open sequence or mapping, its data, and where it sits."""

    __slots__ = (
        "anchor",
        "data",
        "first_line",
        "height",
        "is_map",
        "key",
        "key_text",
        "mark",
        "path",
        "record",
        "start_count",
    )

    def __init__(
        self, is_map: bool, path: Path, mark: Any, anchor: str | None, record: bool, count: int
    ) -> None:
        self.is_map = is_map
        self.data: Any = {} if is_map else []
        self.path = path
        self.mark = mark
        self.anchor = anchor
        self.record = record  # False inside a value that is dropped (bad key, duplicate)
        self.start_count = count
        self.height = 0  # how many levels of collections the finished value holds
        self.key: Any = _WAITING_FOR_KEY  # the accepted key, None if dropped, or waiting
        self.key_text: str | None = None  # the pending key as written (names syntax errors)
        self.first_line: dict[str, int] = {}


class _Done:
    """A finished value (or key), and what an ``*alias`` of it expands to."""

    __slots__ = ("data", "height", "key_ok", "mark", "merge", "size", "text")

    def __init__(
        self,
        data: Any,
        mark: Any,
        *,
        size: int = 1,
        height: int = 0,
        text: str | None = None,
        key_ok: bool = False,
        merge: bool = False,
    ) -> None:
        self.data, self.mark, self.size = data, mark, size
        self.height = height  # levels of collections it holds (0 for a scalar)
        self.text = text  # a scalar's source text
        self.key_ok = key_ok  # a scalar that may serve as a mapping key
        self.merge = merge  # a `<<` that YAML 1.1 reads as a merge key


class _Reader:
    """Turns libyaml's events into plain data and a source map in one pass, without recursion.

    libyaml's own composer recurses in C, so a file of a few hundred thousand ``[`` crashes the
    interpreter; this reader keeps an explicit stack and stops at ``MAX_DEPTH``. It builds no
    node tree: each event goes straight into the data it belongs to.
    """

    def __init__(self, loader: Any, file: str) -> None:
        self.loader = loader
        self.file = file
        self.source = SourceMap(file)
        self.problems: list[Problem] = []
        self.count = 0  # values read, aliases counted expanded
        self.anchors: dict[str, _Done] = {}
        self.stack: list[_Frame] = []
        self.data: Any = None

    def read(self) -> None:
        loader = self.loader
        loader.get_event()  # stream start
        if isinstance(loader.get_event(), yaml.StreamEndEvent):
            raise SpecError.single(self.file, "file holds no YAML document", line=1, column=1)
        stack = self.stack
        while True:
            try:
                event: Any = loader.get_event()
            except yaml.MarkedYAMLError as exc:
                # Remember which field was being read, to name it in the syntax error.
                exc.spec_path = self._open_path()  # type: ignore[attr-defined]
                raise
            kind = type(event)
            if kind is yaml.ScalarEvent:
                done = self._scalar(event)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                self._open(event, kind is yaml.MappingStartEvent)
                continue
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                done = self._close(stack.pop())
            elif kind is yaml.AliasEvent:
                done = self._alias(event)
            else:  # pragma: no cover - libyaml emits nothing else inside a document
                raise SpecError.single(
                    self.file, f"unexpected YAML event {event}", line=1, column=1
                )
            if not stack:
                break
            self._place(stack[-1], done)
        loader.get_event()  # document end
        if not loader.check_event(yaml.StreamEndEvent):
            mark: Any = loader.peek_event().start_mark
            raise SpecError.single(
                self.file,
                "invalid YAML: file holds more than one YAML document (a second `---`)",
                hint="put each job or pipeline in a file of its own",
                line=mark.line + 1,
                column=mark.column + 1,
            )
        self.data = done.data

    def _slot(self) -> tuple[Path, bool, bool]:
        """Where the next value goes: its path, whether it is recorded, whether it is a key."""
        if not self.stack:
            return (), True, False
        parent = self.stack[-1]
        if not parent.is_map:
            return (*parent.path, len(parent.data)), parent.record, False
        if parent.key is _WAITING_FOR_KEY:
            return parent.path, False, True
        if parent.key is None:
            return (*parent.path, parent.key_text or ""), False, False
        return (*parent.path, parent.key), parent.record, False

    def _value_seen(self, path: Path, mark: Any, size: int) -> None:
        """Locates a recorded value and counts it; refuses documents that expand too far."""
        self.source.values.setdefault(path, (mark.line + 1, mark.column + 1))
        before = self.count
        self.count += size
        if before <= MAX_NODES < self.count:
            # Point at the top-level field being expanded: an alias's value sits wherever its
            # anchor was defined, and its expanded path means nothing to the author.
            top = path[:1]
            line, column = self.source.keys.get(top) or self.source.values.get(top, (1, 1))
            self.problems.append(
                Problem(
                    self.file,
                    line,
                    column,
                    join_path(top),
                    f"document expands to more than {MAX_NODES:,} values (aliases that multiply)",
                    "write the values out instead of nesting `*alias` references",
                )
            )

    def _fail(self, mark: Any, path: Path, message: str, hint: str = "") -> None:
        self.problems.append(
            Problem(self.file, mark.line + 1, mark.column + 1, join_path(path), message, hint)
        )

    def _tag_refused(self, tag: str, mark: Any, path: Path) -> None:
        self._fail(
            mark,
            path,
            f"YAML tag '{tag.replace(_TAG, '!!')}' is not allowed: specs are data and cannot "
            "construct objects",
            hint="remove the tag; write the value as plain text",
        )

    def _scalar(self, event: Any) -> _Done:
        value: str = event.value
        tag = event.tag
        if tag is None or tag == "!":
            if event.implicit[0] and value[:1] in _RESOLVED_STARTS:
                tag = self.loader.resolve(yaml.ScalarNode, value, event.implicit)
            else:
                tag = _STR
        mark = event.start_mark
        path, record, is_key = self._slot()
        if record and not is_key:
            self._value_seen(path, mark, 1)
            if tag not in _SCALAR_TAGS:
                self._tag_refused(tag, mark, path)
        data = None if tag == _NULL or tag not in _SCALAR_TAGS else value
        done = _Done(data, mark, text=value, key_ok=tag in _SCALAR_TAGS, merge=tag == _MERGE)
        if event.anchor is not None:
            self.anchors[event.anchor] = done
        return done

    def _open(self, event: Any, is_map: bool) -> None:
        if len(self.stack) >= MAX_DEPTH:
            raise SpecError([_too_deep(self.file, event.start_mark)])
        path, record, is_key = self._slot()
        mark = event.start_mark
        if record and not is_key:
            self._value_seen(path, mark, 1)
            tag = event.tag
            if tag not in (None, "!", _MAP if is_map else _SEQ):
                self._tag_refused(tag, mark, path)
        frame = _Frame(is_map, path, mark, event.anchor, record and not is_key, self.count)
        self.stack.append(frame)

    def _close(self, frame: _Frame) -> _Done:
        done = _Done(
            frame.data,
            frame.mark,
            size=self.count - frame.start_count + 1,
            height=frame.height + 1,
        )
        if frame.anchor is not None:
            self.anchors[frame.anchor] = done
        return done

    def _alias(self, event: Any) -> _Done:
        mark = event.start_mark
        anchored = self.anchors.get(event.anchor)
        if anchored is None:
            raise SpecError.single(
                self.file,
                f"alias '*{event.anchor}' refers to no anchor defined before it",
                hint=f"define `&{event.anchor}` earlier in the file, or write the value out",
                line=mark.line + 1,
                column=mark.column + 1,
            )
        path, record, is_key = self._slot()
        if is_key or not record:
            return anchored
        if len(path) + anchored.height > MAX_DEPTH:
            raise SpecError([_too_deep(self.file, mark, path[:1])])
        self._value_seen(path, anchored.mark, anchored.size)
        if self.count > MAX_NODES:
            data = None
        elif anchored.height:  # each use gets its own copy, as if written out
            data = copy.deepcopy(anchored.data)
        else:
            data = anchored.data
        return _Done(data, anchored.mark, size=anchored.size, height=anchored.height)

    def _place(self, parent: _Frame, done: _Done) -> None:
        """Puts a finished value (or key) into the collection that holds it."""
        if done.height >= parent.height:
            parent.height = done.height
        if not parent.is_map:
            parent.data.append(done.data)
        elif parent.key is _WAITING_FOR_KEY:
            self._accept_key(parent, done)
        else:
            if parent.key is not None:
                parent.data[parent.key] = done.data
            parent.key, parent.key_text = _WAITING_FOR_KEY, None

    def _accept_key(self, parent: _Frame, done: _Done) -> None:
        """Takes a plain, new key; drops (with a problem) any other, and later its value."""
        parent.key, parent.key_text = None, done.text
        if done.merge:
            if parent.record:
                self._fail(
                    done.mark,
                    parent.path,
                    "merge keys (`<<`) are not supported",
                    hint="write the keys out, or use `dag.defaults` for values shared by tasks",
                )
            return
        key = done.text
        if done.height or not done.key_ok or key is None:
            if parent.record:
                self._fail(
                    done.mark,
                    parent.path,
                    "mapping keys must be plain names",
                    hint="write the key as a word followed by a colon, e.g. `team:`",
                )
            return
        if not parent.record:
            return
        key_path = (*parent.path, key)
        first = parent.first_line.get(key)
        if first is not None:
            self._fail(
                done.mark,
                key_path,
                f"duplicate key '{key}' (first defined on line {first})",
                hint="keep one of them",
            )
            return
        line = done.mark.line + 1
        parent.first_line[key] = line
        self.source.keys[key_path] = (line, done.mark.column + 1)
        parent.key = key

    def _open_path(self) -> Path:
        """The field path of the collections being read: keys, and indexes in lists."""
        parts: list[str | int] = []
        for frame in self.stack:
            if not frame.is_map:
                parts.append(len(frame.data))
            elif frame.key_text is not None and frame.key is not _WAITING_FOR_KEY:
                parts.append(frame.key_text)
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
