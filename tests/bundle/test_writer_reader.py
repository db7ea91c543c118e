"""Writing a bundle and reading it back, as a directory and as a .tar.zst."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import zstandard

from movekit.bundle import (
    BundleWriter,
    ObjectEntry,
    Owner,
    Source,
    read_bundle,
)
from movekit.bundle import writer as writer_module
from movekit.bundle.archive import write_archive
from movekit.bundle.layout import dump_yaml
from movekit.errors import UsageError
from movekit.refs import ObjectRef
from movekit.sanitize import sanitize
from tests.bundle.bundle_samples import (
    CLUSTER_FILE,
    CREATED_AT,
    KINDS,
    SECRET_FILE,
    Selection,
    entries,
    live_objects,
    tree_files,
    write_sample,
)


def archive_members(path: Path) -> dict[str, tuple[tarfile.TarInfo, bytes]]:
    raw = zstandard.ZstdDecompressor().decompressobj().decompress(path.read_bytes())
    members = {}
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
        for info in tar.getmembers():
            data = tar.extractfile(info).read() if info.isfile() else b""  # type: ignore[union-attr]
            members[info.name] = (info, data)
    return members


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def test_directory_and_archive_hold_the_same_files_and_digest(tmp_path: Path) -> None:
    directory = write_sample(tmp_path / "bundle")
    archive = write_sample(tmp_path / "bundle.tar.zst")
    assert directory.digest == archive.digest
    files = tree_files(tmp_path / "bundle")
    members = archive_members(tmp_path / "bundle.tar.zst")
    assert {name: data for name, (info, data) in members.items() if info.isfile()} == files
    # The archive's members are spooled, not created as files; the bytes do not show it.
    archived = io.BytesIO()
    write_archive(tmp_path / "bundle", sorted(files), archived)
    assert (tmp_path / "bundle.tar.zst").read_bytes() == archived.getvalue()


@pytest.mark.parametrize("name", ["bundle", "bundle.tar.zst"])
def test_an_oversize_file_is_refused_and_leaves_no_trace(
        tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "MAX_MEMBER_BYTES", 600)
    large = {entry.ref.name for entry, obj in zip(entries(), live_objects(), strict=True)
             if len(dump_yaml(sanitize(obj))) > 600}
    assert large and len(large) < len(entries())
    with pytest.raises(ValueError, match="over the 600 byte limit"):
        write_sample(tmp_path / name)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    # Refused half-way, an object leaves nothing behind in the bundle written after it.
    refused: set[str] = set()
    write_sample(tmp_path / name, refused=refused)
    assert refused == large
    write_sample(tmp_path / "expected", skip=large)
    assert ({e.ref.name for e in read_bundle(tmp_path / name).entries}
            == {e.ref.name for e in read_bundle(tmp_path / "expected").entries})
    if name == "bundle":
        assert tree_files(tmp_path / name) == tree_files(tmp_path / "expected")


@pytest.mark.parametrize("name", ["bundle", "bundle.tar.zst"])
def test_a_bundle_reads_back_with_its_objects_sanitized(tmp_path: Path, name: str) -> None:
    written = write_sample(tmp_path / name)
    bundle = read_bundle(tmp_path / name)
    assert bundle.digest == written.digest
    assert [e.ref for e in bundle.entries] == [e.ref for e in written.objects]
    expected = {ObjectRef.of(obj): sanitize(obj) for obj in live_objects()}
    for entry in bundle.entries:
        assert bundle.load(entry) == expected[entry.ref]
    assert [crd["metadata"]["name"] for crd in bundle.crds()] == [
        "awsclusterstaticidentities.infrastructure.cluster.x-k8s.io",
        "clusters.cluster.x-k8s.io", "dockerclusters.infrastructure.cluster.x-k8s.io"]
    assert all("status" not in crd for crd in bundle.crds())


def test_the_manifest_carries_graph_kinds_and_source_facts(tmp_path: Path) -> None:
    write_sample(tmp_path / "b", server="https://admin:hunter2@api.example:6443/?token=t")
    bundle = read_bundle(tmp_path / "b")
    doc = bundle.manifest
    assert doc["formatVersion"] == 2
    assert doc["tool"]["name"] == "movekit"
    assert doc["createdAt"] == "2025-01-02T03:04:05Z"
    assert doc["source"] == {"server": "https://api.example:6443/", "kubernetesVersion": "v1.31.2",
                             "leftPaused": None}
    assert doc["selection"] == {"namespace": "prod", "clusters": ["c1"]}
    assert doc["encryption"] is None
    assert [k["kind"] for k in doc["kinds"]] == [
        "ConfigMap", "Secret", "Cluster", "AWSClusterStaticIdentity", "DockerCluster"]
    assert doc["providers"] == [{"name": "cluster-api", "namespace": "capi-system",
                                 "type": "CoreProvider", "version": "v1.10.0"}]
    assert doc["excluded"][0]["reason"] == "orphan"
    assert [(o["wave"], o["kind"]) for o in doc["objects"]] == [
        (0, "Cluster"), (0, "AWSClusterStaticIdentity"), (1, "ConfigMap"), (1, "Secret"),
        (1, "DockerCluster")]
    docker = next(e for e in bundle.entries if e.ref.kind == "DockerCluster")
    assert docker.owners == [Owner(ObjectRef("cluster.x-k8s.io", "Cluster", "prod", "c1"),
                                   "uid-c1", "cluster.x-k8s.io/v1beta2", True, True)]
    secret = next(e for e in bundle.entries if e.ref.kind == "Secret")
    assert secret.soft_owners == [ObjectRef("cluster.x-k8s.io", "Cluster", "prod", "c1")]
    assert secret.file == SECRET_FILE
    identity = next(e for e in bundle.entries if e.ref.namespace == "")
    assert (identity.is_global, identity.keep_in_source) == (True, True)
    cluster = next(e for e in bundle.entries if e.ref.kind == "Cluster")
    assert cluster.was_paused is False


@pytest.mark.parametrize("name", ["bundle", "bundle.tar.zst"])
def test_writing_the_same_objects_twice_gives_identical_bytes(tmp_path: Path, name: str) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = write_sample(tmp_path / "one" / name)
    second = write_sample(tmp_path / "two" / name)
    assert first.digest == second.digest
    if name.endswith(".tar.zst"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    else:
        assert tree_files(tmp_path / "one" / name) == tree_files(tmp_path / "two" / name)


def test_the_manifest_file_and_its_digest_are_canonical_json(tmp_path: Path) -> None:
    # The writer streams both, one object entry at a time; readers and older bundles rely on
    # exactly these bytes.
    written = write_sample(tmp_path / "b")
    raw = (tmp_path / "b" / "manifest.json").read_bytes()
    doc = json.loads(raw)
    assert raw == (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    covered = {key: value for key, value in doc.items() if key not in ("createdAt", "digest")}
    canonical = json.dumps(covered, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert doc["digest"] == written.digest
    assert written.digest == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    assert written.to_json() == doc
    assert read_bundle(tmp_path / "b").manifest == doc


def test_the_creation_time_does_not_change_the_digest(tmp_path: Path) -> None:
    first = write_sample(tmp_path / "a")
    second = write_sample(tmp_path / "b", created_at=datetime(2030, 6, 1, tzinfo=UTC))
    assert first.created_at != second.created_at
    assert first.digest == second.digest
    changed = write_sample(tmp_path / "c", skip={"c1-scripts"})
    assert changed.digest != first.digest


def test_files_are_0600_and_directories_0700_whatever_the_umask(
        tmp_path: Path, permissive_umask: None) -> None:
    write_sample(tmp_path / "bundle")
    modes = {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "bundle").rglob("*")
             if p.is_file()}
    dir_modes = {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "bundle").rglob("*")
                 if p.is_dir()}
    assert modes == {0o600}
    assert dir_modes == {0o700}
    assert stat.S_IMODE((tmp_path / "bundle").stat().st_mode) == 0o700


def test_an_archive_is_0600_with_normalised_members_in_order(
        tmp_path: Path, permissive_umask: None) -> None:
    write_sample(tmp_path / "b.tar.zst")
    assert stat.S_IMODE((tmp_path / "b.tar.zst").stat().st_mode) == 0o600
    members = archive_members(tmp_path / "b.tar.zst")
    names = list(members)
    assert names == sorted(names, key=lambda n: n.split("/"))
    assert names[0] == "crds" and "manifest.json" in names
    for info, _ in members.values():
        assert (info.mtime, info.uid, info.gid, info.uname, info.gname) == (0, 0, 0, "", "")
        assert info.mode == (0o700 if info.isdir() else 0o600)
        assert info.isdir() or info.isfile()


def test_a_non_empty_directory_that_is_not_a_bundle_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "home"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match=f"{target}: directory is not empty and is not a movekit"):
        write_sample(target)
    assert tree_files(target) == {"notes.txt": b"mine"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]


def test_a_directory_with_a_foreign_manifest_is_not_taken_for_a_bundle(tmp_path: Path) -> None:
    target = tmp_path / "other"
    target.mkdir()
    (target / "manifest.json").write_text('{"formatVersion": 1, "tool": {"name": "other"}}')
    with pytest.raises(UsageError, match="not a movekit bundle"):
        write_sample(target)


def test_an_empty_directory_becomes_the_bundle(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    write_sample(tmp_path / "empty")
    assert read_bundle(tmp_path / "empty").entries


def test_replacing_an_earlier_bundle_leaves_no_stale_file(tmp_path: Path) -> None:
    write_sample(tmp_path / "bundle")
    assert (tmp_path / "bundle" / CLUSTER_FILE).exists()
    write_sample(tmp_path / "bundle", skip={"c1-scripts", "c1-ca"})
    files = tree_files(tmp_path / "bundle")
    assert not any("Secret" in name or "ConfigMap" in name for name in files)
    assert read_bundle(tmp_path / "bundle").manifest["objects"][0]["name"] == "c1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_replacing_an_archive_and_refusing_to_overwrite_another_file(tmp_path: Path) -> None:
    write_sample(tmp_path / "b.tar.zst")
    write_sample(tmp_path / "b.tar.zst", skip={"c1-scripts"})
    assert len(read_bundle(tmp_path / "b.tar.zst").entries) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.tar.zst"]
    (tmp_path / "precious.tar.zst").write_text("not an archive")
    with pytest.raises(UsageError, match=r"precious\.tar\.zst: exists and is not a \.tar\.zst"):
        write_sample(tmp_path / "precious.tar.zst")
    assert (tmp_path / "precious.tar.zst").read_text() == "not an archive"


@pytest.mark.parametrize("name", ["bundle", "bundle.tar.zst"])
def test_a_failed_export_leaves_the_earlier_bundle_and_no_debris(tmp_path: Path, name: str) -> None:
    write_sample(tmp_path / name)
    before = (tree_files(tmp_path / name) if not name.endswith(".zst")
              else (tmp_path / name).read_bytes())
    with pytest.raises(RuntimeError, match="discovery failed"), \
            BundleWriter(tmp_path / name) as writer:
        entry = entries()[0]
        writer.add_object(entry, sanitize(live_objects()[0]))
        raise RuntimeError("discovery failed")
    after = (tree_files(tmp_path / name) if not name.endswith(".zst")
             else (tmp_path / name).read_bytes())
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_a_writer_refuses_an_object_that_is_not_its_entry(tmp_path: Path) -> None:
    with BundleWriter(tmp_path / "b") as writer:
        entry = entries()[0]
        with pytest.raises(ValueError, match="does not match its entry"):
            writer.add_object(entry, sanitize(live_objects()[1]))
        writer.add_object(entry, sanitize(live_objects()[0]))
        with pytest.raises(ValueError, match="added twice"):
            writer.add_object(entries()[0], sanitize(live_objects()[0]))
    assert not (tmp_path / "b").exists()


def test_a_writer_refuses_a_bundle_a_reader_would_refuse(tmp_path: Path) -> None:
    docker = ObjectRef("infrastructure.cluster.x-k8s.io", "DockerCluster", "prod", "c1")
    orphan = ObjectEntry(docker, "infrastructure.cluster.x-k8s.io/v1beta1", "uid-dc1",
                         [Owner(ObjectRef("cluster.x-k8s.io", "Cluster", "prod", "c1"), "uid-c1",
                                "cluster.x-k8s.io/v1beta2")], [], 1, False, False, None)
    with BundleWriter(tmp_path / "b") as writer:
        writer.add_object(orphan, sanitize(live_objects()[1]))
        with pytest.raises(ValueError, match=r"owner Cluster\.cluster\.x-k8s\.io/prod/c1 is not"):
            writer.close(source=Source("https://api", "v1.31.0"), selection=Selection("prod"),
                         kinds=KINDS[1:2], created_at=CREATED_AT)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_target_parent_must_exist(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        BundleWriter(tmp_path / "missing" / "bundle")


def test_a_relative_target_is_written_where_it_names(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_sample(Path("out/../bundle"))
    assert read_bundle(tmp_path / "bundle").entries
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_a_symlinked_target_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(UsageError, match="is a symbolic link"):
        write_sample(tmp_path / "link")
