"""The bundle format (version 1): layout, manifest, writing and verified reading.

A bundle is a directory, or a ``.tar.zst`` of the same tree::

    manifest.json
    objects/<group|core>/<Kind>/<namespace|_cluster>/<name>.yaml
    crds/<crd name>.yaml
"""

from movekit.bundle.layout import (
    FORMAT_VERSION,
    MAX_MANIFEST_BYTES,
    MAX_MEMBER_BYTES,
    MAX_MEMBERS,
    MAX_TOTAL_BYTES,
    MAX_YAML_DEPTH,
    READABLE_FORMAT_VERSIONS,
    crd_path,
    dump_yaml,
    object_path,
)
from movekit.bundle.manifest import (
    CrdEntry,
    Manifest,
    ObjectEntry,
    Owner,
    Source,
    build_manifest,
    manifest_digest,
)
from movekit.bundle.reader import Bundle, read_bundle, verify
from movekit.bundle.writer import BundleWriter

__all__ = [
    "FORMAT_VERSION",
    "MAX_MANIFEST_BYTES",
    "MAX_MEMBERS",
    "MAX_MEMBER_BYTES",
    "MAX_TOTAL_BYTES",
    "MAX_YAML_DEPTH",
    "READABLE_FORMAT_VERSIONS",
    "Bundle",
    "BundleWriter",
    "CrdEntry",
    "Manifest",
    "ObjectEntry",
    "Owner",
    "Source",
    "build_manifest",
    "crd_path",
    "dump_yaml",
    "manifest_digest",
    "object_path",
    "read_bundle",
    "verify",
]
