"""Where everything lives inside a bundle, how object files are written and read, and the limits
a reader enforces on an untrusted bundle.

An object file is YAML written so that the same object always gives the same bytes (sorted keys,
block style, no aliases) and so that no YAML 1.1 or 1.2 reader (PyYAML, kubectl's Go parser)
mistakes a string for a number, boolean, null or date. Reading accepts only what a JSON document
could say, read the same by every reader: one mapping, no anchors, aliases, tags, directives,
merge keys, non-string or duplicate keys, no unquoted scalar readers disagree on
(:mod:`movekit.bundle.scalars`), bounded depth and number of values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import yaml

from movekit.bundle import scalars
from movekit.model import MAX_DEPTH, plain_copy
from movekit.refs import ObjectRef

FORMAT_VERSION = 2
READABLE_FORMAT_VERSIONS = (1, 2)

MANIFEST_FILE = "manifest.json"
OBJECTS_DIR = "objects"
CRDS_DIR = "crds"
CORE_GROUP_DIR = "core"  # the core group is "", which cannot be a path component
CLUSTER_SCOPE_DIR = "_cluster"  # never a namespace: namespaces are DNS labels, without "_"

# Limits on what a reader accepts. They bound memory and time for a hostile bundle while leaving
# room for the largest real management clusters (tens of thousands of objects of a few KiB).
# docs/bundle-limits.md explains them to users.
MIB = 1024 * 1024
MAX_MANIFEST_BYTES = 64 * MIB
MAX_MEMBER_BYTES = 16 * MIB  # any file but the manifest; etcd itself refuses objects over 1.5 MiB
# The whole uncompressed tree (the tar stream, for an archive). A reader holds what it verified
# in memory, so this is also the most memory a hostile bundle can make it use.
MAX_TOTAL_BYTES = 1024 * MIB
MAX_MEMBERS = 500_000  # files and directories
MAX_PATH_LENGTH = 1024  # object paths are at most ~600 characters (253 + 253 + 63 + kind)
MAX_YAML_DEPTH = MAX_DEPTH  # nesting of mappings and sequences; real objects stay under 30
# Values, counted before or while parsing: a small archive of tiny values ("[{},{},...]")
# would otherwise build a Python object of some 70 bytes for every 3 bytes it holds. A
# 1,000-cluster bundle has 0.8 million JSON values in its manifest (64 MiB of such entries,
# 1.8 million) and 7.6 million YAML nodes in its object files, at most 1,000 in one file.
# docs/bundle-limits.md gives the memory they bound.
MAX_MANIFEST_VALUES = 2_500_000  # JSON values of manifest.json
MAX_FILE_VALUES = 1_000_000  # YAML nodes (keys included) or JSON values of one object file
MAX_BUNDLE_VALUES = 25_000_000  # the same, over all the object and CRD files of a bundle


class BundleDefect(Exception):
    """Something in a bundle is wrong: ``where`` is the member or manifest field, ``problem`` what.

    The reader turns it into ``InvalidBundle("<bundle>: <where>: <problem>")``.
    """

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


_UNSAFE_COMPONENT = re.compile(r"[/\\\x00-\x1f\x7f]")


def _component(value: str, what: str) -> str:
    if not value or value in (".", "..") or _UNSAFE_COMPONENT.search(value):
        raise ValueError(f"{what} {value!r} cannot be used as a bundle path component")
    return value


def object_path(ref: ObjectRef) -> str:
    """``objects/<group|core>/<Kind>/<namespace|_cluster>/<name>.yaml`` for ``ref``."""
    group = _component(ref.group, "group") if ref.group else CORE_GROUP_DIR
    namespace = _component(ref.namespace, "namespace") if ref.namespace else CLUSTER_SCOPE_DIR
    kind = _component(ref.kind, "kind")
    name = _component(ref.name, "name")
    return f"{OBJECTS_DIR}/{group}/{kind}/{namespace}/{name}.yaml"


def crd_path(crd_name: str) -> str:
    """``crds/<crd name>.yaml``."""
    return f"{CRDS_DIR}/{_component(crd_name, 'CRD name')}.yaml"


def member_name(raw: str) -> str:
    """The bundle-relative path named by an archive member or directory entry, or a defect.

    Accepts the ``./`` prefix and trailing ``/`` that tar tools write; refuses anything that
    could point outside the bundle or name the same file twice under different spellings.
    """
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise BundleDefect(ascii(raw), "name is not valid UTF-8") from None
    shown = raw if len(raw) <= 200 else raw[:200] + "..."
    if "\x00" in raw or len(raw) > MAX_PATH_LENGTH:
        raise BundleDefect(ascii(shown), "name is too long or contains a NUL byte")
    if not raw.isprintable():
        # Control characters (escape sequences, newlines) would reach the user's terminal in
        # the error message; no name a bundle uses has any.
        raise BundleDefect(ascii(shown), "name contains control or non-printable characters")
    if raw.startswith("/") or re.match(r"^[A-Za-z]:", raw):
        raise BundleDefect(shown, "absolute path")
    if "\\" in raw:
        raise BundleDefect(shown, "backslash in path")
    name = raw.removeprefix("./").rstrip("/")
    if name in ("", "."):
        return ""  # the bundle root itself
    parts = name.split("/")
    if ".." in parts:
        raise BundleDefect(shown, "path escapes the bundle ('..')")
    if any(part in ("", ".") for part in parts):
        raise BundleDefect(shown, "path is not in normal form (empty or '.' component)")
    return name


def parent_dirs(path: str) -> list[str]:
    """``"a/b/c.yaml"`` -> ``["a", "a/b"]``."""
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def tree_order(path: str) -> tuple[str, ...]:
    """Sort key that lists a directory right before its contents, independent of the OS."""
    return tuple(path.split("/"))


def decode_text(data: bytes, where: str) -> str:
    """UTF-8 text without NUL bytes, or a defect."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise BundleDefect(where, f"contains a NUL byte at offset {nul}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BundleDefect(where, f"not valid UTF-8 (byte offset {err.start})") from None


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for ``json.loads`` that refuses a key given twice."""
    # Two readers that pick different copies of a duplicated key would see different objects.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKey(key)
        result[key] = value
    return result


def no_json_constant(name: str) -> Any:
    """``parse_constant`` for ``json.loads``: NaN and Infinity are not JSON."""
    raise ValueError(f"{name} is not JSON")


# --- writing YAML ---------------------------------------------------------------------------

# Strings that some YAML reader would take for something else when written plain. PyYAML already
# quotes what YAML 1.1 resolves (yes, on, 0755, 1_000, 2024-01-01); this adds YAML 1.2 and Go
# yaml.v2 readings (1e3, 0o17, y, n, .inf) by quoting every string that starts like a number.
_AMBIGUOUS_PLAIN = re.compile(
    r"""^(?:
        [-+]?[0-9._]
      | [-+]?\.(?:inf|nan)$
      | (?:y|n|yes|no|true|false|on|off|null|~)$
      | <<$
      | =$
    )""",
    re.VERBOSE | re.IGNORECASE,
)


# libyaml's emitter writes the same bytes as PyYAML's, several times faster.
_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _BundleDumper(_BaseDumper):  # type: ignore[valid-type,misc]
    def ignore_aliases(self, data: Any) -> bool:
        # Identical sub-objects are written out in full: aliases would make the file depend on
        # object identity in memory, and readers refuse them anyway.
        return True


def _str_style(value: str) -> str | None:
    """How a string is written: plain where every reader reads it as that string."""
    if _BREAKS_TO_YAML_11.search(value):
        return '"'  # the only style in which the emitter escapes them
    if "\n" in value:
        return "|"  # scripts and certificates stay readable; the emitter falls back if needed
    if _AMBIGUOUS_PLAIN.match(value):
        return "'"
    return None


# Line breaks to YAML 1.1 and text to YAML 1.2: written raw, in a block or a quoted string,
# they would be read two ways.
_BREAKS_TO_YAML_11 = re.compile("[\x85\u2028\u2029]")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=_str_style(value))


def _represent_int(dumper: yaml.SafeDumper, value: int) -> yaml.ScalarNode:
    scalars.writable_number(value)
    return dumper.represent_int(value)


def _represent_float(dumper: yaml.SafeDumper, value: float) -> yaml.ScalarNode:
    scalars.writable_number(value)
    return dumper.represent_float(value)


_BundleDumper.add_representer(str, _represent_str)
_BundleDumper.add_representer(int, _represent_int)
_BundleDumper.add_representer(float, _represent_float)


_EMITTER_OPTIONS: dict[str, Any] = {
    "allow_unicode": True,
    "width": 1 << 30,  # never fold long lines: a folded line is a different byte sequence
    "indent": 2,
    "line_break": "\n",
}


def dump_yaml(obj: Mapping[str, Any]) -> bytes:
    """Deterministic UTF-8 YAML for a JSON-shaped object (sorted keys, block style, no aliases)."""
    try:
        events = _document_events(obj)
    except _NotPlainJson:
        # Mappings that are not dicts, tuples, scalar subclasses: PyYAML's representer decides.
        text: str = yaml.dump(plain_copy(obj), Dumper=_BundleDumper, sort_keys=True,
                              default_flow_style=False, **_EMITTER_OPTIONS)
        return text.encode("utf-8")
    return str(yaml.emit(events, Dumper=_BundleDumper, **_EMITTER_OPTIONS)).encode("utf-8")


# Writing through parser events skips PyYAML's representer and serializer (Python code that
# costs most of a dump), and hands libyaml's emitter exactly the events they would have made.
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_EMIT_RESOLVER = yaml.resolver.Resolver()
_REPRESENTER = yaml.representer.SafeRepresenter()
# The emitter only reads events, so one event serves every occurrence of the same thing: the
# start and end of every mapping and sequence, and each short string. Keys and short values
# repeat from object to object; long values (certificates, data) do not, and would only keep
# memory alive.
_MAPPING_START = yaml.MappingStartEvent(None, _MAP_TAG, True, flow_style=False)
_MAPPING_END = yaml.MappingEndEvent()
_SEQUENCE_START = yaml.SequenceStartEvent(None, _SEQ_TAG, True, flow_style=False)
_SEQUENCE_END = yaml.SequenceEndEvent()
_STR_EVENTS: dict[str, yaml.ScalarEvent] = {}
_STR_EVENTS_KEPT = 50_000
_CACHED_LENGTH = 64


class _NotPlainJson(Exception):
    pass


def _resolve(value: str, implicit: tuple[bool, bool]) -> str:
    """The tag a reader gives ``value`` written plain (True, False) or quoted (False, True)."""
    return str(_EMIT_RESOLVER.resolve(yaml.ScalarNode, value, implicit))  # type: ignore[no-untyped-call]


def _document_events(obj: Mapping[str, Any]) -> list[yaml.Event]:
    events: list[yaml.Event] = [yaml.StreamStartEvent(), yaml.DocumentStartEvent(explicit=False)]
    _value_events(obj, 0, events)
    events += [yaml.DocumentEndEvent(explicit=False), yaml.StreamEndEvent()]
    return events


def _value_events(value: Any, depth: int, events: list[yaml.Event]) -> None:
    kind = type(value)
    if kind is str:
        events.append(_str_event(value))
    elif kind is dict:
        if depth >= MAX_YAML_DEPTH:
            raise ValueError(f"object nests deeper than {MAX_YAML_DEPTH} levels")
        events.append(_MAPPING_START)
        for key in sorted(value):
            if type(key) is not str:
                raise _NotPlainJson
            events.append(_str_event(key))
            _value_events(value[key], depth + 1, events)
        events.append(_MAPPING_END)
    elif kind is list:
        if depth >= MAX_YAML_DEPTH:
            raise ValueError(f"object nests deeper than {MAX_YAML_DEPTH} levels")
        events.append(_SEQUENCE_START)
        for item in value:
            _value_events(item, depth + 1, events)
        events.append(_SEQUENCE_END)
    elif kind is int or kind is float or kind is bool or value is None:
        if kind is int or kind is float:
            scalars.writable_number(value)
        node: Any = _REPRESENTER.represent_data(value)
        implicit = (_resolve(node.value, (True, False)) == node.tag,
                    _resolve(node.value, (False, True)) == node.tag)
        events.append(yaml.ScalarEvent(None, node.tag, implicit, node.value, style=node.style))
    else:
        raise _NotPlainJson  # whatever it is, plain_copy and the representer decide as before


def _str_event(value: str) -> yaml.ScalarEvent:
    event = _STR_EVENTS.get(value)
    if event is not None:
        return event
    style = _str_style(value)
    plain = _resolve(value, (True, False)) == _STR_TAG
    event = yaml.ScalarEvent(None, _STR_TAG, (plain, True), value, style=style)
    if len(value) <= _CACHED_LENGTH and len(_STR_EVENTS) < _STR_EVENTS_KEPT:
        _STR_EVENTS[value] = event
    return event


# --- reading YAML ---------------------------------------------------------------------------

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Only the JSON types: timestamps, "<<" and "=" resolve to strings here, and are then refused
# unquoted (movekit.bundle.scalars), since other readers take them for dates and merge keys.
_DROPPED_TAGS = {
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:merge",
    "tag:yaml.org,2002:value",
}


class _BundleLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED_TAGS]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


def _at(event: yaml.Event) -> str:
    mark = event.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "somewhere"


# Characters YAML readers do not agree on, raw in a file: a tab (YAML 1.1 and 1.2 differ on
# where it may separate), a carriage return, and NEL, LS and PS, which YAML 1.1 takes for line
# breaks and YAML 1.2 for text; a byte-order mark is no JSON. The writer escapes them all in
# double-quoted strings ("\t", "\L", ...), which every reader reads the same way.
_DISPUTED_CHARACTERS = re.compile("[\t\r\x85\u2028\u2029\ufeff]")
_CHARACTER_NAMES = {"\t": "a tab", "\r": "a carriage return", "\x85": "a next-line character "
                    "(U+0085)", "\u2028": "a line separator (U+2028)",
                    "\u2029": "a paragraph separator (U+2029)",
                    "\ufeff": "a byte-order mark (U+FEFF)"}


def _check_characters(text: str, where: str) -> None:
    found = _DISPUTED_CHARACTERS.search(text)
    if found is not None:
        line = text.count("\n", 0, found.start()) + 1
        raise BundleDefect(where, f"{_CHARACTER_NAMES[found.group()]} at line {line}: YAML "
                                  "readers disagree on what it means unescaped; leave it out, "
                                  "or escape it in a double-quoted string")


# One resolver serves every load; the meaning of each distinct short plain scalar is kept, as
# keys and short values repeat in every file.
_RESOLVER = _BundleLoader("")
_PLAIN: dict[str, Any] = {}  # plain scalar -> its value, or why it is refused
_PLAIN_KEPT = 50_000


def _plain(value: str) -> Any:
    """The value of a plain scalar, or :class:`scalars.Refused`."""
    meaning = _PLAIN.get(value, _UNKNOWN)
    if meaning is _UNKNOWN:
        tag = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))
        meaning = scalars.plain_scalar(value, tag)
        if len(value) <= _CACHED_LENGTH and len(_PLAIN) < _PLAIN_KEPT:
            _PLAIN[value] = meaning
    return meaning


_UNKNOWN = object()


class TooManyValues(Exception):
    """A file holds more YAML nodes than it may."""


def _load_events(text: str, where: str, limit: int) -> tuple[dict[str, Any], int]:
    """Check and build in one pass over the parser's events; the object and its node count.

    Refuses anchors, aliases, tags, directives, keys that are not plain strings, duplicate
    keys, plain scalars readers disagree on, excess depth, more than ``limit`` nodes and
    multiple documents before the offending part is built, so a bomb never gets constructed.
    Builds what ``yaml.safe_load`` would (with the bundle's resolvers) at about three times
    its speed.
    """
    containers: list[Any] = []  # open mappings and sequences, innermost last
    keys: list[Any] = []  # per open container: the pending key of a mapping, else _NO_KEY
    root: Any = None
    documents = 0
    nodes = 0
    event: Any  # a node event carries anchor, tag and value, which yaml.Event does not declare
    for event in yaml.parse(text, Loader=_BundleLoader):
        kind = type(event)
        if kind is yaml.ScalarEvent or kind is yaml.MappingStartEvent or (
                kind is yaml.SequenceStartEvent):
            nodes += 1
            if nodes > limit:
                raise TooManyValues
            if event.anchor is not None:
                raise BundleDefect(where, f"YAML anchor at {_at(event)}: anchors are not allowed")
            if event.tag is not None:
                raise BundleDefect(where, f"YAML tag at {_at(event)}: tags are not allowed")
            if not containers:
                if kind is not yaml.MappingStartEvent:
                    raise BundleDefect(where, "top level is not a mapping")
                root = {}
                containers.append(root)
                keys.append(_NO_KEY)
                continue
            parent = containers[-1]
            if keys[-1] is _NO_KEY and type(parent) is dict:  # a mapping expects a key
                if kind is not yaml.ScalarEvent:
                    raise BundleDefect(where, f"mapping key at {_at(event)} is not a string")
                key = event.value
                if event.implicit[0]:
                    meaning = _plain(key)
                    if type(meaning) is not str:
                        raise BundleDefect(where, _key_problem(key, meaning, event))
                if key in parent:
                    raise BundleDefect(where, f"duplicate key {_shown_key(key)} at {_at(event)}")
                keys[-1] = key
                continue
            if kind is yaml.ScalarEvent:
                value: Any = event.value
                if event.implicit[0]:
                    value = _plain(value)
                    if type(value) is scalars.Refused:
                        raise BundleDefect(where, f"the unquoted value at {_at(event)} "
                                                  f"{value.problem}")
            else:
                value = {} if kind is yaml.MappingStartEvent else []
            if type(parent) is dict:
                parent[keys[-1]] = value
                keys[-1] = _NO_KEY
            else:
                parent.append(value)
            if kind is not yaml.ScalarEvent:
                containers.append(value)
                keys.append(_NO_KEY)
                if len(containers) > MAX_YAML_DEPTH:
                    raise BundleDefect(where, f"nested deeper than {MAX_YAML_DEPTH} levels")
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            containers.pop()
            keys.pop()
        elif kind is yaml.AliasEvent:
            raise BundleDefect(where, f"YAML alias at {_at(event)}: aliases are not allowed")
        elif kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise BundleDefect(where, f"second YAML document at {_at(event)}")
            if event.version is not None or event.tags:
                # %YAML 1.1 tells a YAML 1.2 reader to read the rest otherwise; %TAG renames tags.
                raise BundleDefect(where, f"YAML directive at {_at(event)}: directives "
                                          "are not allowed")
    if documents == 0:
        raise BundleDefect(where, "empty YAML file")
    return root, nodes


_NO_KEY = object()


def _shown_key(key: str) -> str:
    """A key for a message: escaped, so that it cannot drive a terminal, and cut short."""
    shown = ascii(key)
    return shown if len(shown) <= 62 else shown[:59] + "..."


def _key_problem(key: str, meaning: Any, event: yaml.Event) -> str:
    if type(meaning) is scalars.Refused:
        return f"the unquoted key {_shown_key(key)} at {_at(event)} {meaning.problem}"
    kind = {bool: "a boolean", int: "an integer", float: "a number",
            type(None): "null"}[type(meaning)]
    return (f"the unquoted key {_shown_key(key)} at {_at(event)} is {kind}, not a string; "
            "JSON and Kubernetes keys are strings: quote it")


def _load_text(text: str, where: str, limit: int) -> tuple[dict[str, Any], int]:
    _check_characters(text, where)
    try:
        return _load_events(text, where, limit)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        place = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown place"
        raise BundleDefect(where, f"not valid YAML at {place}: {err.problem}") from None
    except (yaml.YAMLError, ValueError, RecursionError) as err:
        raise BundleDefect(where, f"not valid YAML: {type(err).__name__}") from None


class ValueBudget:
    """How many more YAML nodes or JSON values the object files of one bundle may hold, each
    file at most MAX_FILE_VALUES. It bounds the time and memory a small archive can cost."""

    def __init__(self, total: int | None = None) -> None:
        self.left = MAX_BUNDLE_VALUES if total is None else total

    def limit(self) -> int:
        """The most the next file may hold."""
        return min(MAX_FILE_VALUES, self.left)

    def spend(self, count: int) -> None:
        self.left -= count

    def refusal(self, where: str, what: str) -> BundleDefect:
        """The defect of a file that holds more than :meth:`limit`."""
        if self.left < MAX_FILE_VALUES:
            return BundleDefect(where, f"the bundle's files hold more than {MAX_BUNDLE_VALUES:,} "
                                       f"{what} in all; no real bundle comes near")
        return BundleDefect(where, f"holds more than {MAX_FILE_VALUES:,} {what}; no real "
                                   "object comes near")


def load_yaml(data: bytes, where: str, budget: ValueBudget | None = None) -> dict[str, Any]:
    """Parse one untrusted object file; any problem is a :class:`BundleDefect` naming ``where``.

    ``budget`` is shared by the files of one bundle; without it the file alone is bounded.
    Messages carry a line and column but never file content: the file may hold a Secret.
    """
    budget = budget if budget is not None else ValueBudget()
    try:
        obj, nodes = _load_text(decode_text(data, where), where, budget.limit())
    except TooManyValues:
        raise budget.refusal(where, "YAML nodes") from None
    budget.spend(nodes)
    return obj


# --- reading JSON ---------------------------------------------------------------------------

def count_json_values(data: bytes) -> int:
    """At least the number of values (objects, arrays, scalars) in the JSON text ``data``.

    Cheap enough to run before parsing: every value but the first follows a ',', '[' or ':',
    and every object member a ',' or '{'; counting ',' '[' '{' counts every value once, plus
    such characters inside strings. Only when that exceeds what is allowed are strings skipped
    for the exact count.
    """
    return data.count(b",") + data.count(b"[") + data.count(b"{") + 1


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def exact_json_values(data: bytes) -> int:
    """:func:`count_json_values` with the characters inside strings not counted."""
    return count_json_values(_JSON_STRING.sub(b'""', data))


class _RefusedNumber(ValueError):
    def __init__(self, text: str, refused: scalars.Refused) -> None:
        super().__init__(text)
        self.text = text
        self.refused = refused


def _json_int(text: str) -> Any:
    if len(text) <= 18:  # nearly every integer: surely within 64 bits
        return int(text)
    value = scalars.json_int(text)
    if type(value) is scalars.Refused:
        raise _RefusedNumber(text, value)
    return value


def _json_float(text: str) -> Any:
    value = scalars.json_float(text)
    if type(value) is scalars.Refused:
        raise _RefusedNumber(text, value)
    return value


def load_json(data: bytes, where: str, max_values: int, what: str = "JSON values") -> Any:
    """An untrusted JSON document that every reader reads the same way, else a defect.

    Refused: more than ``max_values`` values (counted before anything is built), a key given
    twice, NaN and Infinity, integers beyond 64 bits, floats a 64-bit float does not hold
    exactly, half of a UTF-16 surrogate pair, nesting beyond Python's limit.
    """
    if count_json_values(data) > max_values and exact_json_values(data) > max_values:
        raise BundleDefect(where, f"holds more than {max_values:,} {what}; no real bundle "
                                  "comes near")
    text = decode_text(data, where)
    try:
        doc = json.loads(text, object_pairs_hook=no_duplicate_keys,
                         parse_constant=no_json_constant, parse_int=_json_int,
                         parse_float=_json_float)
    except DuplicateKey as dup:
        raise BundleDefect(where, f"duplicate key {_shown_key(dup.key)}") from None
    except json.JSONDecodeError as err:
        raise BundleDefect(where, f"not valid JSON at line {err.lineno}, column {err.colno}: "
                                  f"{err.msg}") from None
    except _RefusedNumber as refused:
        raise BundleDefect(where, f"the number at {_number_place(text, refused.text)} "
                                  f"{refused.refused.problem}") from None
    except (ValueError, RecursionError) as err:
        raise BundleDefect(where, f"not valid JSON ({type(err).__name__})") from None
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(doc, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise BundleDefect(where, "a string holds an unpaired surrogate escape "
                                      "(\\ud800-\\udfff); not valid Unicode") from None
    return doc


# JSON can spell half of a UTF-16 surrogate pair (\ud800), which is no Unicode character:
# such a string cannot be hashed into the digest, written to a file or sent to an API server.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _number_place(text: str, number: str) -> str:
    """Where the number token ``number`` first occurs in ``text``, as a line and column."""
    found = re.search(r"(?<![\w.\"+-])" + re.escape(number) + r"(?![\w.])", text)
    if found is None:
        return "an unknown place"
    line = text.count("\n", 0, found.start()) + 1
    column = found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1
    return f"line {line}, column {column}"
