"""Simulated Cluster API controllers, acting on a KubeSim in-process through ``sim.store``.

What they model is the part of Cluster API that a move has to live with:

- finalizers: core and provider controllers put their finalizer on the objects they
  reconcile, and take it off once they have deleted what the object stands for (the
  "infrastructure"); every such deletion is recorded in ``infra_deleted`` so a test can
  prove a move never made a provider tear down real infrastructure. Objects annotated
  ``clusterctl.cluster.x-k8s.io/delete-for-move`` are let go without that, as CAPI does.
- pause: nothing paused is touched - a Cluster with ``spec.paused``, any object annotated
  ``cluster.x-k8s.io/paused``, any object of a paused Cluster (``cluster.x-k8s.io/cluster-name``
  label or a Cluster owner in its namespace).
- ``clusterctl.cluster.x-k8s.io/block-move``: held on chosen objects for a while, as a
  provider does while it has work in flight (``hold_block_move``).
- optionally (``provision=True``) the status a provisioned cluster has.

Every behaviour has its switch; ``tick()`` runs one pass synchronously.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubesim.refs import ObjectRef

log = logging.getLogger(__name__)

Json = dict[str, Any]
ObjectMatcher = ObjectRef | Callable[[Mapping[str, Any]], bool]

CAPI_GROUP_SUFFIX = "cluster.x-k8s.io"
INVENTORY_GROUP = "clusterctl.cluster.x-k8s.io"
CLUSTER_NAME_LABEL = "cluster.x-k8s.io/cluster-name"
PAUSED_ANNOTATION = "cluster.x-k8s.io/paused"
DELETE_FOR_MOVE_ANNOTATION = "clusterctl.cluster.x-k8s.io/delete-for-move"
BLOCK_MOVE_ANNOTATION = "clusterctl.cluster.x-k8s.io/block-move"

#: The finalizer each controller puts on the objects of its kind (Cluster API v1.10+, CAPD, CAPA).
FINALIZERS: Mapping[tuple[str, str], str] = {
    ("cluster.x-k8s.io", "Cluster"): "cluster.cluster.x-k8s.io",
    ("cluster.x-k8s.io", "Machine"): "machine.cluster.x-k8s.io",
    ("cluster.x-k8s.io", "MachineSet"): "cluster.x-k8s.io/machineset",
    ("cluster.x-k8s.io", "MachineDeployment"): "cluster.x-k8s.io/machinedeployment",
    ("cluster.x-k8s.io", "MachinePool"): "machinepool.cluster.x-k8s.io",
    ("addons.cluster.x-k8s.io", "ClusterResourceSet"): "addons.cluster.x-k8s.io",
    ("controlplane.cluster.x-k8s.io", "KubeadmControlPlane"): (
        "kubeadm.controlplane.cluster.x-k8s.io"
    ),
    ("infrastructure.cluster.x-k8s.io", "DockerCluster"): (
        "dockercluster.infrastructure.cluster.x-k8s.io"
    ),
    ("infrastructure.cluster.x-k8s.io", "DockerMachine"): (
        "dockermachine.infrastructure.cluster.x-k8s.io"
    ),
    ("infrastructure.cluster.x-k8s.io", "DockerMachinePool"): (
        "dockermachinepool.infrastructure.cluster.x-k8s.io"
    ),
    ("infrastructure.cluster.x-k8s.io", "AWSCluster"): "awscluster.infrastructure.cluster.x-k8s.io",
}


@dataclass(eq=False)
class _Hold:
    matcher: ObjectMatcher
    until: float | None  # monotonic deadline; None holds until released
    annotated: set[tuple[str, str, str, str]]  # (group, plural, namespace, name) we marked


class CapiControllers:
    """Background reconcilers for the Cluster API kinds a KubeSim serves."""

    def __init__(
        self,
        sim: Any,
        *,
        interval: float = 0.05,
        add_finalizers: bool = True,
        remove_finalizers: bool = True,
        provision: bool = False,
        field_manager: str = "manager",
    ) -> None:
        self.sim = sim
        self.interval = interval
        self.add_finalizers = add_finalizers
        self.remove_finalizers = remove_finalizers
        self.provision = provision
        self.field_manager = field_manager
        #: Objects a provider really deleted (not delete-for-move), as "Kind.group/ns/name".
        self.infra_deleted: list[str] = []
        self._holds: list[_Hold] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen_version = ""

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="kubesim-capi", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> CapiControllers:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:
                # A reconcile loop never dies on one bad pass; the next tick retries.
                log.exception("simulated Cluster API controllers: reconcile pass failed")

    # ---------------------------------------------------------------- block-move

    def hold_block_move(self, target: ObjectMatcher, seconds: float | None) -> None:
        """Keep ``block-move`` on matching objects for ``seconds`` (None: until released)."""
        until = None if seconds is None else time.monotonic() + seconds
        with self._lock:
            self._holds.append(_Hold(target, until, set()))
            self._seen_version = ""  # force the next pass
        self.tick()

    def release_block_move(self, target: ObjectMatcher | None = None) -> None:
        """End the holds on ``target`` (all holds when None) and remove their annotations."""
        with self._lock:
            for hold in self._holds:
                if target is None or hold.matcher == target:
                    hold.until = time.monotonic() - 1
            self._seen_version = ""
        self.tick()

    # ---------------------------------------------------------------- reconcile

    def tick(self) -> None:
        """One reconcile pass over every Cluster API object."""
        with self._lock:
            version = str(self.sim.store.resource_version)
            if version == self._seen_version and not self._holds_due():
                return
            kinds = [
                rt
                for rt in self.sim.registry.all()
                if rt.group.endswith(CAPI_GROUP_SUFFIX) and rt.group != INVENTORY_GROUP
            ]
            objects = [(rt, obj) for rt in kinds for obj in self._list(rt)]
            paused_clusters = {
                (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
                for rt, obj in objects
                if rt.group == "cluster.x-k8s.io"
                and rt.kind == "Cluster"
                and (obj.get("spec") or {}).get("paused") is True
            }
            for rt, obj in objects:
                try:
                    self._reconcile(rt, obj, paused_clusters)
                except Exception:
                    # The object may have gone or its CRD been removed since the list.
                    log.debug("reconcile of %s/%s skipped", rt.kind, obj["metadata"]["name"])
            self._expire_holds()
            self._seen_version = str(self.sim.store.resource_version)

    def _list(self, rt: Any) -> list[Json]:
        try:
            return list(self.sim.store.list(rt.group, rt.plural))
        except Exception:
            return []  # the kind stopped being served between discovery and list

    def _reconcile(self, rt: Any, obj: Json, paused_clusters: set[tuple[str, str]]) -> None:
        self._apply_holds(rt, obj)
        if self._is_paused(rt, obj, paused_clusters):
            return
        meta = obj["metadata"]
        finalizer = FINALIZERS.get((rt.group, rt.kind))
        if meta.get("deletionTimestamp"):
            if self.remove_finalizers and finalizer and finalizer in (meta.get("finalizers") or []):
                self._finish_deletion(rt, obj, finalizer)
            return
        if self.add_finalizers and finalizer and finalizer not in (meta.get("finalizers") or []):
            self._mutate(rt, obj, lambda o: _with_finalizer(o, finalizer))
        if self.provision and rt.group == "cluster.x-k8s.io" and rt.kind in ("Cluster", "Machine"):
            kind = rt.kind
            self._mutate(rt, obj, lambda o: _provisioned(o, kind), subresource="status")

    def _is_paused(self, rt: Any, obj: Json, paused_clusters: set[tuple[str, str]]) -> bool:
        meta = obj["metadata"]
        if PAUSED_ANNOTATION in (meta.get("annotations") or {}):
            return True
        namespace = meta.get("namespace", "")
        if rt.group == "cluster.x-k8s.io" and rt.kind == "Cluster":
            return (namespace, meta["name"]) in paused_clusters
        cluster_name = (meta.get("labels") or {}).get(CLUSTER_NAME_LABEL)
        if cluster_name and (namespace, cluster_name) in paused_clusters:
            return True
        return any(
            ref.get("kind") == "Cluster"
            and str(ref.get("apiVersion", "")).startswith("cluster.x-k8s.io/")
            and (namespace, ref.get("name")) in paused_clusters
            for ref in meta.get("ownerReferences") or []
        )

    def _finish_deletion(self, rt: Any, obj: Json, finalizer: str) -> None:
        """The provider's delete: tear down what the object stands for, then let it go."""
        meta = obj["metadata"]
        if DELETE_FOR_MOVE_ANNOTATION not in (meta.get("annotations") or {}):
            ref = str(ObjectRef(rt.group, rt.kind, meta.get("namespace", ""), meta["name"]))
            if ref not in self.infra_deleted:
                self.infra_deleted.append(ref)
        self._mutate(rt, obj, lambda o: _without_finalizer(o, finalizer))

    def _mutate(
        self,
        rt: Any,
        obj: Json,
        change: Callable[[Json], Json | None],
        subresource: str = "",
    ) -> None:
        meta = obj["metadata"]
        self.sim.store.mutate(
            rt.group,
            rt.plural,
            meta.get("namespace", ""),
            meta["name"],
            change,
            manager=self.field_manager,
            subresource=subresource,
        )

    # ---------------------------------------------------------------- holds

    def _holds_due(self) -> bool:
        now = time.monotonic()
        return any(h.until is not None and h.until <= now and h.annotated for h in self._holds)

    def _apply_holds(self, rt: Any, obj: Json) -> None:
        now = time.monotonic()
        for hold in self._holds:
            if (hold.until is not None and hold.until <= now) or not _matches(
                hold.matcher, rt, obj
            ):
                continue
            meta = obj["metadata"]
            hold.annotated.add((rt.group, rt.plural, meta.get("namespace", ""), meta["name"]))
            if BLOCK_MOVE_ANNOTATION not in (meta.get("annotations") or {}):
                self._mutate(rt, obj, _with_block_move)

    def _expire_holds(self) -> None:
        now = time.monotonic()
        active = [h for h in self._holds if h.until is None or h.until > now]
        still_held = {key for h in active for key in h.annotated}
        for hold in self._holds:
            if hold in active:
                continue
            for group, plural, namespace, name in hold.annotated - still_held:
                try:
                    self.sim.store.mutate(
                        group,
                        plural,
                        namespace,
                        name,
                        _without_block_move,
                        manager=self.field_manager,
                    )
                except Exception:
                    log.debug("block-move release of %s/%s skipped", plural, name)
        self._holds = active


def _matches(matcher: ObjectMatcher, rt: Any, obj: Json) -> bool:
    if isinstance(matcher, ObjectRef):
        meta = obj["metadata"]
        return matcher == ObjectRef(rt.group, rt.kind, meta.get("namespace", ""), meta["name"])
    return bool(matcher(obj))


def _with_finalizer(obj: Json, finalizer: str) -> Json | None:
    finalizers = list(obj["metadata"].get("finalizers") or [])
    if finalizer in finalizers or obj["metadata"].get("deletionTimestamp"):
        return None
    obj["metadata"]["finalizers"] = [*finalizers, finalizer]
    return obj


def _without_finalizer(obj: Json, finalizer: str) -> Json | None:
    finalizers = list(obj["metadata"].get("finalizers") or [])
    if finalizer not in finalizers:
        return None
    _set_or_drop(obj["metadata"], "finalizers", [f for f in finalizers if f != finalizer])
    return obj


def _with_block_move(obj: Json) -> Json | None:
    annotations = dict(obj["metadata"].get("annotations") or {})
    if BLOCK_MOVE_ANNOTATION in annotations:
        return None
    annotations[BLOCK_MOVE_ANNOTATION] = ""
    obj["metadata"]["annotations"] = annotations
    return obj


def _without_block_move(obj: Json) -> Json | None:
    annotations = dict(obj["metadata"].get("annotations") or {})
    if BLOCK_MOVE_ANNOTATION not in annotations:
        return None
    del annotations[BLOCK_MOVE_ANNOTATION]
    _set_or_drop(obj["metadata"], "annotations", annotations)
    return obj


def _set_or_drop(meta: Json, key: str, value: Any) -> None:
    # An empty list or map is omitted from a stored object (omitempty), not kept empty.
    if value:
        meta[key] = value
    else:
        meta.pop(key, None)


def _condition(type_: str, reason: str, generation: int) -> Json:
    return {
        "type": type_,
        "status": "True",
        "reason": reason,
        "message": "",
        "observedGeneration": generation,
        "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _provisioned(obj: Json, kind: str) -> Json | None:
    """Status a provisioned Cluster or Machine reports, added only where it is missing."""
    status = dict(obj.get("status") or {})
    initialization = dict(status.get("initialization") or {})
    generation = int(obj["metadata"].get("generation") or 1)
    changed = False
    if not initialization.get("infrastructureProvisioned"):
        initialization["infrastructureProvisioned"] = True
        changed = True
    if kind == "Cluster":
        conditions = list(status.get("conditions") or [])
        if not any(c.get("type") == "ControlPlaneInitialized" for c in conditions):
            conditions.append(_condition("ControlPlaneInitialized", "Initialized", generation))
            status["conditions"] = conditions
            changed = True
    elif not status.get("nodeRef"):
        status["nodeRef"] = {"name": obj["metadata"]["name"]}
        changed = True
    if not changed:
        return None
    status["initialization"] = initialization
    obj["status"] = status
    return obj
