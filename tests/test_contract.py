"""The move contract is data: a provider's rule added to it is honoured without code changes."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import Any

from movekit.contract import (
    CLUSTER,
    CLUSTER_API,
    PAUSED_BY_ANNOTATION,
    Contract,
    Pause,
    Readiness,
)
from movekit.discovery import view
from movekit.graph import build
from movekit.model import KindInfo, Selection
from movekit.pause import RUN_ID, is_pausable, mark_paused, pause_patch, unpaused_copy
from movekit.precheck import provisioning_problems
from movekit.refs import GroupKind, ObjectRef

PACKAGE = Path(__file__).resolve().parents[1] / "movekit"
FOO = "infrastructure.foo.example.io"
FOO_CLUSTER = GroupKind(FOO, "FooCluster")
FOO_IDENTITY = GroupKind(FOO, "FooIdentity")
FOO_PAUSED = "infrastructure.foo.example.io/paused"


def _kind(gk: GroupKind, *, namespaced: bool = True) -> KindInfo:
    version = "v1beta2" if gk.group else "v1"
    crd = f"{gk.kind.lower()}s.{gk.group}" if gk.group else None
    return KindInfo(gk.group, version, gk.kind, gk.kind.lower() + "s", namespaced, crd)


KINDS = {gk: _kind(gk) for gk in (CLUSTER, FOO_CLUSTER, FOO_IDENTITY, GroupKind("", "Secret"))}


def _obj(gk: GroupKind, name: str, *, owner: GroupKind | None = None, owner_name: str = "",
         **fields: Any) -> dict[str, Any]:
    api_version = f"{gk.group}/v1beta2" if gk.group else "v1"
    meta: dict[str, Any] = {"name": name, "namespace": "prod", "uid": f"{gk.kind}/{name}",
                            "resourceVersion": "1"}
    if owner is not None:
        meta["ownerReferences"] = [{"apiVersion": f"{owner.group}/v1beta2", "kind": owner.kind,
                                    "name": owner_name, "uid": f"{owner.kind}/{owner_name}"}]
    return {"apiVersion": api_version, "kind": gk.kind, "metadata": meta, **fields}


def _moved(objects: list[dict[str, Any]], contract: Contract = CLUSTER_API) -> set[str]:
    graph = build(objects, KINDS, Selection("prod"), contract)
    return {ref.name for ref in graph.moved}


def _string_literals(path: Path) -> list[tuple[int, str]]:
    """Every string constant of a module but its docstrings: what the code defines or says."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings]


def test_no_cluster_api_name_is_written_outside_the_contract() -> None:
    modules = [*PACKAGE.glob("*.py"), *(PACKAGE / "bundle").glob("*.py")]
    assert PACKAGE / "graph.py" in modules  # the scan reads the package it guards
    found = [f"{path.relative_to(PACKAGE)}:{line}: {text!r}"
             for path in modules if path.name != "contract.py"
             for line, text in _string_literals(path) if "x-k8s.io" in text]
    assert found == [], "Cluster API names belong in movekit/contract.py:\n" + "\n".join(found)


def test_the_scan_sees_literals_but_not_docstrings(tmp_path: Path) -> None:
    module = tmp_path / "sample.py"
    module.write_text('"""About cluster.x-k8s.io."""\n'
                      'def f() -> str:\n    """cluster.x-k8s.io/paused"""\n'
                      '    return f"{1}cluster.x-k8s.io/move"\n', encoding="utf-8")
    assert [text for _, text in _string_literals(module)] == ["cluster.x-k8s.io/move"]


def test_a_provider_kind_made_a_hierarchy_root_moves_with_what_it_owns() -> None:
    objects = [_obj(FOO_IDENTITY, "id"),
               _obj(GroupKind("", "Secret"), "id-credentials", owner=FOO_IDENTITY,
                    owner_name="id")]
    rooted = dataclasses.replace(CLUSTER_API, roots=CLUSTER_API.roots | {FOO_IDENTITY})
    assert _moved(objects) == set()
    assert _moved(objects, rooted) == {"id", "id-credentials"}


def test_a_provider_secret_suffix_makes_the_secret_a_clusters() -> None:
    objects = [_obj(CLUSTER, "c1"), _obj(GroupKind("", "Secret"), "c1-ssh-keys")]
    suffixed = dataclasses.replace(CLUSTER_API, cluster_secret_suffixes=(
        "ssh-keys", *CLUSTER_API.cluster_secret_suffixes))
    assert _moved(objects) == {"c1"}
    graph = build(objects, KINDS, Selection("prod"), suffixed)
    secret = graph.node(ObjectRef("", "Secret", "prod", "c1-ssh-keys"))
    assert secret.soft_owners == (ObjectRef(CLUSTER.group, CLUSTER.kind, "prod", "c1"),)
    assert secret.wave == 1


def test_a_provider_kind_that_pauses_by_annotation_is_paused_read_and_resumed() -> None:
    contract = dataclasses.replace(
        CLUSTER_API, pause={**CLUSTER_API.pause, FOO_CLUSTER: Pause(annotation=FOO_PAUSED)})
    paused = _obj(FOO_CLUSTER, "c1", owner=CLUSTER, owner_name="c1")
    paused["metadata"]["annotations"] = {FOO_PAUSED: "", "kept": "yes"}
    ref = ObjectRef.of(paused)

    assert not is_pausable(ref)
    assert is_pausable(ref, contract)
    assert pause_patch(ref, True, contract) == {
        "metadata": {"annotations": {FOO_PAUSED: "", PAUSED_BY_ANNOTATION: RUN_ID}}}
    assert pause_patch(ref, False, contract) == {
        "metadata": {"annotations": {FOO_PAUSED: None, PAUSED_BY_ANNOTATION: None}}}
    marked = {**paused, "metadata": {**paused["metadata"], "annotations": {
        **paused["metadata"]["annotations"], PAUSED_BY_ANNOTATION: RUN_ID}}}
    resumed = unpaused_copy(marked, contract)
    assert resumed["metadata"]["annotations"] == {"kept": "yes"}
    mark_paused(resumed, contract)
    assert resumed["metadata"]["annotations"] == {"kept": "yes", FOO_PAUSED: ""}

    # Discovery keeps the annotation in a view, so the graph records the pause from views too.
    seen = view(paused, contract)
    assert seen["metadata"]["annotations"] == {FOO_PAUSED: ""}
    assert FOO_PAUSED not in view(paused)["metadata"].get("annotations", {})
    graph = build([_obj(CLUSTER, "c1"), seen], KINDS, Selection("prod"), contract)
    assert graph.node(ref).paused is True
    assert build([_obj(CLUSTER, "c1"), seen], KINDS, Selection("prod")).node(ref).paused is None


def test_a_provider_kind_that_pauses_by_a_field_gets_that_field() -> None:
    contract = dataclasses.replace(
        CLUSTER_API, pause={**CLUSTER_API.pause, FOO_CLUSTER: Pause(field=("spec", "suspend"))})
    running = _obj(FOO_CLUSTER, "c1", spec={"region": "eu"})
    ref = ObjectRef.of(running)
    assert pause_patch(ref, True, contract) == {
        "spec": {"suspend": True}, "metadata": {"annotations": {PAUSED_BY_ANNOTATION: RUN_ID}}}
    assert pause_patch(ref, False, contract) == {
        "spec": {"suspend": None}, "metadata": {"annotations": {PAUSED_BY_ANNOTATION: None}}}
    mark_paused(running, contract)
    assert running["spec"] == {"region": "eu", "suspend": True}
    assert view(running, contract)["spec"] == {"suspend": True}
    assert unpaused_copy(running, contract)["spec"] == {"region": "eu"}
    assert running["spec"]["suspend"] is True  # the copy leaves the original as it was


def test_a_provider_readiness_check_is_reported_and_read_by_discovery() -> None:
    check = Readiness("load balancer is not ready yet", any_set=(("status", "loadBalancer",
                                                                  "ready"),))
    contract = dataclasses.replace(
        CLUSTER_API, readiness={**CLUSTER_API.readiness, FOO_CLUSTER: (check,)})
    waiting = _obj(FOO_CLUSTER, "waiting", status={"loadBalancer": {"ready": False}, "big": "x"})
    ready = _obj(FOO_CLUSTER, "ready", status={"loadBalancer": {"ready": True}, "big": "x"})

    assert provisioning_problems([waiting, ready]) == []
    expected = [f"{ObjectRef.of(waiting)}: load balancer is not ready yet"]
    assert provisioning_problems([waiting, ready], contract) == expected
    views = [view(obj, contract) for obj in (waiting, ready)]
    assert views[1]["status"] == {"loadBalancer": {"ready": True}}
    assert provisioning_problems(views, contract) == expected


def test_cluster_readiness_reads_v1beta1_conditions_only_with_a_control_plane() -> None:
    def cluster(name: str, spec: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        return _obj(CLUSTER, name, spec=spec, status=status)

    provisioned = {"initialization": {"infrastructureProvisioned": True}}
    deprecated = {**provisioned, "deprecated": {"v1beta1": {"conditions": [
        {"type": "ControlPlaneInitialized", "status": "True"}]}}}
    objects = [cluster("no-cp", {}, provisioned),
               cluster("cp-waiting", {"controlPlaneRef": {"name": "cp"}}, provisioned),
               cluster("cp-v1beta1", {"controlPlaneRef": {"name": "cp"}}, deprecated),
               cluster("infra-waiting", {}, {"infrastructureReady": False})]
    problems = provisioning_problems([view(obj) for obj in objects])
    assert problems == [
        "Cluster.cluster.x-k8s.io/prod/cp-waiting: control plane is not initialized yet "
        "(condition ControlPlaneInitialized is not True)",
        "Cluster.cluster.x-k8s.io/prod/infra-waiting: infrastructure is not provisioned yet",
    ]
