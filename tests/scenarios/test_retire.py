"""Retire and resume-source act only on what the bundle and the clusters agree on."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from kubesim.capi.topologies import TOPOLOGIES
from movekit.bundle import Bundle, read_bundle
from movekit.bundle.layout import object_path
from movekit.export import ExportOptions, export_bundle
from movekit.importer import ImportOptions, import_bundle
from movekit.model import Selection
from movekit.mover import retire
from movekit.refs import ObjectRef, split_api_version
from movekit.schemas import load_schema
from tests.bundle.bundle_samples import tamper
from tests.lanes import Env
from tests.scenarios.checks import target_objects
from tests.scenarios.commands import movekit

OTHER_DIGEST = "sha256:" + "0" * 64
OTHER_GROUP = "other.example.com"


def _exported(src: Env, topology: str, namespace: str, path: Path, *,
              leave_paused: bool = True) -> Bundle:
    chosen = TOPOLOGIES[topology]
    src.seed(chosen, namespace=namespace)
    with src.client() as client:
        export_bundle(client, ExportOptions(
            selection=Selection(namespace=namespace, clusters=frozenset(chosen.clusters)),
            target=path, archive=path.name.endswith(".tar.zst"), leave_paused=leave_paused))
    return read_bundle(path)


def _imported(dst: Env, path: Path) -> None:
    with dst.client() as client:
        # A bundle exported without --leave-paused too: retire must refuse it on its own.
        import_bundle(client, path, ImportOptions(allow_active_source=True))


def _left(env: Env, bundle: Bundle) -> dict[ObjectRef, dict[str, Any]]:
    with env.client() as client:
        return target_objects(client, bundle)


def _kept(bundle: Bundle) -> set[ObjectRef]:
    return {e.ref for e in bundle.entries if e.is_global or e.keep_in_source}


def _versions(env: Env, bundle: Bundle) -> dict[ObjectRef, str]:
    return {ref: o["metadata"]["resourceVersion"] for ref, o in _left(env, bundle).items()}


def _said(completed: Any) -> str:
    return " ".join(completed.stderr.split())


def _writes(env: Env) -> int:
    return env.sim.request_count(write=True) if env.sim is not None else 0


# -- a manifest cannot make retire delete a global object ------------------------------------


def _not_global(doc: dict[str, Any]) -> None:
    for item in doc["objects"]:
        item["flags"]["global"] = item["flags"]["keepInSource"] = False


@pytest.mark.parametrize("through", ["library", "cli"])
def test_retire_keeps_a_cluster_scoped_object_the_manifest_marks_deletable(
    through: str, src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    bundle = _exported(src, "global-identity", namespace, tmp_path / "b")
    identity = next(e.ref for e in bundle.entries if not e.ref.namespace)
    tamper(tmp_path / "b", manifest=_not_global)
    forged = read_bundle(tmp_path / "b")
    assert not any(e.is_global or e.keep_in_source for e in forged.entries)

    if through == "library":
        with src.client() as source:
            result = retire(source, forged.entries, timeout=30)
        assert identity in result.kept and identity not in result.deleted
        assert "cluster-scoped in the source" in result.why_kept[identity]
    else:
        completed = movekit("retire", "--yes", "--kubeconfig", src.kubeconfig, "--from-directory",
                            tmp_path / "b", "--force", "--output", "json")
        assert completed.returncode == 0, completed.stderr
        kept = json.loads(completed.stdout)["kept"]
        assert {(k["kind"], k["name"]) for k in kept} == {(identity.kind, identity.name)}

    assert set(_left(src, bundle)) == {identity}


def _relocate(bundle_dir: Path, leaf: ObjectRef, lie: str) -> None:
    """Re-seal the bundle with ``leaf``'s entry, kind and file lying consistently about where
    it is: the verifier cannot tell, only the source's discovery can."""
    doc = json.loads((bundle_dir / "manifest.json").read_text())
    item = next(o for o in doc["objects"]
                if (o["kind"], o["namespace"], o["name"]) == (leaf.kind, leaf.namespace,
                                                              leaf.name))
    obj = yaml.safe_load((bundle_dir / item["file"]).read_text())
    if lie == "no-namespace":  # and so no owner: a cluster-scoped object has none namespaced
        item["namespace"], item["owners"], item["softOwners"] = "", [], []
        del obj["metadata"]["namespace"]
        obj["metadata"].pop("ownerReferences", None)
    else:  # a group in which the source serves no such kind
        item["apiVersion"] = obj["apiVersion"] = OTHER_GROUP + "/v1"
    data = yaml.safe_dump(obj).encode()
    old_file = item["file"]
    new_file = object_path(ObjectRef(split_api_version(item["apiVersion"])[0], leaf.kind,
                                     item["namespace"], item["name"]))

    def lie_in_manifest(manifest: dict[str, Any]) -> None:
        entry = next(o for o in manifest["objects"] if o["file"] == old_file)
        entry.update(item, file=new_file, sha256=hashlib.sha256(data).hexdigest())
        kind = next(k for k in manifest["kinds"] if k["kind"] == leaf.kind)
        if lie == "no-namespace":
            kind["namespaced"] = False
        else:
            manifest["kinds"].append({**kind, "group": OTHER_GROUP, "version": "v1"})

    tamper(bundle_dir, files={old_file: None, new_file: data}, manifest=lie_in_manifest)
    for directory in sorted(bundle_dir.rglob("*"), reverse=True):
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()


@pytest.mark.parametrize("lie", ["no-namespace", "other-group"])
def test_retire_keeps_an_entry_whose_scope_or_group_disagrees_with_the_source(
    lie: str, src: Env, namespace: str, tmp_path: Path
) -> None:
    bundle = _exported(src, "cluster-alone", namespace, tmp_path / "b")
    referenced = ({o.ref for e in bundle.entries for o in e.owners}
                  | {s for e in bundle.entries for s in e.soft_owners})
    kinds = Counter(e.ref.kind for e in bundle.entries)
    # The only object of its kind (the manifest's kinds declare a scope for all of a kind),
    # and no other entry's owner.
    leaf = next(e for e in bundle.entries if e.ref not in referenced and kinds[e.ref.kind] == 1)
    _relocate(tmp_path / "b", leaf.ref, lie)

    completed = movekit("retire", "--yes", "--kubeconfig", src.kubeconfig, "--from-directory",
                        tmp_path / "b", "--force", "--output", "json")

    assert completed.returncode == 0, completed.stderr
    kept = {(k["kind"], k["name"]): k["reason"] for k in json.loads(completed.stdout)["kept"]}
    assert kept == {(leaf.ref.kind, leaf.ref.name): {
        "no-namespace": "namespaced in the source, but the bundle gives it no namespace",
        "other-group": f"the source does not serve {leaf.ref.kind} at {OTHER_GROUP}/v1",
    }[lie]}
    assert set(_left(src, bundle)) == {leaf.ref}


# -- the digest and the dry run --------------------------------------------------------------


@pytest.mark.parametrize("extra", [(), ("--dry-run",), ("--force",), ("--to-kubeconfig", "DST")])
def test_retire_refuses_a_bundle_of_another_digest_before_any_request(
    extra: tuple[str, ...], src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    bundle = _exported(src, "cluster-alone", namespace, tmp_path / "b")
    _imported(dst, tmp_path / "b")
    before = _versions(src, bundle)
    requests = (src.sim.request_count() if src.sim else 0,
                dst.sim.request_count() if dst.sim else 0)

    completed = movekit("retire", "--yes", "--kubeconfig", src.kubeconfig, "--from-directory",
                        tmp_path / "b", "--expect-digest", OTHER_DIGEST,
                        *[dst.kubeconfig if a == "DST" else a for a in extra])

    assert completed.returncode == 3, completed.stderr
    assert f"bundle digest is {bundle.digest}, expected {OTHER_DIGEST}" in _said(completed)
    assert (src.sim.request_count() if src.sim else 0,
            dst.sim.request_count() if dst.sim else 0) == requests
    assert _versions(src, bundle) == before


@pytest.mark.parametrize("topology", ["cluster-alone", "global-identity",
                                      "clusterclass-shared-select-cluster"])
def test_retire_dry_run_lists_what_it_would_do_and_writes_nothing(
    topology: str, src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    bundle = _exported(src, topology, namespace, tmp_path / "b")
    _imported(dst, tmp_path / "b")
    before = _versions(src, bundle)
    writes = _writes(src)

    completed = movekit("retire", "--kubeconfig", src.kubeconfig, "--from-directory",
                        tmp_path / "b", "--to-kubeconfig", dst.kubeconfig, "--dry-run",
                        "--expect-digest", bundle.digest)

    assert completed.returncode == 0, completed.stderr
    said = completed.stdout
    doomed = {e.ref for e in bundle.entries} - _kept(bundle)
    for ref in doomed:
        assert f"would delete: {ref}" in said
    for ref in _kept(bundle):
        assert f"would keep: {ref}" in said
    assert (f"dry run: would delete {len(doomed)}, already gone 0, kept {len(_kept(bundle))}, "
            "left alone 0; nothing was changed") in " ".join(said.split())
    assert _writes(src) == writes
    assert _versions(src, bundle) == before


def test_retire_dry_run_reports_an_object_recreated_since_as_left_alone(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    from kubernetes import client as k8s

    bundle = _exported(src, "cluster-alone", namespace, tmp_path / "b")
    _imported(dst, tmp_path / "b")
    secret = next(e.ref for e in bundle.entries if e.ref.kind == "Secret")
    core = k8s.CoreV1Api(src.api)
    core.delete_namespaced_secret(secret.name, namespace)
    core.create_namespaced_secret(namespace, {"metadata": {"name": secret.name}})

    completed = movekit("retire", "--kubeconfig", src.kubeconfig, "--from-directory",
                        tmp_path / "b", "--to-kubeconfig", dst.kubeconfig, "--dry-run",
                        "--output", "json")

    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    jsonschema.validate(document, load_schema("output-retire.v1.json"))
    assert document["dryRun"] is True
    assert [r["name"] for r in document["recreated"]] == [secret.name]
    assert len(document["deleted"]) == len(bundle.entries) - len(_kept(bundle)) - 1
    assert set(_left(src, bundle)) == {e.ref for e in bundle.entries}


# -- refusing until the move is safe to finish -----------------------------------------------


def test_retire_without_a_target_to_check_refuses_in_one_line_naming_both_ways_out(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    bundle = _exported(src, "cluster-alone", namespace, tmp_path / "b")
    _imported(dst, tmp_path / "b")
    requests = src.sim.request_count() if src.sim else 0

    completed = movekit("retire", "--yes", "--kubeconfig", src.kubeconfig, "--from-directory",
                        tmp_path / "b")

    assert completed.returncode == 4, completed.stderr
    error = [line for line in completed.stderr.splitlines() if line.strip()]
    assert len(error) == 1 and error[0].startswith("error: ")
    assert "--to-kubeconfig" in error[0] and "--force" in error[0]
    assert (src.sim.request_count() if src.sim else 0) == requests
    assert set(_left(src, bundle)) == {e.ref for e in bundle.entries}


@pytest.mark.parametrize("forced_with_target", [True, False])
def test_retire_refuses_while_the_source_clusters_run_unpaused(
    forced_with_target: bool, src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    bundle = _exported(src, "two-clusters", namespace, tmp_path / "b", leave_paused=False)
    _imported(dst, tmp_path / "b")
    writes = _writes(src)
    target = ("--to-kubeconfig", dst.kubeconfig)

    refused = movekit("retire", "--yes", "--kubeconfig", src.kubeconfig, "--from-directory",
                      tmp_path / "b", *target)

    assert refused.returncode == 4, refused.stderr
    said = _said(refused)
    for entry in (e for e in bundle.entries if e.ref.kind == "Cluster"):
        assert f"{entry.ref}: not paused in the source" in said
    assert "nothing was deleted" in said
    assert _writes(src) == writes
    assert set(_left(src, bundle)) == {e.ref for e in bundle.entries}

    forced = movekit("retire", "--yes", "--kubeconfig", src.kubeconfig, "--from-directory",
                     tmp_path / "b", "--force", *(target if forced_with_target else ()))

    assert forced.returncode == 0, forced.stderr
    assert set(_left(src, bundle)) == _kept(bundle)


def _delete_one(dst: Env, bundle: Bundle) -> ObjectRef:
    entry = next(e for e in bundle.entries if e.ref.kind == "Secret")
    with dst.client() as client:
        res = client.resource(entry.api_version, "Secret")
        assert res is not None
        client.delete(res, entry.ref.namespace, entry.ref.name)
    return entry.ref


def _change_one(dst: Env, bundle: Bundle) -> ObjectRef:
    entry = next(e for e in bundle.entries if e.ref.kind == "Secret")
    with dst.client() as client:
        res = client.resource(entry.api_version, "Secret")
        assert res is not None
        live = client.get(res, entry.ref.namespace, entry.ref.name)
        assert live is not None
        key = sorted(live["data"])[0]
        client.merge_patch(res, entry.ref.namespace, entry.ref.name,
                           {"data": {key: "Y2hhbmdlZA=="}})
    return entry.ref


@pytest.mark.parametrize(("damage", "says"), [
    (None, "not in the target"),
    (_delete_one, "not in the target"),
    (_change_one, "but not as this bundle creates it"),
], ids=["never-imported", "one-deleted", "one-changed"])
def test_retire_refuses_unless_the_target_holds_every_object_as_imported(
    damage: Any, says: str, src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    bundle = _exported(src, "cluster-alone", namespace, tmp_path / "b")
    named: ObjectRef | None = None
    if damage is not None:
        _imported(dst, tmp_path / "b")
        named = damage(dst, bundle)
    writes = _writes(src)

    completed = movekit("retire", "--yes", "--kubeconfig", src.kubeconfig, "--from-directory",
                        tmp_path / "b", "--to-kubeconfig", dst.kubeconfig)

    assert completed.returncode == 4, completed.stderr
    said = _said(completed)
    assert says in said
    if named is not None:
        assert f"{named}: {says}" in said or f"{named}: in the target" in said
    assert _writes(src) == writes
    assert set(_left(src, bundle)) == {e.ref for e in bundle.entries}


@pytest.mark.parametrize("topology", ["cluster-alone", "global-identity"])
def test_retire_with_the_target_after_a_real_import_deletes_exactly_what_moved(
    topology: str, src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    bundle = _exported(src, topology, namespace, tmp_path / "b.tar.zst")
    _imported(dst, tmp_path / "b.tar.zst")

    completed = movekit("retire", "--yes", "--kubeconfig", src.kubeconfig, "--from-archive",
                        tmp_path / "b.tar.zst", "--to-kubeconfig", dst.kubeconfig,
                        "--expect-digest", bundle.digest)

    assert completed.returncode == 0, completed.stderr
    assert set(_left(src, bundle)) == _kept(bundle)
    assert set(_left(dst, bundle)) == {e.ref for e in bundle.entries}


# -- resume-source resumes only what was exported --------------------------------------------


def _recreate(env: Env, kind: str, ref: ObjectRef, paused_body: dict[str, Any]) -> str:
    """Delete the object and create it again under the same name, paused: another UID."""
    from kubernetes import client as k8s

    custom = k8s.CustomObjectsApi(env.api)
    plural = {"Cluster": "clusters", "ClusterClass": "clusterclasses"}[kind]
    where = ("cluster.x-k8s.io", "v1beta2", ref.namespace, plural)
    custom.patch_namespaced_custom_object(*where, ref.name, {"metadata": {"finalizers": None}})
    custom.delete_namespaced_custom_object(*where, ref.name)
    created = custom.create_namespaced_custom_object(*where, paused_body)
    return str(created["metadata"]["uid"])


@pytest.mark.parametrize(("topology", "kind"), [("two-clusters", "Cluster"),
                                                ("clusterclass-same-namespace", "ClusterClass")])
def test_resume_source_leaves_an_object_recreated_since_the_export_paused_and_untouched(
    topology: str, kind: str, src: Env, namespace: str, tmp_path: Path
) -> None:
    bundle = _exported(src, topology, namespace, tmp_path / "b")
    entry = next(e for e in bundle.entries if e.ref.kind == kind and not e.was_paused)
    body = bundle.load(entry)
    body["metadata"].pop("managedFields", None)
    body["metadata"].pop("ownerReferences", None)
    if kind == "Cluster":
        body["spec"]["paused"] = True
    else:
        body["metadata"].setdefault("annotations", {})["cluster.x-k8s.io/paused"] = ""
    uid = _recreate(src, kind, entry.ref, body)
    recreated_version = _left(src, bundle)[entry.ref]["metadata"]["resourceVersion"]

    completed = movekit("resume-source", "--kubeconfig", src.kubeconfig, "--from-directory",
                        tmp_path / "b")

    assert completed.returncode == 0, completed.stderr
    assert f"left alone {entry.ref}: recreated since the export" in " ".join(
        completed.stdout.split())
    as_json = movekit("resume-source", "--kubeconfig", src.kubeconfig, "--from-directory",
                      tmp_path / "b", "--output", "json")
    document = json.loads(as_json.stdout)
    jsonschema.validate(document, load_schema("output-resume-source.v1.json"))
    assert [r["name"] for r in document["recreated"]] == [entry.ref.name]
    left = _left(src, bundle)
    assert left[entry.ref]["metadata"]["uid"] == uid
    assert left[entry.ref]["metadata"]["resourceVersion"] == recreated_version
    for other in bundle.entries:
        if other.ref.kind == "Cluster" and other.ref != entry.ref and not other.was_paused:
            assert not left[other.ref]["spec"].get("paused"), other.ref
