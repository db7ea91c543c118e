"""Object metadata and CRD validation, with the apiserver's own error texts.

Each function returns rendered field errors (``"metadata.name: Invalid value: ..."``); the store
turns a non-empty list into a 422 ``Invalid`` Status.
"""

from __future__ import annotations

import json
import re
from typing import Any

Json = dict[str, Any]

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + r")*"
_QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = r"(" + _QUALIFIED_NAME + r")?"
_LABEL_RE = re.compile(_DNS1123_LABEL + r"\Z")
_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN + r"\Z")
_QUALIFIED_RE = re.compile(_QUALIFIED_NAME + r"\Z")
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE + r"\Z")

SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '" + _DNS1123_SUBDOMAIN + "')")
LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '" + _DNS1123_LABEL + "')")
QUALIFIED_NAME_MESSAGE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '" + _QUALIFIED_NAME + "')")
LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',"
    "  or '12345', regex used for validation is '" + _LABEL_VALUE + "')")
TOTAL_ANNOTATION_BYTES = 256 * 1024


def render(value: Any) -> str:
    """A value the way ``field.Invalid`` prints it."""
    if isinstance(value, str):
        return json.dumps(value)
    if value is None:
        return "null"
    return json.dumps(value, separators=(",", ":"))


def invalid(path: str, value: Any, detail: str) -> str:
    return f"{path}: Invalid value: {render(value)}: {detail}"


def required(path: str, detail: str = "") -> str:
    return f"{path}: Required value: {detail}" if detail else f"{path}: Required value"


def subdomain_errors(path: str, value: str) -> list[str]:
    errors = []
    if len(value) > 253:
        errors.append(invalid(path, value, "must be no more than 253 characters"))
    if not _SUBDOMAIN_RE.match(value):
        errors.append(invalid(path, value, SUBDOMAIN_MESSAGE))
    return errors


def label_name_errors(path: str, value: str) -> list[str]:
    errors = []
    if len(value) > 63:
        errors.append(invalid(path, value, "must be no more than 63 characters"))
    if not _LABEL_RE.match(value):
        # A valid subdomain that is no label can only be so for its dots (length was checked).
        dotted = _SUBDOMAIN_RE.match(value) is not None
        errors.append(invalid(path, value, "must not contain dots" if dotted else LABEL_MESSAGE))
    return errors


def qualified_name_errors(path: str, value: str) -> list[str]:
    """``validation.IsQualifiedName``: optional ``<dns subdomain>/`` prefix, then a name part."""
    prefix, slash, name = value.rpartition("/")
    errors = []
    if slash:
        if not prefix:
            errors.append(invalid(path, value, "prefix part must be non-empty"))
        elif not _SUBDOMAIN_RE.match(prefix) or len(prefix) > 253:
            errors.append(invalid(path, value, "prefix part " + SUBDOMAIN_MESSAGE))
    if not name:
        errors.append(invalid(path, value, "name part must be non-empty"))
    elif len(name) > 63:
        errors.append(invalid(path, value, "name part must be no more than 63 characters"))
    elif not _QUALIFIED_RE.match(name):
        errors.append(invalid(path, value, QUALIFIED_NAME_MESSAGE))
    return errors


def metadata_errors(meta: Json, name_is_label: bool, cluster_scoped: bool) -> list[str]:
    """``ValidateObjectMeta`` for the fields a client writes."""
    errors: list[str] = []
    name = meta.get("name") or ""
    if not isinstance(name, str):
        return [invalid("metadata.name", name, "must be a string")]
    if not name:
        errors.append(required("metadata.name", "name or generateName is required"))
    elif name_is_label:
        errors.extend(label_name_errors("metadata.name", name))
    else:
        errors.extend(subdomain_errors("metadata.name", name))
    if cluster_scoped and meta.get("namespace"):
        errors.append('metadata.namespace: Forbidden: not allowed on this type')
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict):
        errors.append(invalid("metadata.labels", labels, "must be a map"))
        labels = {}
    for key, value in labels.items():
        errors.extend(qualified_name_errors("metadata.labels", key))
        if not isinstance(value, str):
            errors.append(invalid(f"metadata.labels.{key}", value, "must be a string"))
            continue
        if len(value) > 63:
            errors.append(invalid("metadata.labels", value, "must be no more than 63 bytes"))
        if not _LABEL_VALUE_RE.match(value):
            errors.append(invalid("metadata.labels", value, LABEL_VALUE_MESSAGE))
    annotations = meta.get("annotations") or {}
    if not isinstance(annotations, dict):
        errors.append(invalid("metadata.annotations", annotations, "must be a map"))
        annotations = {}
    size = 0
    for key, value in annotations.items():
        errors.extend(qualified_name_errors("metadata.annotations", key.lower()))
        if not isinstance(value, str):
            errors.append(invalid(f"metadata.annotations.{key}", value, "must be a string"))
            continue
        size += len(key) + len(value)
    if size > TOTAL_ANNOTATION_BYTES:
        errors.append(f"metadata.annotations: Too long: must have at most "
                      f"{TOTAL_ANNOTATION_BYTES} bytes")
    errors.extend(_owner_reference_errors(meta.get("ownerReferences") or []))
    for i, finalizer in enumerate(meta.get("finalizers") or []):
        if not isinstance(finalizer, str):
            errors.append(invalid(f"metadata.finalizers[{i}]", finalizer, "must be a string"))
        else:
            errors.extend(qualified_name_errors(f"metadata.finalizers[{i}]", finalizer))
    return errors


def _owner_reference_errors(refs: Any) -> list[str]:
    if not isinstance(refs, list):
        return [invalid("metadata.ownerReferences", refs, "must be a list")]
    errors: list[str] = []
    controllers = []
    for ref in refs:
        if not isinstance(ref, dict):
            errors.append(invalid("metadata.ownerReferences", ref, "must be an object"))
            continue
        path = "metadata.ownerReferences"
        api_version = ref.get("apiVersion") or ""
        if not api_version or api_version.endswith("/"):
            errors.append(invalid(f"{path}.apiVersion", api_version, "version must not be empty"))
        if not ref.get("kind"):
            errors.append(invalid(f"{path}.kind", ref.get("kind", ""), "kind must not be empty"))
        if not ref.get("name"):
            errors.append(invalid(f"{path}.name", ref.get("name", ""), "name must not be empty"))
        if not ref.get("uid"):
            errors.append(invalid(f"{path}.uid", ref.get("uid", ""), "uid must not be empty"))
        if ref.get("controller") is True:
            controllers.append(f"{ref.get('kind')}/{ref.get('name')}")
    if len(controllers) > 1:
        errors.append(invalid("metadata.ownerReferences", refs,
                              "Only one reference can have Controller set to true. Found "
                              '"true" in references for ' + " and ".join(controllers)))
    return errors


def crd_errors(crd: Json) -> list[str]:
    """The checks of ``ValidateCustomResourceDefinition`` that a client can trip."""
    errors: list[str] = []
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    group = spec.get("group") or ""
    names = spec.get("names") or {}
    plural = names.get("plural") or ""
    if not group:
        errors.append(required("spec.group"))
    elif "." not in group:
        errors.append(invalid("spec.group", group, "should be a domain with at least one dot"))
    else:
        errors.extend(subdomain_errors("spec.group", group))
    name = crd.get("metadata", {}).get("name", "")
    if name != f"{plural}.{group}":
        errors.append(invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    if not plural:
        errors.append(required("spec.names.plural"))
    else:
        errors.extend(label_name_errors("spec.names.plural", plural))
    if not names.get("kind"):
        errors.append(required("spec.names.kind"))
    scope = spec.get("scope")
    if not scope:
        errors.append(required("spec.scope"))
    elif scope not in ("Cluster", "Namespaced"):
        errors.append(f'spec.scope: Unsupported value: {render(scope)}: supported values: '
                      '"Cluster", "Namespaced"')
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        errors.append(invalid("spec.versions", versions, "must have exactly one version marked "
                              "as storage version"))
        return errors
    storage = [v for v in versions if isinstance(v, dict) and v.get("storage")]
    if len(storage) != 1:
        errors.append(invalid("spec.versions", [v.get("name") for v in versions],
                              "must have exactly one version marked as storage version"))
    seen: set[str] = set()
    for i, version in enumerate(versions):
        path = f"spec.versions[{i}]"
        vname = version.get("name") or ""
        if not vname:
            errors.append(required(f"{path}.name"))
        elif vname in seen:
            errors.append(f"{path}.name: Duplicate value: {render(vname)}")
        else:
            errors.extend(label_name_errors(f"{path}.name", vname))
        seen.add(vname)
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            errors.append(required(f"{path}.schema.openAPIV3Schema", "schemas are required"))
        elif schema.get("type") != "object":
            errors.append(invalid(f"{path}.schema.openAPIV3Schema.type", schema.get("type", ""),
                                  "must be object at the root"))
    if not any(v.get("served") for v in versions if isinstance(v, dict)):
        errors.append(invalid("spec.versions", [v.get("name") for v in versions],
                              "must have at least one served version"))
    return errors


def crd_update_errors(old: Json, new: Json) -> list[str]:
    errors = []
    for path, key in (("spec.group", "group"), ("spec.scope", "scope")):
        if old["spec"].get(key) != new["spec"].get(key):
            errors.append(invalid(path, new["spec"].get(key), "field is immutable"))
    return errors


def default_crd(crd: Json) -> None:
    """The defaults apiextensions.k8s.io/v1 fills in, in place."""
    spec = crd.setdefault("spec", {})
    names = spec.setdefault("names", {})
    if names.get("kind"):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    spec.setdefault("conversion", {"strategy": "None"})
