"""A small, realistic bundle and the tools to build broken variants of it in tests."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import zstandard

from movekit.bundle import (
    BundleWriter,
    Manifest,
    ObjectEntry,
    Owner,
    Source,
    manifest_digest,
)
from movekit.bundle.archive import write_archive
from movekit.model import Exclusion, KindInfo, NamespaceEntry, Provider, Reason
from movekit.refs import ObjectRef
from movekit.sanitize import sanitize, sanitize_crd

CREATED_AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
SECRET_VALUE = "s3cr3t-ca-key-material-do-not-print"
SECRET_DATA = base64.b64encode(SECRET_VALUE.encode()).decode()

CLUSTER_API = "cluster.x-k8s.io/v1beta2"
INFRA_API = "infrastructure.cluster.x-k8s.io/v1beta1"

SECRET_FILE = "objects/core/Secret/prod/c1-ca.yaml"
CLUSTER_FILE = "objects/cluster.x-k8s.io/Cluster/prod/c1.yaml"
CONFIGMAP_FILE = "objects/core/ConfigMap/prod/c1-scripts.yaml"


@dataclass(frozen=True)
class Selection:
    namespace: str | None
    clusters: frozenset[str] = frozenset()


def _meta(name: str, namespace: str, uid: str, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name, "uid": uid, "resourceVersion": "4711", "generation": 3,
        "creationTimestamp": "2024-12-01T10:00:00Z", "selfLink": f"/x/{name}",
        "managedFields": [{"manager": "capi-topology", "operation": "Apply",
                           "apiVersion": CLUSTER_API, "time": "2024-12-01T10:00:00Z",
                           "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:paused": {}}}}],
        **extra,
    }
    if namespace:
        meta["namespace"] = namespace
    return meta


def live_objects() -> list[dict[str, Any]]:
    """Objects as the API server returns them (with status and server-set metadata)."""
    owner_ref = {"apiVersion": CLUSTER_API, "kind": "Cluster", "name": "c1", "uid": "uid-c1",
                 "controller": True, "blockOwnerDeletion": True}
    return [
        {"apiVersion": CLUSTER_API, "kind": "Cluster",
         "metadata": _meta("c1", "prod", "uid-c1", labels={"env": "prod"},
                           finalizers=["cluster.cluster.x-k8s.io"]),
         "spec": {"paused": False, "infrastructureRef": {"kind": "DockerCluster", "name": "c1"}},
         "status": {"phase": "Provisioned"}},
        {"apiVersion": INFRA_API, "kind": "DockerCluster",
         "metadata": _meta("c1", "prod", "uid-dc1", ownerReferences=[owner_ref]),
         "spec": {"loadBalancer": {}}, "status": {"ready": True}},
        {"apiVersion": INFRA_API, "kind": "AWSClusterStaticIdentity",
         "metadata": _meta("identity", "", "uid-id"), "spec": {"secretRef": "id-secret"}},
        {"apiVersion": "v1", "kind": "Secret", "type": "cluster.x-k8s.io/secret",
         "metadata": _meta("c1-ca", "prod", "uid-ca",
                           labels={"cluster.x-k8s.io/cluster-name": "c1"}),
         "data": {"tls.key": SECRET_DATA}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": _meta("c1-scripts", "prod", "uid-cm", ownerReferences=[owner_ref]),
         "data": {"boot.sh": "#!/bin/sh\necho héllo ✓\n", "mode": "0755", "enabled": "yes",
                  "switch": "on", "big": "1e3", "short": "y", "none": "~", "date": "2024-01-01",
                  "long": "x" * 500, "empty": "", "octal12": "0o17"}},
    ]


def entries() -> list[ObjectEntry]:
    cluster = ObjectRef("cluster.x-k8s.io", "Cluster", "prod", "c1")
    owner = Owner(cluster, "uid-c1", CLUSTER_API, True, True)
    return [
        ObjectEntry(cluster, CLUSTER_API, "uid-c1", [], [], 0, False, False, False),
        ObjectEntry(ObjectRef("infrastructure.cluster.x-k8s.io", "DockerCluster", "prod", "c1"),
                    INFRA_API, "uid-dc1", [owner], [], 1, False, False, None),
        ObjectEntry(ObjectRef("infrastructure.cluster.x-k8s.io", "AWSClusterStaticIdentity", "",
                              "identity"), INFRA_API, "uid-id", [], [], 0, True, True, None),
        ObjectEntry(ObjectRef("", "Secret", "prod", "c1-ca"), "v1", "uid-ca", [], [cluster], 1,
                    False, False, None),
        ObjectEntry(ObjectRef("", "ConfigMap", "prod", "c1-scripts"), "v1", "uid-cm", [owner], [],
                    1, False, False, None),
    ]


def crd(plural: str, group: str, kind: str, scope: str = "Namespaced") -> dict[str, Any]:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": _meta(f"{plural}.{group}", "", f"uid-crd-{plural}",
                              labels={"cluster.x-k8s.io/provider": "cluster-api"}),
            "spec": {"group": group, "scope": scope,
                     "names": {"kind": kind, "plural": plural}},
            "status": {"storedVersions": ["v1beta2"]}}


def crds() -> list[dict[str, Any]]:
    return [crd("clusters", "cluster.x-k8s.io", "Cluster"),
            crd("dockerclusters", "infrastructure.cluster.x-k8s.io", "DockerCluster"),
            crd("awsclusterstaticidentities", "infrastructure.cluster.x-k8s.io",
                "AWSClusterStaticIdentity", "Cluster")]


KINDS = [
    KindInfo("cluster.x-k8s.io", "v1beta2", "Cluster", "clusters", True,
             "clusters.cluster.x-k8s.io"),
    KindInfo("infrastructure.cluster.x-k8s.io", "v1beta1", "DockerCluster", "dockerclusters",
             True, "dockerclusters.infrastructure.cluster.x-k8s.io"),
    KindInfo("infrastructure.cluster.x-k8s.io", "v1beta1", "AWSClusterStaticIdentity",
             "awsclusterstaticidentities", False,
             "awsclusterstaticidentities.infrastructure.cluster.x-k8s.io"),
    KindInfo("", "v1", "Secret", "secrets", True, None),
    KindInfo("", "v1", "ConfigMap", "configmaps", True, None),
]


def write_sample(target: Path, archive: bool | None = None, *,
                 created_at: datetime = CREATED_AT, skip: Iterable[str] = (),
                 server: str = "https://api.example:6443",
                 refused: set[str] | None = None) -> Manifest:
    """Write the sample bundle; ``skip`` names objects (by name) to leave out. With ``refused``,
    objects the writer refuses are left out too, and their names added to it."""
    skipped = set(skip)
    with BundleWriter(target, archive) as writer:
        for entry, obj in zip(entries(), live_objects(), strict=True):
            if entry.ref.name in skipped:
                continue
            try:
                writer.add_object(entry, sanitize(obj))
            except ValueError:
                if refused is None:
                    raise
                refused.add(entry.ref.name)
        for definition in crds():
            writer.add_crd(sanitize_crd(definition))
        return writer.close(
            source=Source(server, "v1.31.2"),
            selection=Selection("prod", frozenset({"c1"})),
            kinds=KINDS,
            providers=[Provider("cluster-api", "capi-system", "CoreProvider", "v1.10.0")],
            namespaces=[NamespaceEntry("prod", {"team": "a"}, {"note": "x"})],
            excluded=[Exclusion(ObjectRef("", "Secret", "prod", "stray"), "v1", Reason.ORPHAN,
                                "no owner and no soft owner")],
            created_at=created_at,
        )


def tree_files(root: Path) -> dict[str, bytes]:
    """Every regular file under ``root`` by relative path."""
    found = {}
    for directory, _, names in os.walk(root):
        for name in names:
            path = Path(directory, name)
            found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


def tamper(bundle: Path, *, files: dict[str, bytes | None] | None = None,
           manifest: Callable[[dict[str, Any]], None] | None = None,
           fix_checksums: bool = True, fix_digest: bool = True) -> None:
    """Change a bundle directory, by default keeping checksums and digest consistent so that
    only the intended lie remains. A new ``manifest.json`` in ``files`` is written as given."""
    changed = dict(files or {})
    for name, data in changed.items():
        path = bundle / name
        if data is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    if "manifest.json" in changed:
        return
    doc = json.loads((bundle / "manifest.json").read_bytes())
    if fix_checksums:
        for item in doc["objects"] + doc["crds"]:
            if changed.get(item["file"]) is not None:
                item["sha256"] = hashlib.sha256((bundle / item["file"]).read_bytes()).hexdigest()
    if manifest is not None:
        manifest(doc)
    if fix_digest:
        doc["digest"] = manifest_digest(doc)
    (bundle / "manifest.json").write_text(json.dumps(doc, indent=2))


def pack(bundle: Path, archive: Path) -> Path:
    """The ``.tar.zst`` of a (possibly tampered) bundle directory."""
    with archive.open("wb") as out:
        write_archive(bundle, sorted(tree_files(bundle)), out)
    return archive


def tar_bytes(members: Iterable[tuple[tarfile.TarInfo, bytes | None]], *,
              end_marker: bool = True) -> bytes:
    """An uncompressed tar stream with exactly these members, however hostile."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
        end = tar.offset
    return buffer.getvalue() if end_marker else buffer.getvalue()[:end]


def raw_archive(path: Path, members: Iterable[tuple[tarfile.TarInfo, bytes | None]],
                *, compress: bool = True) -> Path:
    """An archive with exactly these members, however hostile."""
    raw = tar_bytes(members)
    path.write_bytes(zstandard.ZstdCompressor(write_checksum=True).compress(raw)
                     if compress else raw)
    return path


def members_of(bundle: Path) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    """The members a valid archive of ``bundle`` would hold, for building hostile variants."""
    result: list[tuple[tarfile.TarInfo, bytes | None]] = []
    for name, data in sorted(tree_files(bundle).items()):
        result.append((file_member(name, data), data))
    return result


def file_member(name: str, data: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    return info


def special_member(name: str, kind: bytes, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under ``root``, links not followed, with its mode, size and modification
    time: equal snapshots before and after a read mean it wrote nothing there."""
    seen = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            info = os.lstat(os.path.join(directory, name))
            seen[os.path.relpath(os.path.join(directory, name), root)] = (
                info.st_mode, info.st_size, info.st_mtime_ns)
    return seen


# What only a directory can hold: each changes the sample bundle directory ``bundle``, using
# ``outside`` (a path beside it) where a link needs somewhere to point.

def make_symlink(bundle: Path, outside: Path) -> None:
    outside.write_bytes((bundle / SECRET_FILE).read_bytes())
    (bundle / SECRET_FILE).unlink()
    (bundle / SECRET_FILE).symlink_to(outside)


def make_dir_symlink(bundle: Path, outside: Path) -> None:
    (bundle / "objects/core").rename(outside)
    (bundle / "objects/core").symlink_to(outside)


def make_hardlink(bundle: Path, outside: Path) -> None:
    os.link(bundle / SECRET_FILE, outside)


def make_fifo(bundle: Path, outside: Path) -> None:
    os.mkfifo(bundle / "objects/core/Secret/prod/pipe.yaml")


def make_bad_name(bundle: Path, outside: Path) -> None:
    (Path(os.fsdecode(bytes(bundle) + b"/objects/\xff.yaml"))).write_bytes(b"x")
