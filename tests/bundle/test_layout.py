"""Paths inside a bundle, deterministic YAML, and the YAML a reader accepts."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from movekit.bundle import MAX_YAML_DEPTH, crd_path, dump_yaml, object_path
from movekit.bundle.layout import BundleDefect, load_yaml, member_name
from movekit.refs import ObjectRef


@pytest.mark.parametrize(("ref", "path"), [
    (ObjectRef("cluster.x-k8s.io", "Cluster", "prod", "c1"),
     "objects/cluster.x-k8s.io/Cluster/prod/c1.yaml"),
    (ObjectRef("", "Secret", "prod", "c1-ca"), "objects/core/Secret/prod/c1-ca.yaml"),
    (ObjectRef("infrastructure.cluster.x-k8s.io", "AWSClusterStaticIdentity", "", "default"),
     "objects/infrastructure.cluster.x-k8s.io/AWSClusterStaticIdentity/_cluster/default.yaml"),
])
def test_object_path_follows_the_layout(ref: ObjectRef, path: str) -> None:
    assert object_path(ref) == path


def test_crd_path_is_under_crds() -> None:
    assert crd_path("clusters.cluster.x-k8s.io") == "crds/clusters.cluster.x-k8s.io.yaml"


@pytest.mark.parametrize("ref", [
    ObjectRef("", "Secret", "prod", ".."),
    ObjectRef("", "Secret", "prod", "a/b"),
    ObjectRef("", "Secret", "..", "x"),
    ObjectRef("", "", "prod", "x"),
    ObjectRef("", "Secret", "prod", ""),
])
def test_object_path_refuses_names_that_would_leave_their_directory(ref: ObjectRef) -> None:
    with pytest.raises(ValueError, match="path component"):
        object_path(ref)


AMBIGUOUS = ["yes", "no", "on", "off", "y", "n", "Y", "true", "False", "null", "~", "0755",
             "1e3", "0o17", "0x1F", "1_000", "12:30", ".inf", "-.inf", ".nan", "<<", "=",
             "2024-01-01", "2024-01-01T00:00:00Z", "1.0", "+1", "-1", ""]


@pytest.mark.parametrize("value", AMBIGUOUS)
def test_strings_that_yaml_could_misread_are_quoted(value: str) -> None:
    text = dump_yaml({"v": value}).decode()
    assert text in (f"v: '{value}'\n", f'v: "{value}"\n')
    assert yaml.safe_load(text) == {"v": value}
    assert load_yaml(text.encode(), "f") == {"v": value}


def test_plain_strings_stay_plain_and_types_survive() -> None:
    obj = {"name": "c1", "replicas": 3, "ratio": 0.5, "paused": False, "ref": None,
           "quantity": "10Gi", "ip": "10.0.0.1"}
    text = dump_yaml(obj).decode()
    assert "name: c1\n" in text
    assert load_yaml(text.encode(), "f") == obj


def test_dump_is_sorted_block_style_without_aliases_or_folding() -> None:
    shared = {"kind": "Secret", "name": "x"}
    obj = {"zeta": [shared, shared], "alpha": {"b": 1, "a": "é ✓"}, "long": "w " * 400,
           "script": "#!/bin/sh\necho hi\n"}
    text = dump_yaml(obj).decode()
    assert text.index("alpha:") < text.index("long:") < text.index("script:") < text.index("zeta")
    assert "&" not in text and "*" not in text
    assert "é ✓" in text
    assert "script: |\n  #!/bin/sh\n  echo hi\n" in text
    assert len(next(line for line in text.splitlines() if line.startswith("long:"))) > 800
    assert "{" not in text and "[" not in text
    assert load_yaml(text.encode(), "f") == obj


def test_the_same_object_always_gives_the_same_bytes() -> None:
    first = {"b": {"y": [1, 2], "x": "1"}, "a": "z"}
    second = {"a": "z", "b": {"x": "1", "y": [1, 2]}}
    assert dump_yaml(first) == dump_yaml(second)


def nested(levels: int) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for _ in range(levels - 1):
        obj = {"n": obj}
    return obj


def test_nesting_up_to_the_limit_round_trips() -> None:
    obj = nested(MAX_YAML_DEPTH)
    assert load_yaml(dump_yaml(obj), "f") == obj


@pytest.mark.parametrize(("value", "message"), [
    (nested(MAX_YAML_DEPTH + 1), "deeper"),
    ({"when": object()}, "cannot be written"),
    ({1: "x"}, "not a string"),
])
def test_dump_refuses_what_a_reader_would_refuse(value: dict[Any, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dump_yaml(value)


BILLION_LAUGHS = b"""a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: [*c,*c,*c,*c,*c,*c,*c,*c,*c]
"""


@pytest.mark.parametrize(("data", "message"), [
    (BILLION_LAUGHS, "anchor"),
    (b"a: *x\n", "alias"),
    (b"a: !!binary aGVsbG8=\n", "tag"),
    (b"a: !!python/object:os.system x\n", "tag"),
    (b"a: 1\na: 2\n", "duplicate key 'a'"),
    (b"? [a]\n: 1\n", "not a string"),
    (b"a: 1\n---\nb: 2\n", "second YAML document"),
    (b"[" * (MAX_YAML_DEPTH + 1) + b"]" * (MAX_YAML_DEPTH + 1), "not a mapping"),
    (b"a: " + b"[" * (MAX_YAML_DEPTH + 5) + b"]" * (MAX_YAML_DEPTH + 5), "deeper than"),
    (b"- a\n", "not a mapping"),
    (b"", "empty"),
    (b"a: b\x00c\n", "NUL byte at offset 4"),
    (b"a: \xff\xfe\n", "not valid UTF-8"),
    (b"a: [unclosed\n", "not valid YAML at line 2"),
])
def test_load_refuses_yaml_that_json_could_not_say(data: bytes, message: str) -> None:
    with pytest.raises(BundleDefect, match=message) as caught:
        load_yaml(data, "objects/core/Secret/prod/x.yaml")
    assert caught.value.where == "objects/core/Secret/prod/x.yaml"


def test_load_keeps_quoted_timestamps_and_merge_keys_as_strings() -> None:
    data = b"t: '2024-01-01T00:00:00Z'\n'<<': {a: 1}\n"
    assert load_yaml(data, "f") == {"t": "2024-01-01T00:00:00Z", "<<": {"a": 1}}


def test_a_parse_error_never_quotes_the_file() -> None:
    secret = "c2VjcmV0LXZhbHVlLWRvLW5vdC1wcmludA=="
    data = f"data:\n  key: {secret}\n  bad: [{secret}\n".encode()
    with pytest.raises(BundleDefect) as caught:
        load_yaml(data, "f")
    assert secret not in str(caught.value)


@pytest.mark.parametrize(("raw", "name"), [
    ("manifest.json", "manifest.json"),
    ("./objects/core/", "objects/core"),
    ("./", ""),
    ("objects/core/Secret/prod/a..b.yaml", "objects/core/Secret/prod/a..b.yaml"),
])
def test_member_names_in_normal_form_are_accepted(raw: str, name: str) -> None:
    assert member_name(raw) == name


@pytest.mark.parametrize(("raw", "message"), [
    ("/etc/passwd", "absolute path"),
    ("../outside.yaml", "escapes the bundle"),
    ("objects/../../outside.yaml", "escapes the bundle"),
    ("objects//x.yaml", "normal form"),
    ("objects/./x.yaml", "normal form"),
    ("objects\\..\\x.yaml", "backslash"),
    ("C:x.yaml", "absolute path"),
    ("bad\udcffname", "not valid UTF-8"),
    ("x" * 2000, "too long"),
    ("objects/x\x1b[2J\nerror: ok.yaml", "control or non-printable"),
    ("objects/x\u2028.yaml", "control or non-printable"),
])
def test_member_names_that_could_leave_the_bundle_are_refused(raw: str, message: str) -> None:
    with pytest.raises(BundleDefect, match=message):
        member_name(raw)


JSON_SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text())
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children,
                                                                       max_size=4),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(), JSON_VALUES, max_size=5))
def test_any_json_object_survives_dump_and_load_unchanged(obj: dict[str, Any]) -> None:
    data = dump_yaml(obj)
    assert load_yaml(data, "f") == obj
    assert yaml.safe_load(data.decode()) == obj
    assert dump_yaml(load_yaml(data, "f")) == data
