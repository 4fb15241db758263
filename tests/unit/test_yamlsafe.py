"""The safe YAML reader: plain data only, every value located, surprises refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_platform.spec.errors import SpecError
from airflow_platform.spec.yamlsafe import (
    _NOT_PLAIN,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    _read_located,
    _read_plain,
    parse_yaml,
    read_text,
)

pytestmark = pytest.mark.unit


def _problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_yaml(text, "f.yaml")
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("no", "no"),
        ("on", "on"),
        ("yes", "yes"),
        ("off", "off"),
        ("true", "true"),
        ("1e3", "1e3"),
        ("0x1F", "0x1F"),
        ("010", "010"),
        ("1_000", "1_000"),
        ("2024-01-01", "2024-01-01"),
        ("12:30", "12:30"),
        ("'quoted'", "quoted"),
        ('""', ""),
        ("'null'", "null"),
        ("!!str null", "null"),
        ("~", None),
        ("null", None),
        ("Null", None),
        ("", None),
    ],
)
def test_scalars_stay_the_text_written_and_only_nulls_become_none(
    text: str, value: str | None
) -> None:
    data, _ = parse_yaml(f"key: {text}\n", "f.yaml")
    assert data == {"key": value}


def test_nested_data_converts_to_dicts_lists_and_strings() -> None:
    data, _ = parse_yaml("a:\n  b: [1, x, {c: on}]\n  d: {}\n  e: []\n", "f.yaml")
    assert data == {"a": {"b": ["1", "x", {"c": "on"}], "d": {}, "e": []}}


def test_source_map_locates_values_and_keys_one_based() -> None:
    _, source = parse_yaml("job:\n  team: vision\n  env: {A: b}\n  list:\n    - x\n", "f.yaml")
    assert source.values[("job", "team")] == (2, 9)
    assert source.keys[("job", "team")] == (2, 3)
    assert source.values[("job", "env", "A")] == (3, 12)
    assert source.values[("job", "list", 0)] == (5, 7)
    assert source.locate(("job", "missing", "deeper")) == source.values[("job",)]
    assert source.locate(("job", "team"), key=True) == (2, 3)


def test_plain_aliases_within_limits_are_expanded() -> None:
    data, _ = parse_yaml("base: &b {x: 1}\ncopy: *b\n", "f.yaml")
    assert data == {"base": {"x": "1"}, "copy": {"x": "1"}}


def test_duplicate_keys_are_errors_naming_the_first_line() -> None:
    assert _problems("a: 1\nb: 2\na: 3\n") == [
        "f.yaml:3:1: a: duplicate key 'a' (first defined on line 1); keep one of them"
    ]


def test_every_duplicate_key_of_a_document_is_reported_at_once() -> None:
    problems = _problems("a: 1\na: 2\nb:\n  c: 1\n  c: 2\n")
    assert [p.split(": ")[0] for p in problems] == ["f.yaml:2:1", "f.yaml:5:3"]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("!!python/object/apply:os.system ['id']", "!!python/object/apply:os.system"),
        ("!!python/name:os.system", "!!python/name:os.system"),
        ("!!python/object:collections.OrderedDict {}", "!!python/object:collections.OrderedDict"),
        ("!!binary aGVsbG8=", "!!binary"),
        ("!!set {a, b}", "!!set"),
        ("!!omap [{a: 1}]", "!!omap"),
        ("!custom value", "!custom"),
        ("!<tag:example.com,2024:thing> x", "tag:example.com,2024:thing"),
    ],
)
def test_object_constructing_and_custom_tags_are_refused(value: str, shown: str) -> None:
    problems = _problems(f"key: {value}\n")
    assert problems == [
        f"f.yaml:1:6: key: YAML tag '{shown}' is not allowed: specs are data and cannot "
        "construct objects; remove the tag; write the value as plain text"
    ]


@pytest.mark.parametrize("tag", ["!!str", "!!int", "!!bool", "!!float", "!!null", "!!map", "!!seq"])
def test_standard_tags_are_allowed(tag: str) -> None:
    value = {"!!map": "{a: 1}", "!!seq": "[1]"}.get(tag, "1")
    parse_yaml(f"key: {tag} {value}\n", "f.yaml")


def test_merge_keys_are_refused() -> None:
    assert _problems("base: &b {x: 1}\njob:\n  <<: *b\n  y: 2\n") == [
        "f.yaml:3:3: job: merge keys (`<<`) are not supported; write the keys out, or use "
        "`dag.defaults` for values shared by tasks"
    ]


def test_alias_bomb_is_refused_at_the_field_that_expands() -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]")
    problems = _problems("\n".join(lines) + "\n")
    assert len(problems) == 1
    assert problems[0].startswith("f.yaml:5:1: e: document expands to more than 20,000 values")


def test_undefined_alias_is_an_error_at_the_alias() -> None:
    assert _problems("a: 1\nb: *nowhere\n") == [
        "f.yaml:2:4: alias '*nowhere' refers to no anchor defined before it; define "
        "`&nowhere` earlier in the file, or write the value out"
    ]


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 300_000 + "]" * 300_000,
        "a: " + "{a: " * 100_000 + "}" * 100_000,
        "".join("  " * i + "k:\n" for i in range(2000)),
    ],
    ids=["flow-sequences", "flow-mappings", "block-mappings"],
)
def test_deep_nesting_is_an_error_not_a_crash(text: str) -> None:
    problems = _problems(text)
    assert len(problems) == 1
    assert f"nested deeper than {MAX_DEPTH} levels" in problems[0]


def test_nesting_just_under_the_limit_is_read() -> None:
    depth = MAX_DEPTH - 1
    data, _ = parse_yaml("a: " + "[" * depth + "]" * depth, "f.yaml")
    assert isinstance(data["a"], list)


def test_aliases_cannot_nest_past_the_depth_limit() -> None:
    half = MAX_DEPTH // 2 + 2
    text = "a: &a " + "[" * half + "]" * half + "\nb: " + "[" * half + "*a" + "]" * half + "\n"
    problems = _problems(text)
    assert len(problems) == 1
    assert problems[0].startswith("f.yaml:")
    assert f"b: nested deeper than {MAX_DEPTH} levels" in problems[0]


def test_multiple_documents_are_refused_at_the_second() -> None:
    assert _problems("a: 1\n---\nb: 2\n") == [
        "f.yaml:2:1: invalid YAML: file holds more than one YAML document (a second `---`); "
        "put each job or pipeline in a file of its own"
    ]


def test_syntax_errors_carry_line_column_and_the_field_being_read() -> None:
    assert _problems("a: [1, 2\nb: 3\n") == [
        "f.yaml:2:2: a[2]: invalid YAML: did not find expected ',' or ']' (while parsing a flow "
        "sequence that starts on line 1, column 4); check the indentation "
        "and quoting around this position"
    ]


def test_tab_indentation_is_explained() -> None:
    problems = _problems("a:\n\tb: 1\n")
    assert len(problems) == 1
    assert problems[0].startswith("f.yaml:2:1: a: invalid YAML: a tab character where YAML expects")


@pytest.mark.parametrize("text", ["", "   \n\n", "# only\n  # comments\n"])
def test_empty_or_comment_only_files_are_refused(text: str) -> None:
    assert _problems(text) == [
        "f.yaml:1:1: file is empty; a spec starts with `job:` (one job) or `dag:` (a pipeline)"
    ]


def test_explicit_empty_document_reads_as_none() -> None:
    assert parse_yaml("---\n...\n", "f.yaml")[0] is None


def test_non_scalar_keys_are_refused() -> None:
    assert _problems("? [a, b]\n: 1\n") == [
        "f.yaml:1:3: mapping keys must be plain names; write the key as a word followed by a "
        "colon, e.g. `team:`"
    ]


def test_read_text_decodes_utf8_and_strips_a_bom() -> None:
    assert read_text("\ufeffjob: café\n".encode(), "f.yaml") == "job: café\n"


def test_read_text_refuses_invalid_utf8_at_its_line_and_column() -> None:
    with pytest.raises(SpecError) as caught:
        read_text(b"a: 1\nb: caf\xe9\n", "f.yaml")
    assert str(caught.value) == (
        "f.yaml:2:7: not valid UTF-8 (byte 0xe9 at offset 11); save the file as UTF-8"
    )


def test_read_text_refuses_nul_bytes_at_their_position() -> None:
    with pytest.raises(SpecError) as caught:
        read_text(b"a: 1\nbb\x00\n", "f.yaml")
    assert str(caught.value).startswith("f.yaml:2:3: file contains NUL bytes")


def test_read_text_refuses_files_over_one_mib() -> None:
    with pytest.raises(SpecError, match=r"file is 1,048,577 bytes; the limit is 1,048,576"):
        read_text(b"#" * (MAX_FILE_BYTES + 1), "f.yaml")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_read_text_names_utf16_files(encoding: str) -> None:
    data = "job: x\n".encode(encoding)
    if encoding != "utf-16":
        data = ("\ufeff" + "job: x\n").encode(encoding)
    with pytest.raises(SpecError, match=r"f\.yaml:1:1: the file is UTF-16 text, not UTF-8"):
        read_text(data, "f.yaml")


# --- the fast reader and the located reader agree ----------------------------------------------
#
# parse_yaml reads a plainly valid document without positions (`_read_plain`) and leaves
# everything else to the reader that records them (`_read_located`); the source map of a fast
# read is filled by the located reader when first asked. These check that the two give the same
# data on every document the fast one accepts, and that it declines what it must not judge.

_FUZZ = settings(max_examples=200, derandomize=True, database=None, deadline=None)
_WORDS = ["job", "name", "env", "no", "on", "~", "null", "Null", "", "<<", "=", "1e3", "x y"]
_TOKENS = [
    "a", "b", ":", " ", "\n", "  ", "- ", "[", "]", "{", "}", ",", "&x ", "*x", "<<", "=",
    "!!str ", "~", "null", "'q'", '"d"', "? ", "#c", "---\n", "|\n  t", "no", "1",
]  # fmt: skip
_trees = st.recursive(
    st.one_of(st.none(), st.sampled_from(_WORDS), st.text(max_size=12)),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(_WORDS), st.text(max_size=8)), children, max_size=4
        ),
    ),
    max_leaves=25,
)


def _both(text: str) -> tuple[Any, Any]:
    """(fast data or _NOT_PLAIN, located (data, values, keys) or the SpecError's text)."""
    try:
        located = _read_located(text, "f.yaml")
        slow: Any = (located.data, located.source.values, located.source.keys, located.problems)
    except SpecError as exc:
        slow = str(exc)
    return _read_plain(text), slow


@_FUZZ
@given(_trees, st.booleans())
def test_fast_and_located_readers_agree_on_dumped_trees(tree: Any, flow: bool) -> None:
    text = yaml.safe_dump(tree, default_flow_style=flow, allow_unicode=True)
    fast, slow = _both(text)
    if fast is not _NOT_PLAIN:
        assert not isinstance(slow, str)
        assert not slow[3]
        assert fast == slow[0]
        data, source = parse_yaml(text, "f.yaml")
        assert data == fast
        assert (source.values, source.keys) == (slow[1], slow[2])


@_FUZZ
@given(st.lists(st.sampled_from(_TOKENS), max_size=30).map("".join))
def test_fast_reader_reads_only_what_the_located_reader_accepts(text: str) -> None:
    fast, slow = _both(text)
    if fast is not _NOT_PLAIN:
        assert not isinstance(slow, str), (text, slow)
        assert not slow[3], (text, slow)
        assert fast == slow[0]


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\n",
        "a: *x\n",
        "a: !!str 1\n",
        "a: 1\na: 2\n",
        "<<: {a: 1}\n",
        "a: =\n",
        "? [a]\n: 1\n",
        "a: 1\n---\nb: 2\n",
        "a: [1\n",
        "a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n",
        "a: [" + ",".join(["1"] * 20_001) + "]\n",
    ],
    ids=[
        "anchor",
        "alias",
        "tag",
        "duplicate",
        "merge",
        "value-tag",
        "complex-key",
        "two-documents",
        "syntax",
        "too-deep",
        "too-many",
    ],
)
def test_the_fast_reader_declines_what_needs_explaining(text: str) -> None:
    assert _read_plain(text) is _NOT_PLAIN


def test_a_fast_read_locates_problems_found_later() -> None:
    """Positions are read only when a later check asks for one, and are then exact."""
    data, source = parse_yaml("job:\n  team: vision\n  env: {A: b}\n", "f.yaml")
    assert data == {"job": {"team": "vision", "env": {"A": "b"}}}
    assert source.problem(("job", "env", "A"), "bad").line == 3
    assert source.locate(("job", "team"), key=True) == (2, 3)


@pytest.mark.parametrize(
    "spec", sorted(Path(__file__).resolve().parents[2].joinpath("jobs").rglob("*.yaml")), ids=str
)
def test_example_specs_take_the_fast_path_and_read_the_same(spec: Path) -> None:
    text = spec.read_text()
    fast, slow = _both(text)
    assert fast is not _NOT_PLAIN
    assert fast == slow[0]
