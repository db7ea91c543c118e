"""Where everything lives inside a bundle, how object files are written and read, and the limits
a reader enforces on an untrusted bundle.

An object file is YAML written so that the same object always gives the same bytes (sorted keys,
block style, no aliases) and so that no YAML 1.1 or 1.2 reader (PyYAML, kubectl's Go parser)
mistakes a string for a number, boolean, null or date. Reading accepts only what a JSON document
could say: one mapping, no anchors, aliases, tags, merge keys or duplicate keys, bounded depth.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from movekit.model import MAX_DEPTH, plain_copy
from movekit.refs import ObjectRef

FORMAT_VERSION = 1
READABLE_FORMAT_VERSIONS = (1,)

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


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style: str | None = None
    if "\n" in value:
        style = "|"  # scripts and certificates stay readable; the emitter falls back if needed
    elif _AMBIGUOUS_PLAIN.match(value):
        style = "'"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BundleDumper.add_representer(str, _represent_str)


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
    style: str | None = None
    if "\n" in value:
        style = "|"  # scripts and certificates stay readable; the emitter falls back if needed
    elif _AMBIGUOUS_PLAIN.match(value):
        style = "'"
    plain = _resolve(value, (True, False)) == _STR_TAG
    event = yaml.ScalarEvent(None, _STR_TAG, (plain, True), value, style=style)
    if len(value) <= _CACHED_LENGTH and len(_STR_EVENTS) < _STR_EVENTS_KEPT:
        _STR_EVENTS[value] = event
    return event


# --- reading YAML ---------------------------------------------------------------------------

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Only the JSON types: timestamps stay strings (the API server sent strings), and "<<" / "=" are
# ordinary keys rather than merge or value directives.
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
    return f"line {mark.line + 1}" if mark is not None else "somewhere"


# One resolver and one constructor serve every load: plain scalars that are not strings (ints,
# booleans, null, floats) are rare, and building them the way PyYAML does keeps the result the
# one yaml.load would give.
_RESOLVER = _BundleLoader("")
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_PLAIN_TAGS: dict[str, str] = {}  # plain scalar -> its resolved tag; keys repeat in every file
_PLAIN_TAGS_KEPT = 50_000


def _scalar(event: Any) -> Any:
    """The value yaml.safe_load builds for a scalar without a tag, under the bundle's resolvers."""
    value = event.value
    if not event.implicit[0]:
        return value  # quoted, literal or folded: always a string
    tag = _PLAIN_TAGS.get(value)
    if tag is None:
        tag = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))
        if len(value) <= _CACHED_LENGTH and len(_PLAIN_TAGS) < _PLAIN_TAGS_KEPT:
            _PLAIN_TAGS[value] = tag
    if tag == _STR_TAG:
        return value
    return _CONSTRUCTOR.construct_object(yaml.ScalarNode(tag, value), deep=True)


class _Loaded:
    """The result of one load: the object, and whether all its keys are strings."""

    __slots__ = ("obj", "string_keys")

    def __init__(self, obj: dict[str, Any], string_keys: bool) -> None:
        self.obj = obj
        self.string_keys = string_keys


def _load_events(text: str, where: str) -> _Loaded:
    """Check and build in one pass over the parser's events.

    Refuses anchors, aliases, tags, complex or duplicate keys, excess depth and multiple
    documents before the offending part is built, so a bomb never gets constructed. Builds
    what ``yaml.safe_load`` would (with the bundle's resolvers) at about three times its speed.
    """
    containers: list[Any] = []  # open mappings and sequences, innermost last
    keys: list[Any] = []  # per open container: the pending key of a mapping, else _NO_KEY
    seen: list[set[str] | None] = []  # per open container: raw keys of a mapping
    root: Any = None
    documents = 0
    string_keys = True
    event: Any  # a node event carries anchor, tag and value, which yaml.Event does not declare
    for event in yaml.parse(text, Loader=_BundleLoader):
        kind = type(event)
        if kind is yaml.ScalarEvent or kind is yaml.MappingStartEvent or (
                kind is yaml.SequenceStartEvent):
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
                seen.append(set())
                continue
            parent = containers[-1]
            names = seen[-1]
            if names is not None and keys[-1] is _NO_KEY:  # a mapping expects a key
                if kind is not yaml.ScalarEvent:
                    raise BundleDefect(where, f"mapping key at {_at(event)} is not a string")
                if event.value in names:
                    raise BundleDefect(where, f"duplicate key {event.value!r} at {_at(event)}")
                names.add(event.value)
                key = _scalar(event)
                string_keys = string_keys and type(key) is str
                keys[-1] = key
                continue
            if kind is yaml.ScalarEvent:
                value: Any = _scalar(event)
            else:
                value = {} if kind is yaml.MappingStartEvent else []
            if names is not None:
                parent[keys[-1]] = value
                keys[-1] = _NO_KEY
            else:
                parent.append(value)
            if kind is not yaml.ScalarEvent:
                containers.append(value)
                keys.append(_NO_KEY)
                seen.append(set() if kind is yaml.MappingStartEvent else None)
                if len(containers) > MAX_YAML_DEPTH:
                    raise BundleDefect(where, f"nested deeper than {MAX_YAML_DEPTH} levels")
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            containers.pop()
            keys.pop()
            seen.pop()
        elif kind is yaml.AliasEvent:
            raise BundleDefect(where, f"YAML alias at {_at(event)}: aliases are not allowed")
        elif kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise BundleDefect(where, f"second YAML document at {_at(event)}")
    if documents == 0:
        raise BundleDefect(where, "empty YAML file")
    return _Loaded(root, string_keys)


_NO_KEY = object()


def _load_text(text: str, where: str) -> _Loaded:
    try:
        return _load_events(text, where)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        place = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown place"
        raise BundleDefect(where, f"not valid YAML at {place}: {err.problem}") from None
    except (yaml.YAMLError, ValueError, RecursionError) as err:
        raise BundleDefect(where, f"not valid YAML: {type(err).__name__}") from None


def load_yaml(data: bytes, where: str) -> dict[str, Any]:
    """Parse one untrusted object file; any problem is a :class:`BundleDefect` naming ``where``.

    Messages carry a line and column but never file content: the file may hold a Secret.
    """
    loaded = _load_text(decode_text(data, where), where)
    result: dict[str, Any] = loaded.obj
    return result


def load_yaml_object(data: bytes, where: str) -> tuple[dict[str, Any], bool]:
    """:func:`load_yaml`, and whether every mapping key is a string (the object is JSON)."""
    loaded = _load_text(decode_text(data, where), where)
    return loaded.obj, loaded.string_keys


def load_checked_yaml(data: bytes) -> dict[str, Any]:
    """Parse an object file that :func:`load_yaml` already accepted."""
    return load_yaml(data, "(verified file)")
