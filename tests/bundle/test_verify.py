"""Every way a bundle can lie or be damaged gives one clear InvalidBundle, before anything else.

Each broken bundle is made from a valid one by changing exactly one thing (checksums and digest
are kept consistent unless the case is about them), then read as a directory and as an archive.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from movekit.bundle import MAX_YAML_DEPTH, read_bundle, verify
from movekit.errors import InvalidBundle
from tests.bundle.bundle_samples import (
    CLUSTER_FILE,
    CONFIGMAP_FILE,
    SECRET_DATA,
    SECRET_FILE,
    SECRET_VALUE,
    make_bad_name,
    make_dir_symlink,
    make_fifo,
    make_hardlink,
    make_symlink,
    pack,
    tamper,
    write_sample,
)

CRD_FILE = "crds/clusters.cluster.x-k8s.io.yaml"


def edit(path: str, old: str, new: str) -> Callable[[Path], bytes]:
    """New contents for the file at ``path``: its text with ``old`` replaced by ``new``."""
    def change(bundle: Path) -> bytes:
        text = (bundle / path).read_text()
        assert old in text
        return text.replace(old, new, 1).encode()
    return change


def secret_with(body: bytes) -> Callable[[Path], bytes]:
    """A Secret file whose identity is right, followed by ``body``."""
    return lambda bundle: (b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: c1-ca\n"
                           b"  namespace: prod\n" + body)


def drop_object(kind: str) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        doc["objects"] = [o for o in doc["objects"] if o["kind"] != kind]
    return change


def object_field(kind: str, **values: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        next(o for o in doc["objects"] if o["kind"] == kind).update(values)
    return change


@dataclass
class Case:
    id: str
    where: str  # regular expression for the member or field
    problem: str  # regular expression searched in the problem part
    files: dict[str, Callable[[Path], bytes] | bytes | None] = field(default_factory=dict)
    manifest: Callable[[dict[str, Any]], None] | None = None
    fix_checksums: bool = True
    fix_digest: bool = True


BILLION_LAUGHS = (b"data:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
                  b"  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                  b"  c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n")
DEEP = b"data: " + b"[" * (MAX_YAML_DEPTH + 1) + b"]" * (MAX_YAML_DEPTH + 1) + b"\n"

CASES = [
    # the manifest
    Case("unknown-format-version", "manifest.json formatVersion",
         r"format 3 is not one this movekit reads \(it reads formats 1 and 2\)",
         manifest=lambda d: d.update(formatVersion=3)),
    Case("format-version-not-a-number", "manifest.json formatVersion", "not one this movekit reads",
         manifest=lambda d: d.update(formatVersion="1")),
    Case("unknown-field", r"manifest.json \(top level\)", r"Additional properties .*'smuggled'",
         manifest=lambda d: d.update(smuggled=True)),
    Case("missing-field", r"manifest.json \(top level\)", "'objects' is a required property",
         manifest=lambda d: d.pop("objects")),
    Case("bad-checksum-format", r"manifest.json objects\[0\].sha256", "does not match",
         manifest=lambda d: d["objects"][0].update(sha256="XYZ")),
    Case("bad-name", r"manifest.json objects\[0\].name", "does not match",
         manifest=lambda d: d["objects"][0].update(name="../../etc")),
    Case("credentials-in-source", "manifest.json source.server", "does not match",
         manifest=lambda d: d["source"].update(server="https://admin:pw@api:6443")),
    Case("unknown-encryption", "manifest.json encryption", "is not valid under any of the given",
         manifest=lambda d: d.update(encryption={"age": ["age1..."]})),
    Case("unknown-exclusion-reason", r"manifest.json excluded\[0\].reason", "is not one of",
         manifest=lambda d: d["excluded"][0].update(reason="whatever")),
    Case("manifest-not-json", "manifest.json", r"not valid JSON at line 1",
         files={"manifest.json": b"{formatVersion: 1"}),
    Case("manifest-not-object", "manifest.json", "not a JSON object",
         files={"manifest.json": b"[1]"}),
    Case("manifest-not-utf8", "manifest.json", "not valid UTF-8",
         files={"manifest.json": b'{"formatVersion": 1, "x": "\xff"}'}),
    Case("manifest-nul", "manifest.json", "NUL byte",
         files={"manifest.json": b'{"formatVersion": 1}\x00'}),
    Case("manifest-duplicate-key", "manifest.json", "duplicate key 'formatVersion'",
         files={"manifest.json": b'{"formatVersion": 1, "formatVersion": 1}'}),
    Case("manifest-nan", "manifest.json", "not valid JSON",
         files={"manifest.json": b'{"formatVersion": NaN}'}),
    Case("manifest-deep", "manifest.json", "not valid JSON",
         files={"manifest.json": b"[" * 100_000 + b"]" * 100_000}),
    Case("digest-mismatch", "manifest.json digest", "does not match the manifest",
         manifest=object_field("ConfigMap", wave=7), fix_digest=False),
    # the manifest contradicts itself
    Case("object-twice", r"manifest.json objects\[\d\]", "is listed twice",
         manifest=lambda d: d["objects"].append(dict(d["objects"][-1]))),
    Case("path-not-canonical", r"manifest.json objects\[\d\].file", "belongs at",
         files={"objects/core/Secret/prod/elsewhere.yaml": lambda b: (b / SECRET_FILE).read_bytes(),
                SECRET_FILE: None},
         manifest=object_field("Secret", file="objects/core/Secret/prod/elsewhere.yaml")),
    Case("owner-not-in-bundle", r"manifest.json objects\[\d\].owners\[0\]",
         "owner Cluster.cluster.x-k8s.io/prod/c1 is not in the bundle",
         files={CLUSTER_FILE: None}, manifest=drop_object("Cluster")),
    Case("owner-uid-lie", r"manifest.json objects\[\d\].owners\[0\].uid", "is not the sourceUID",
         manifest=lambda d: next(o for o in d["objects"] if o["owners"])["owners"][0].update(
             uid="someone-else")),
    Case("owner-in-later-wave", r"manifest.json objects\[\d\].wave", "is not after the wave",
         manifest=object_field("DockerCluster", wave=0)),
    Case("kind-not-listed", r"manifest.json objects\[\d\]", "kind DockerCluster.* not listed",
         manifest=lambda d: d.update(
             kinds=[k for k in d["kinds"] if k["kind"] != "DockerCluster"])),
    Case("moved-and-excluded", r"manifest.json excluded\[0\]", "both moved and excluded",
         manifest=lambda d: d["excluded"][0].update(name="c1-ca")),
    # files present against files listed
    Case("checksum-mismatch", SECRET_FILE, "checksum mismatch",
         files={SECRET_FILE: edit(SECRET_FILE, "c1-ca", "c1-cb")}, fix_checksums=False),
    Case("missing-file", SECRET_FILE, "listed in the manifest but missing",
         files={SECRET_FILE: None}),
    Case("extra-file", "objects/core/Secret/prod/smuggled.yaml", "not listed in the manifest",
         files={"objects/core/Secret/prod/smuggled.yaml": b"kind: Secret\n"}),
    Case("extra-top-level-file", "README", "not listed in the manifest",
         files={"README": b"hello"}),
    # object files
    Case("yaml-alias-bomb", SECRET_FILE, "anchors are not allowed",
         files={SECRET_FILE: secret_with(BILLION_LAUGHS)}),
    Case("yaml-deep-nesting", SECRET_FILE, f"deeper than {MAX_YAML_DEPTH}",
         files={SECRET_FILE: secret_with(DEEP)}),
    Case("yaml-nul-byte", SECRET_FILE, "NUL byte",
         files={SECRET_FILE: secret_with(b"data:\n  k: a\x00b\n")}),
    Case("yaml-not-utf8", SECRET_FILE, "not valid UTF-8",
         files={SECRET_FILE: secret_with(b"data:\n  k: \xc3\x28\n")}),
    Case("yaml-python-tag", SECRET_FILE, "tags are not allowed",
         files={SECRET_FILE: secret_with(b"data: !!python/object/apply:os.system [id]\n")}),
    Case("yaml-invalid", SECRET_FILE, r"not valid YAML at line \d+",
         files={SECRET_FILE: secret_with(f"data:\n  k: [{SECRET_DATA}\n".encode())}),
    Case("identity-name", SECRET_FILE, "metadata.name is 'other' but the manifest says 'c1-ca'",
         files={SECRET_FILE: edit(SECRET_FILE, "name: c1-ca", "name: other")}),
    Case("identity-namespace", SECRET_FILE, "metadata.namespace is 'kube-system'",
         files={SECRET_FILE: edit(SECRET_FILE, "namespace: prod", "namespace: kube-system")}),
    Case("identity-kind", SECRET_FILE, "kind is 'ConfigMap' but the manifest says 'Secret'",
         files={SECRET_FILE: edit(SECRET_FILE, "kind: Secret", "kind: ConfigMap")}),
    Case("identity-api-version", CLUSTER_FILE, "apiVersion is 'cluster.x-k8s.io/v1beta1'",
         files={CLUSTER_FILE: edit(CLUSTER_FILE, "cluster.x-k8s.io/v1beta2\nkind",
                                   "cluster.x-k8s.io/v1beta1\nkind")}),
    Case("identity-crd", CRD_FILE, "metadata.name is 'machines.cluster.x-k8s.io'",
         files={CRD_FILE: edit(CRD_FILE, "name: clusters.", "name: machines.")}),
    Case("object-without-metadata", CONFIGMAP_FILE, "no metadata mapping",
         files={CONFIGMAP_FILE: b"apiVersion: v1\nkind: ConfigMap\nmetadata: []\n"}),
]


def build(tmp_path: Path, case: Case, form: str) -> Path:
    bundle = tmp_path / "bundle"
    write_sample(bundle)
    files = {name: (data(bundle) if callable(data) else data) for name, data in case.files.items()}
    tamper(bundle, files=files, manifest=case.manifest, fix_checksums=case.fix_checksums,
           fix_digest=case.fix_digest)
    return bundle if form == "directory" else pack(bundle, tmp_path / "bundle.tar.zst")


@pytest.mark.parametrize("form", ["directory", "archive"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_broken_bundle_is_refused_with_one_clear_line(
        tmp_path: Path, case: Case, form: str) -> None:
    path = build(tmp_path, case, form)
    with pytest.raises(InvalidBundle) as caught:
        read_bundle(path)
    message = str(caught.value)
    assert "\n" not in message
    match = re.match(rf"^{re.escape(str(path))}: ({case.where}): (.*)$", message)
    assert match, message
    assert re.search(case.problem, match.group(2)), message
    assert SECRET_VALUE not in message and SECRET_DATA not in message
    assert caught.value.exit_code == 3


def test_verify_returns_the_same_bundle_as_read(tmp_path: Path) -> None:
    manifest = write_sample(tmp_path / "b")
    assert verify(tmp_path / "b").digest == manifest.digest


def test_tampering_with_nothing_keeps_a_bundle_valid(tmp_path: Path) -> None:
    write_sample(tmp_path / "b")
    tamper(tmp_path / "b")
    assert read_bundle(tmp_path / "b").entries


# What only a directory can hold.

def make_empty_dir(bundle: Path, outside: Path) -> None:
    (bundle / "objects/core/Pod").mkdir()


@pytest.mark.parametrize(("change", "where", "problem"), [
    (make_symlink, SECRET_FILE, "is a symbolic link"),
    (make_dir_symlink, "objects/core", "is a symbolic link"),
    (make_hardlink, SECRET_FILE, "is a hard link"),
    (make_fifo, "objects/core/Secret/prod/pipe.yaml", "is a FIFO"),
    (make_bad_name, "'objects/\\udcff.yaml'", "not valid UTF-8"),
    (make_empty_dir, "objects/core/Pod", "directory not used"),
])
def test_a_directory_holding_links_or_special_files_is_refused(
        tmp_path: Path, change: Callable[[Path, Path], None], where: str, problem: str) -> None:
    bundle = tmp_path / "bundle"
    write_sample(bundle)
    change(bundle, tmp_path / "outside")
    with pytest.raises(InvalidBundle) as caught:
        read_bundle(bundle)
    assert str(caught.value).startswith(f"{bundle}: {where}: "), str(caught.value)
    assert problem in str(caught.value)


@pytest.mark.parametrize(("name", "problem"), [
    ("missing", "no such file or directory"),
    ("plain.txt", "neither a bundle directory nor a .tar.zst archive"),
])
def test_a_path_that_is_no_bundle_at_all_is_refused(tmp_path: Path, name: str,
                                                     problem: str) -> None:
    (tmp_path / "plain.txt").write_text("hello")
    with pytest.raises(InvalidBundle, match=problem):
        read_bundle(tmp_path / name)


def test_a_directory_without_manifest_is_not_a_bundle(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    with pytest.raises(InvalidBundle, match=r"manifest\.json: missing; this is not a"):
        read_bundle(tmp_path / "b")
