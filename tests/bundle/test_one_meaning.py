"""An object file means one thing to every reader: what PyYAML, Go's YAML (kubectl) and a YAML
1.2 reader would read differently is refused with the file and line; the writer never writes
anything the reader refuses; JSON (manifest, clusterctl files) holds only numbers the API
server keeps exactly; value counts are bounded before anything is built."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from movekit.bundle import dump_yaml, layout
from movekit.bundle.layout import (
    BundleDefect,
    ValueBudget,
    count_json_values,
    exact_json_values,
    load_json,
    load_yaml,
)

WHERE = "objects/core/ConfigMap/prod/x.yaml"


def refusal(data: bytes) -> str:
    with pytest.raises(BundleDefect) as caught:
        load_yaml(data, WHERE)
    assert caught.value.where == WHERE
    return caught.value.problem


# Unquoted values that one reader takes for one thing and another for another; each must be
# refused, and each quoted spelling must load as the string.
DISPUTED_VALUES = [
    # YAML 1.1 booleans (PyYAML, Go) that YAML 1.2 reads as strings, in their spellings
    "yes", "Yes", "YES", "no", "No", "on", "On", "ON", "off", "OFF",
    # Go's booleans that PyYAML reads as strings
    "y", "Y", "n", "N",
    # integers in forms YAML 1.1 and 1.2 read differently
    "0755", "00", "0x1F", "0X1f", "0b101", "1_000", "+1", "1:20", "190:20:30", "-0x1",
    # Go and YAML 1.2 numbers that PyYAML reads as strings
    "1e3", "1E3", "1.5e3", "0o17", "0O17", "1_0e3", "09", "1__0",
    # floats YAML 1.1 reads that JSON cannot say, or that readers differ on
    "1.", ".5", "-.5", "01.5", "1_0.5", "190:20:30.15", "+1.5",
    # infinity and NaN, in any spelling a reader knows
    ".inf", ".Inf", ".INF", "-.inf", "+.inf", "-.Inf", ".nan", ".NaN", ".NAN",
    # numbers that a 64-bit float or integer does not hold as written
    "1.0e+400", "-1.0e+400", "1.0e-400", "3.14159265358979323846", "9007199254740993.0",
    "9223372036854775808", "-9223372036854775809", "99999999999999999999999",
    # dates and times, which PyYAML's default loader makes datetimes
    "2001-01-01", "2001-1-1", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5",
    "2002-12-14T00:00:00Z",
    # merge and value keys
    "<<", "=",
]


@pytest.mark.parametrize("value", DISPUTED_VALUES)
def test_an_unquoted_value_that_readers_read_differently_is_refused_with_its_line(
        value: str) -> None:
    problem = refusal(f"a: ok\nb:\n  c: {value}\n".encode())
    assert problem.startswith("the unquoted value at line 3, column 6 ")
    assert repr(value) not in problem  # never the file's content: it may be a Secret
    for quote in ("'", '"'):
        assert load_yaml(f"a: ok\nb:\n  c: {quote}{value}{quote}\n".encode(), WHERE) == {
            "a": "ok", "b": {"c": value}}


@pytest.mark.parametrize("value", DISPUTED_VALUES)
def test_the_same_values_in_a_flow_list_are_refused_too(value: str) -> None:
    assert "the unquoted value at line 1" in refusal(f"a: [x, {value}]\n".encode())


# Unquoted scalars every reader reads the same, as JSON would.
AGREED = [
    ("true", True), ("false", False), ("True", True), ("FALSE", False),
    ("null", None), ("~", None), ("Null", None), ("", None),
    ("0", 0), ("-0", 0), ("42", 42), ("-17", -17),
    ("9223372036854775807", 2**63 - 1), ("-9223372036854775808", -(2**63)),
    ("1.5", 1.5), ("-0.0", -0.0), ("0.1", 0.1), ("1.0e+3", 1000.0), ("1.5e-07", 1.5e-07),
    ("0.30000000000000004", 0.30000000000000004),
    ("c1", "c1"), ("10Gi", "10Gi"), ("100m", "100m"), ("10.0.0.1", "10.0.0.1"),
    ("1.2.3", "1.2.3"), ("v1beta2", "v1beta2"), ("nginx:1.27", "nginx:1.27"),
    ("yess", "yess"), ("nope", "nope"), ("_1", "_1"), ("-x", "-x"), ("+x", "+x"),
    ("2001-01-01x", "2001-01-01x"), ("héllo ✓", "héllo ✓"),
]


@pytest.mark.parametrize(("text", "value"), AGREED)
def test_an_unquoted_value_every_reader_agrees_on_is_read_as_json_would(
        text: str, value: Any) -> None:
    loaded = load_yaml(f"a: {text}\n".encode(), WHERE)["a"]
    assert loaded == value and type(loaded) is type(value)


# Keys: each must be a string to every reader; JSON has no other kind of key.
NON_STRING_KEYS = [("yes", "boolean"), ("on", "boolean"), ("true", "a boolean"),
                   ("True", "a boolean"), ("1", "an integer"), ("01", "integer not written"),
                   ("0x1", "integer not written"), ("1_0", "integer not written"),
                   ("1.5", "a number"), ("null", "null"), ("~", "null"), ("y", "a string here"),
                   ("<<", "merge key"), ("2001-01-01", "date"), (".inf", "infinity")]


@pytest.mark.parametrize(("key", "problem"), NON_STRING_KEYS)
def test_an_unquoted_key_that_is_not_a_string_to_every_reader_is_refused(
        key: str, problem: str) -> None:
    message = refusal(f"metadata:\n  name: x\n  {key}: 1\n".encode())
    assert message.startswith(f"the unquoted key {key!r} at line 3, column 3 "), message
    assert problem in message
    quoted = load_yaml(f"metadata:\n  name: x\n  '{key}': 1\n".encode(), WHERE)
    assert quoted == {"metadata": {"name": "x", key: 1}}


@pytest.mark.parametrize("first, second", [
    ("a", "'a'"), ("a", '"a"'), ("'a'", '"\\x61"'), ("'yes'", '"yes"'), ("'1'", '"1"'),
    ("'<<'", "'<<'"), ("'null'", '"null"'),
])
def test_two_spellings_of_one_key_are_a_duplicate(first: str, second: str) -> None:
    assert "duplicate key" in refusal(f"x:\n  {first}: 1\n  {second}: 2\n".encode())


def test_an_empty_key_is_refused_and_a_quoted_one_is_read() -> None:
    assert "is null, not a string" in refusal(b"? \n: 2\n")
    assert load_yaml(b"'': 2\n", WHERE) == {"": 2}


@pytest.mark.parametrize(("data", "problem"), [
    (b"a:\tb\n", "a tab at line 1"),
    (b"a: 1\nb:\n\t- x\n", "a tab at line 3"),
    (b"a: 'x\ty'\n", "a tab at line 1"),
    (b"a: 1\r\nb: 2\r\n", "a carriage return at line 1"),
    (b"a: 1\rb: 2\n", "a carriage return at line 1"),
    ("\ufeffa: 1\n".encode(), "a byte-order mark (U+FEFF) at line 1"),
    ("a: 1\nb: x\u2028y\n".encode(), "a line separator (U+2028) at line 2"),
    ("a: 'x\u2029y'\n".encode(), "a paragraph separator (U+2029) at line 1"),
    ("a: |\n  x\x85y\n".encode(), "a next-line character (U+0085) at line 2"),
    (b"a: \x1b[2J\n", "not valid YAML"),
    (b"a: \x7f\n", "not valid YAML"),
    (b"a: b\x00c\n", "NUL byte"),
    (b"a: \"\\ud800\"\n", "not valid YAML"),
    (b"a: \"\\ud83d\\ude00\"\n", "not valid YAML"),
    ("a: 1\n".encode("utf-16"), "NUL byte"),
    (b"a: \xc0\xaf\n", "not valid UTF-8"),
    (b"%YAML 1.1\n---\na: 1\n", "YAML directive at line 1"),
    (b"%YAML 1.2\n---\na: 1\n", "directive"),
    (b"%TAG !e! tag:example.com,2000:\n---\na: 1\n", "YAML directive at line 1"),
    (b"a: !!str 1\n", "YAML tag at line 1"),
    (b"a: ! 1\n", "YAML tag at line 1"),
    (b"a: !!binary aGk=\n", "YAML tag at line 1"),
    (b"a: !!timestamp 2001-01-01\n", "YAML tag at line 1"),
    (b"a: &x 1\nb: *x\n", "YAML anchor at line 1"),
    (b"a: 1\n---\na: 2\n", "second YAML document at line 2"),
    (b"a: 1\n...\n---\nb: 2\n", "second YAML document"),
    (b"? [a]\n: 1\n", "is not a string"),
    (b"? {a: 1}\n: 1\n", "is not a string"),
])
def test_what_readers_read_differently_or_json_cannot_say_is_refused(
        data: bytes, problem: str) -> None:
    assert problem in refusal(data)


def test_escapes_in_double_quoted_strings_say_the_same_to_every_reader() -> None:
    text = b'a: "tab\\there \\u2028 \\x85 \\0 \\e \\ud7ff \\U0001F600 \\/ "\n'
    assert load_yaml(text, WHERE) == {"a": "tab\there \u2028 \x85 \x00 \x1b \ud7ff \U0001f600 / "}


# --- the writer writes only what the reader accepts --------------------------------------------

TRICKY = ["yes", "no", "on", "off", "y", "n", "Y", "N", "true", "True", "null", "~", "", "0x1",
          "0o17", "0755", "1e3", "1E3", "+1", "-1", "1_000", "1:20", ".nan", ".inf", "-.Inf",
          "2001-01-01", "2001-01-01T00:00:00Z", "<<", "=", "-", "- x", "? x", ": x", "#x",
          "a #b", "a: b", "[x]", "{x}", "!x", "&x", "*x", "|", ">", "%x", "@x", "`x", "'", '"',
          " x", "x ", "x\n", "\nx", "x\n\n", "\tx", "x\ry", "x\u2028y", "x\u2029", "\x85",
          "\ufeff", "\x00", "\x1b[2J", "\x7f", "\u200b", "é", "✓", "\U0001f600", "\ufffe",
          "a\n\tb", "#!/bin/sh\necho hi\n", "  indented\nlines\n", "x" * 300]

JSON_SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
                | st.floats(allow_nan=False, allow_infinity=False)
                | st.text() | st.sampled_from(TRICKY))
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.text() | st.sampled_from(TRICKY), children, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text() | st.sampled_from(TRICKY), JSON_VALUES, max_size=6))
def test_whatever_json_the_writer_writes_the_reader_reads_back_unchanged(
        obj: dict[str, Any]) -> None:
    data = dump_yaml(obj)
    assert load_yaml(data, WHERE) == obj
    assert yaml.safe_load(data.decode()) == obj  # PyYAML's own loader, timestamps and all
    assert dump_yaml(load_yaml(data, WHERE)) == data


@pytest.mark.parametrize("value", TRICKY)
def test_each_tricky_string_round_trips_as_key_and_value(value: str) -> None:
    obj = {value: value, "list": [value]}
    assert load_yaml(dump_yaml(obj), WHERE) == obj


@pytest.mark.parametrize(("value", "message"), [
    (float("nan"), "JSON has no such number"),
    (float("inf"), "JSON has no such number"),
    (-float("inf"), "JSON has no such number"),
    (2**63, "beyond 64 bits"),
    (-(2**63) - 1, "beyond 64 bits"),
    (10**30, "beyond 64 bits"),
])
def test_the_writer_refuses_numbers_a_reader_would_refuse(value: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dump_yaml({"a": value})
    with pytest.raises(ValueError, match=message):
        dump_yaml({"a": (value,)})  # the representer's path, for what is not plain JSON


# --- JSON: the manifest and clusterctl's files --------------------------------------------------

@pytest.mark.parametrize(("text", "problem"), [
    ('{"a": 1e400}', "infinity"),
    ('{"a": -1e400}', "infinity"),
    ('{"a": 1e-400}', "cannot hold exactly"),
    ('{"a": 3.14159265358979323846}', "cannot hold exactly"),
    ('{"a": 9223372036854775808}', "beyond 64 bits"),
    ('{"a": -9223372036854775809}', "beyond 64 bits"),
    ('{"a": ' + "9" * 5000 + "}", "beyond 64 bits"),
    ('{"a": NaN}', "not valid JSON"),
    ('{"a": -Infinity}', "not valid JSON"),
    ('{"a": 1, "a": 2}', "duplicate key 'a'"),
    ('{"a": "\\ud800"}', "unpaired surrogate"),
    ('\ufeff{"a": 1}', "not valid JSON"),
    ('{"a": 1}\n{"b": 2}', "not valid JSON"),
])
def test_json_that_readers_would_read_differently_is_refused(text: str, problem: str) -> None:
    with pytest.raises(BundleDefect) as caught:
        load_json(text.encode(), "manifest.json", 1000)
    assert problem in caught.value.problem


def test_a_refused_json_number_is_placed_by_line_and_column() -> None:
    with pytest.raises(BundleDefect, match="the number at line 3, column 8 "):
        load_json(b'{\n  "b": "1e400",\n  "a": 1e400\n}', "f", 1000)


@pytest.mark.parametrize("text", ['{"a": 9223372036854775807}', '{"a": -9223372036854775808}',
                                  '{"a": 1e3}', '{"a": 0.1}', '{"a": 1.7976931348623157e308}'])
def test_json_numbers_a_64_bit_reader_holds_exactly_are_read(text: str) -> None:
    assert load_json(text.encode(), "f", 1000) == json.loads(text)


# --- values are counted before anything is built ----------------------------------------------

@pytest.mark.parametrize("doc", [
    {"a": [{}, [], 0, "", None, True, 1.5, {"b": [1, 2, {"c": "d"}]}]},
    {"s": "a,b,[c],{d}", "t": ["x,y", "[", "{"]},
    {"k": {"nested": {"deeper": [[], [[]], {}]}}},
])
def test_the_count_of_json_values_is_never_below_the_number_of_values(doc: Any) -> None:
    data = json.dumps(doc).encode()
    assert count_json_values(data) >= exact_json_values(data) >= _values(doc)


def _values(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(_values(item) for item in value.values())
    if isinstance(value, list):
        return 1 + sum(_values(item) for item in value)
    return 1


def test_json_over_the_value_limit_is_refused_before_parsing() -> None:
    data = b"[" + b",".join([b"0"] * 2000) + b"]"
    with pytest.raises(BundleDefect, match="holds more than 1,000 JSON values"):
        load_json(data, "manifest.json", 1000)


def test_commas_inside_strings_do_not_count_as_values() -> None:
    data = json.dumps({"note": "," * 5000, "list": ["[{"] * 10}).encode()
    assert load_json(data, "manifest.json", 100)["note"] == "," * 5000


def test_yaml_over_the_file_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout, "MAX_FILE_VALUES", 100)
    data = b"a: [" + b",".join([b"{}"] * 100) + b"]\n"
    with pytest.raises(BundleDefect, match="holds more than 100 YAML nodes"):
        load_yaml(data, WHERE)
    assert load_yaml(b"a: [" + b",".join([b"{}"] * 97) + b"]\n", WHERE)


def test_yaml_over_the_bundle_limit_is_refused_at_the_file_that_crosses_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout, "MAX_BUNDLE_VALUES", 250)
    monkeypatch.setattr(layout, "MAX_FILE_VALUES", 100)
    budget = ValueBudget()
    data = b"a: [" + b",".join([b"1"] * 90) + b"]\n"  # 93 nodes
    load_yaml(data, "one.yaml", budget)
    load_yaml(data, "two.yaml", budget)
    with pytest.raises(BundleDefect) as caught:
        load_yaml(data, "three.yaml", budget)
    assert caught.value.where == "three.yaml"
    assert re.search(r"the bundle's files hold more than 250 YAML nodes in all",
                     caught.value.problem)
