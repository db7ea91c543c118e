"""What is stripped from an object before it travels in a bundle.

Only what the API server sets and the target will set again goes: ``status`` (controllers
rebuild it, and create ignores it under a status subresource anyway) and the server-owned
metadata. Everything a user or controller chose stays, including ``ownerReferences`` with the
source UIDs (the importer rewrites them from the manifest), finalizers and ``managedFields``
(restored after create so server-side-apply owners keep their fields). movekit's own mark of a
pause (``movekit.io/paused-by``) never travels either: it describes the source's state only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from movekit.contract import PAUSED_BY_ANNOTATION
from movekit.model import plain_copy

SERVER_SET_METADATA = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)


def sanitize(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``obj`` without ``status`` and server-set metadata."""
    return strip_server_fields(plain_copy(obj))


def strip_server_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """:func:`sanitize` without the copy: ``obj`` itself loses them, and is returned.

    For a caller that owns ``obj`` and knows it to be plain JSON data (freshly decoded, say):
    copying thousands of objects costs seconds.
    """
    obj.pop("status", None)
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        for key in SERVER_SET_METADATA:
            metadata.pop(key, None)
    return drop_pause_mark(obj)


def drop_pause_mark(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` itself without movekit's mark of the run that paused it, and returned."""
    metadata = obj.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if isinstance(annotations, dict) and PAUSED_BY_ANNOTATION in annotations:
        del annotations[PAUSED_BY_ANNOTATION]
        if not annotations:
            del metadata["annotations"]  # type: ignore[union-attr]
    return obj


def sanitize_crd(crd: Mapping[str, Any]) -> dict[str, Any]:
    """A CustomResourceDefinition as a bundle carries it: for offline checks only.

    ``managedFields`` go too: they are server-set, and the CRD is never recreated from the
    bundle, so there is no field ownership to restore.
    """
    copied = sanitize(crd)
    metadata = copied.get("metadata")
    if isinstance(metadata, dict):
        metadata.pop("managedFields", None)
    return copied
