"""The safe YAML reader: plain data only, every value located, surprises refused."""

from __future__ import annotations

import pytest

from airflow_platform.spec.errors import SpecError
from airflow_platform.spec.yamlsafe import MAX_DEPTH, MAX_FILE_BYTES, parse_yaml, read_text

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
