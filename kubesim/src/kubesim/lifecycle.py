"""The control loops a real control plane runs next to the apiserver, reduced to what kubesim needs.

- CRD establishing (apiextensions-apiserver): serve a CRD's resource, set NamesAccepted and
  Established; on deletion, delete its objects, then drop the cleanup finalizer.
- Namespace lifecycle (kube-controller-manager): new namespaces get the ``kube-root-ca.crt``
  ConfigMap (the ``root-ca-cert-publisher`` controller) and the ``default`` ServiceAccount (the
  ``serviceaccount`` controller), each only while that controller is switched on; a terminating
  namespace has its objects deleted and disappears once it is empty.
- Garbage collector (kube-controller-manager, when switched on): an object whose owners are all
  gone is deleted; dangling owner references next to live ones are removed; it finishes Orphan
  and Foreground deletes (the API server adds their finalizers whether or not it runs).

They run asynchronously, in one thread, as on a real cluster: a client sees the CRD before it is
Established and the namespace while it terminates.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from kubesim import status
from kubesim.registry import CRD_GROUP, CRD_PLURAL, resource_type_of_crd
from kubesim.store import (
    CRD_CLEANUP_FINALIZER,
    FOREGROUND_FINALIZER,
    ORPHAN_FINALIZER,
    ObjKey,
    Store,
    WriteContext,
    set_condition,
)

Json = dict[str, Any]

APISERVER = "kube-apiserver"
CONTROLLER_MANAGER = "kube-controller-manager"


class Lifecycle:
    def __init__(self, store: Store, root_ca_pem: bytes, *, root_ca_publisher: bool = True,
                 service_accounts: bool = True) -> None:
        self.store = store
        self.root_ca = root_ca_pem.decode()
        self.root_ca_publisher = root_ca_publisher
        self.service_accounts = service_accounts
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._idle = threading.Condition()
        self._busy = False

    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="kubesim-lifecycle", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self.store.tasks.put(("stop", None))
        if self._thread is not None:
            self._thread.join(timeout=5)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until every queued task is done (tests use it to skip polling)."""
        with self._idle:
            return self._idle.wait_for(
                lambda: self.store.tasks.unfinished_tasks == 0 and not self._busy, timeout)

    def gc_everything(self) -> None:
        """What a garbage collector starting up does: look at every owned object, and finish
        every Orphan and Foreground delete that waits for it."""
        for key in self.store.objects_with_owners():
            self.store.tasks.put(("gc-object", key))
        for uid in self.store.awaiting_collector():
            self.store.tasks.put(("gc-owner", uid))

    def _run(self) -> None:
        tasks = self.store.tasks
        while not self._stopping:
            task, arg = tasks.get()
            with self._idle:
                self._busy = True
            try:
                if task != "stop":
                    self._handle(task, arg)
            except status.ApiError:
                pass  # the object moved on meanwhile; a later task sees its new state
            finally:
                tasks.task_done()
                with self._idle:
                    self._busy = False
                    self._idle.notify_all()

    def _handle(self, task: str, arg: Any) -> None:
        if task == "crd":
            self._sync_crd(arg)
        elif task == "crd-removed":
            self._crd_removed(arg)
        elif task == "namespace-created":
            self._namespace_created(arg)
        elif task == "namespace":
            self._finish_namespace(arg)
        elif task == "gc-object" and self.store.gc:
            self._collect(arg)
        elif task == "gc-owner" and self.store.gc:
            self._owner_changed(arg)

    # ---------------------------------------------------------------- CRDs

    def _sync_crd(self, name: str) -> None:
        crd = self.store.get(CRD_GROUP, CRD_PLURAL, "", name)
        if crd is None:
            return
        rt = resource_type_of_crd(crd)
        registry = self.store.registry
        if crd["metadata"].get("deletionTimestamp"):
            registry.mark_terminating(rt.group, rt.plural)
            self._delete_instances(crd)
            return
        registry.put(rt)

        def establish(obj: Json) -> Json:
            names = obj["spec"]["names"]
            accepted = {k: names[k] for k in ("plural", "singular", "shortNames", "kind",
                                              "listKind", "categories") if k in names}
            obj["status"]["acceptedNames"] = accepted
            set_condition(obj, "NamesAccepted", "True", "NoConflicts", "no conflicts found")
            set_condition(obj, "Established", "True", "InitialNamesAccepted",
                          "the initial names have been accepted")
            stored = obj["status"].setdefault("storedVersions", [])
            if rt.storage_version not in stored:
                stored.append(rt.storage_version)
            return obj

        self.store.mutate(CRD_GROUP, CRD_PLURAL, "", name, establish, manager=APISERVER,
                          subresource="status")

    def _delete_instances(self, crd: Json) -> None:
        rt = resource_type_of_crd(crd)
        remaining = 0
        for obj in self.store.list(rt.group, rt.plural):
            meta = obj["metadata"]
            if not meta.get("deletionTimestamp"):
                self._delete_quietly(rt.group, rt.plural, meta.get("namespace", ""), meta["name"])
            remaining += self.store.get(rt.group, rt.plural, meta.get("namespace", ""),
                                        meta["name"]) is not None
        if remaining:
            return  # objects with finalizers; their removal queues this CRD again

        def release(obj: Json) -> Json:
            obj["metadata"]["finalizers"] = [f for f in obj["metadata"].get("finalizers") or []
                                             if f != CRD_CLEANUP_FINALIZER]
            return obj

        self.store.mutate(CRD_GROUP, CRD_PLURAL, "", crd["metadata"]["name"], release,
                          manager=APISERVER)

    def _crd_removed(self, name: str) -> None:
        plural, _, group = name.partition(".")
        if self.store.get(CRD_GROUP, CRD_PLURAL, "", name) is None:
            self.store.registry.remove(group, plural)
            self.store.drop_all(group, plural)

    def _delete_quietly(self, group: str, plural: str, namespace: str, name: str,
                        propagation: str | None = None) -> None:
        with contextlib.suppress(status.ApiError):  # already gone
            self.store.delete(group, plural, namespace, name, propagation)

    # ---------------------------------------------------------------- namespaces

    def _namespace_created(self, namespace: str) -> None:
        ns = self.store.get("", "namespaces", "", namespace)
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            return
        published: list[Json] = []
        if self.root_ca_publisher:
            published.append({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "kube-root-ca.crt", "namespace": namespace,
                             "annotations": {"kubernetes.io/description": (
                                 "Contains a CA bundle that can be used to verify the "
                                 "kube-apiserver when using internal endpoints such as the "
                                 "internal service IP or kubernetes.default.svc. No other usage "
                                 "is guaranteed across distributions of Kubernetes clusters.")}},
                "data": {"ca.crt": self.root_ca}})
        if self.service_accounts:
            published.append({"apiVersion": "v1", "kind": "ServiceAccount",
                              "metadata": {"name": "default", "namespace": namespace}})
        for obj in published:
            with contextlib.suppress(status.ApiError):  # exists, or the namespace terminates
                self.store.create(obj, manager=CONTROLLER_MANAGER)

    def _finish_namespace(self, namespace: str) -> None:
        ns = self.store.get("", "namespaces", "", namespace)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        remaining = 0
        for rt, obj in list(self.store.iter_namespaced(namespace)):
            if not obj["metadata"].get("deletionTimestamp"):
                self._delete_quietly(rt.group, rt.plural, namespace, obj["metadata"]["name"])
            remaining += self.store.get(rt.group, rt.plural, namespace,
                                        obj["metadata"]["name"]) is not None
        if remaining:
            return  # finalizers hold some objects; their removal queues the namespace again

        self.store.finalize_namespace(namespace)

    # ---------------------------------------------------------------- garbage collection

    def _owner_state(self, dependent_key: ObjKey, ref: Json) -> str:
        """``solid``, ``dangling``, or ``waiting`` (owner being deleted in the foreground)."""
        group = str(ref.get("apiVersion", "")).rpartition("/")[0]
        rt = self.store.registry.by_kind(group, str(ref.get("kind", "")))
        if rt is None:
            return "solid"  # unknown kind: the real collector cannot resolve it and waits
        namespace = dependent_key[2] if rt.namespaced else ""
        if rt.namespaced and not namespace:
            return "dangling"
        owner = self.store.find((rt.group, rt.plural, namespace, str(ref.get("name", ""))))
        if owner is None or owner["metadata"]["uid"] != ref.get("uid"):
            return "dangling"
        if owner["metadata"].get("deletionTimestamp") and FOREGROUND_FINALIZER in (
                owner["metadata"].get("finalizers") or ()):
            return "waiting"
        return "solid"

    def _collect(self, key: ObjKey) -> None:
        """``attemptToDeleteItem``: an object with a live owner loses only its references to
        gone owners and to owners deleting in the foreground; one without is deleted."""
        obj = self.store.find(key)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return
        refs = obj["metadata"].get("ownerReferences") or []
        if not refs:
            return
        states = [self._owner_state(key, r) for r in refs]
        if "solid" not in states:
            # Foreground only for an object with dependents of its own; the object's own GC
            # finalizer decides otherwise (a DELETE without a policy keeps it).
            foreground = "waiting" in states and bool(
                self.store.dependents_of(obj["metadata"]["uid"]))
            self._delete_quietly(key[0], key[1], key[2], key[3],
                                 "Foreground" if foreground else None)
            return
        unowning = {r.get("uid") for r, s in zip(refs, states, strict=True) if s != "solid"}
        if unowning:
            self._drop_owner_refs(key, unowning)

    def _drop_owner_refs(self, key: ObjKey, uids: set[Any]) -> None:
        def drop(obj: Json) -> Json:
            refs = [r for r in obj["metadata"].get("ownerReferences") or []
                    if r.get("uid") not in uids]
            if refs:
                obj["metadata"]["ownerReferences"] = refs
            else:
                obj["metadata"].pop("ownerReferences", None)
            return obj

        self.store.mutate(key[0], key[1], key[2], key[3], drop, manager=CONTROLLER_MANAGER)

    def _owner_changed(self, uid: str) -> None:
        dependents = self.store.dependents_of(uid)
        found = self.store.by_uid(uid)
        if found is None:
            for key in dependents:
                self._collect(key)
            return
        owner_key, owner = found
        finalizers = owner["metadata"].get("finalizers") or []
        if not owner["metadata"].get("deletionTimestamp"):
            return
        if ORPHAN_FINALIZER in finalizers:
            for key in dependents:
                self._drop_owner_refs(key, {uid})
            self._release(owner_key, ORPHAN_FINALIZER)
        elif FOREGROUND_FINALIZER in finalizers:
            blocking = 0
            for key in dependents:
                self._collect(key)
                dependent = self.store.find(key)
                if dependent is not None and any(
                        r.get("uid") == uid and r.get("blockOwnerDeletion")
                        for r in dependent["metadata"].get("ownerReferences") or []):
                    blocking += 1
            if not blocking:
                self._release(owner_key, FOREGROUND_FINALIZER)

    def _release(self, key: ObjKey, finalizer: str) -> None:
        def release(obj: Json) -> Json:
            obj["metadata"]["finalizers"] = [f for f in obj["metadata"].get("finalizers") or []
                                             if f != finalizer]
            return obj

        self.store.mutate(key[0], key[1], key[2], key[3], release, manager=CONTROLLER_MANAGER)


__all__ = ["Lifecycle", "WriteContext"]
