"""Where everything lives inside a bundle, how object files are written and read, and the limits
a reader enforces on an untrusted bundle.

An object file is YAML written so that the same object always gives the same bytes (sorted keys,
block style, no aliases) and so that no YAML 1.1 or 1.2 reader (PyYAML, kubectl's Go parser)
mistakes a string for a number, boolean, null or date. Reading accepts only what a JSON document
could say: one mapping, no anchors, aliases, tags, merge keys or duplicate keys, bounded depth.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

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
MIB = 1024 * 1024
MAX_MANIFEST_BYTES = 64 * MIB
MAX_MEMBER_BYTES = 16 * MIB  # any file but the manifest; etcd itself refuses objects over 1.5 MiB
MAX_TOTAL_BYTES = 4 * 1024 * MIB  # the whole uncompressed tree (the tar stream, for an archive)
MAX_MEMBERS = 500_000  # files and directories
MAX_PATH_LENGTH = 1024  # object paths are at most ~600 characters (253 + 253 + 63 + kind)
MAX_YAML_DEPTH = 64  # nesting of mappings and sequences; real objects stay under 30


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

_JSON_SCALARS = (str, int, float, bool, type(None))


def plain_copy(value: Any, depth: int = 0) -> Any:
    """A deep copy made only of dict, list and JSON scalars; ValueError for anything else."""
    if type(value) in _JSON_SCALARS:  # the common case first: this runs for every field
        return value
    if depth >= MAX_YAML_DEPTH:
        raise ValueError(f"object nests deeper than {MAX_YAML_DEPTH} levels")
    if isinstance(value, dict | Mapping):
        copied: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"mapping key {key!r} is not a string")
            copied[key] = plain_copy(item, depth + 1)
        return copied
    if isinstance(value, list | tuple) or (
            isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray)):
        return [plain_copy(item, depth + 1) for item in value]
    if isinstance(value, _JSON_SCALARS):  # subclasses, such as an IntEnum
        return value
    raise ValueError(f"value of type {type(value).__name__} cannot be written to a bundle")


def dump_yaml(obj: Mapping[str, Any]) -> bytes:
    """Deterministic UTF-8 YAML for a JSON-shaped object (sorted keys, block style, no aliases)."""
    text = yaml.dump(
        plain_copy(obj),
        Dumper=_BundleDumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 30,  # never fold long lines: a folded line is a different byte sequence
        indent=2,
        line_break="\n",
    )
    return text.encode("utf-8")


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


class _MappingLevel:
    __slots__ = ("expect_key", "keys")

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.expect_key = True


def _check_events(text: str, where: str) -> None:
    """Refuse anchors, aliases, tags, complex or duplicate keys, excess depth, multiple documents.

    Runs over parser events, before anything is built, so a bomb never gets constructed.
    """
    stack: list[_MappingLevel | None] = []
    documents = 0
    for event in yaml.parse(text, Loader=_BundleLoader):
        if isinstance(event, yaml.AliasEvent):
            raise BundleDefect(where, f"YAML alias at {_at(event)}: aliases are not allowed")
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise BundleDefect(where, f"second YAML document at {_at(event)}")
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            stack.pop()
            continue
        if not isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent):
            continue
        if event.anchor is not None:
            raise BundleDefect(where, f"YAML anchor at {_at(event)}: anchors are not allowed")
        if event.tag is not None:
            raise BundleDefect(where, f"YAML tag at {_at(event)}: tags are not allowed")
        if not stack and not isinstance(event, yaml.MappingStartEvent):
            raise BundleDefect(where, "top level is not a mapping")
        level = stack[-1] if stack else None
        if level is not None:
            if level.expect_key:
                if not isinstance(event, yaml.ScalarEvent):
                    raise BundleDefect(where, f"mapping key at {_at(event)} is not a string")
                if event.value in level.keys:
                    raise BundleDefect(where, f"duplicate key {event.value!r} at {_at(event)}")
                level.keys.add(event.value)
            level.expect_key = not level.expect_key
        if isinstance(event, yaml.CollectionStartEvent):
            stack.append(_MappingLevel() if isinstance(event, yaml.MappingStartEvent) else None)
            if len(stack) > MAX_YAML_DEPTH:
                raise BundleDefect(where, f"nested deeper than {MAX_YAML_DEPTH} levels")
    if documents == 0:
        raise BundleDefect(where, "empty YAML file")


def _construct(text: str) -> dict[str, Any]:
    loader = _BundleLoader(text)
    try:
        data = loader.get_single_data()
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise ValueError("top level is not a mapping")
    return data


def load_yaml(data: bytes, where: str) -> dict[str, Any]:
    """Parse one untrusted object file; any problem is a :class:`BundleDefect` naming ``where``.

    Messages carry a line and column but never file content: the file may hold a Secret.
    """
    text = decode_text(data, where)
    try:
        _check_events(text, where)
        return _construct(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        place = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown place"
        raise BundleDefect(where, f"not valid YAML at {place}: {err.problem}") from None
    except (yaml.YAMLError, ValueError, RecursionError) as err:
        raise BundleDefect(where, f"not valid YAML: {type(err).__name__}") from None


def load_checked_yaml(data: bytes) -> dict[str, Any]:
    """Parse an object file that :func:`load_yaml` already accepted."""
    return _construct(data.decode("utf-8"))
