"""Create a topology on a cluster, the way Cluster API's controllers would have left it.

Objects are created owners first, so each ownerReference carries the uid the server
assigned to its owner; status goes through the /status subresource afterwards, as
controllers report it. Objects of one depth are created concurrently.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from kubernetes import client

from kubesim.refs import ObjectRef, split_api_version

from .install import (
    KindFacts,
    ensure_namespace,
    install_crd_documents,
    json_body,
    kinds_table,
    typed,
)
from .model import CLUSTER_SCOPED, ObjectSpec, Owner, Topology, resolve_all

MERGE_PATCH = "application/merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

JSONObject = dict[str, Any]


class Store(Protocol):
    """In-process access to a test API server (kubesim's `sim.store`): no HTTP."""

    def create(self, obj: JSONObject, manager: str = ...) -> JSONObject: ...

    def mutate(self, group: str, plural: str, namespace: str, name: str,
               fn: Callable[[JSONObject], JSONObject | None], manager: str = ...,
               subresource: str = ...) -> JSONObject | None: ...


@dataclass(frozen=True)
class Seeded:
    """A topology as the server holds it after `seed`."""

    topology: Topology
    namespace: str
    objects: Mapping[str, JSONObject]  # key -> the object as the server last returned it

    def uid(self, key: str) -> str:
        return str(self.objects[key]["metadata"]["uid"])

    def ref(self, key: str) -> ObjectRef:
        return ObjectRef.of(self.objects[key])


class _Writer(Protocol):
    def create(self, obj: JSONObject, facts: KindFacts, spec: ObjectSpec) -> JSONObject: ...

    def write_status(self, obj: JSONObject, facts: KindFacts, manager: str) -> JSONObject: ...

    def set_owners(self, obj: JSONObject, facts: KindFacts, owners: list[JSONObject]
                   ) -> JSONObject: ...


class _ClientWriter:
    """Writes through the official client over HTTP.

    Responses are read raw: the generated client drops the body of the 201 an apply that
    creates returns, and parsing JSON ourselves is cheaper than building models.
    """

    def __init__(self, api_client: client.ApiClient) -> None:
        self.core = client.CoreV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)

    def create(self, obj: JSONObject, facts: KindFacts, spec: ObjectSpec) -> JSONObject:
        namespace = obj["metadata"].get("namespace", "")
        name, manager = obj["metadata"]["name"], spec.manager
        group, version, plural = facts.group, facts.version, facts.plural
        if group == "" and facts.kind == "Secret":
            return json_body(self.core.create_namespaced_secret(
                namespace, typed(client.V1Secret, obj), field_manager=manager,
                _preload_content=False))
        if group == "" and facts.kind == "ConfigMap":
            return json_body(self.core.create_namespaced_config_map(
                namespace, typed(client.V1ConfigMap, obj), field_manager=manager,
                _preload_content=False))
        if spec.apply and facts.namespaced:
            return json_body(self.custom.patch_namespaced_custom_object(
                group, version, namespace, plural, name, obj, field_manager=manager,
                force=True, _content_type=APPLY_PATCH, _preload_content=False))
        if spec.apply:
            return json_body(self.custom.patch_cluster_custom_object(
                group, version, plural, name, obj, field_manager=manager, force=True,
                _content_type=APPLY_PATCH, _preload_content=False))
        if facts.namespaced:
            return json_body(self.custom.create_namespaced_custom_object(
                group, version, namespace, plural, obj, field_manager=manager,
                _preload_content=False))
        return json_body(self.custom.create_cluster_custom_object(
            group, version, plural, obj, field_manager=manager, _preload_content=False))

    def write_status(self, obj: JSONObject, facts: KindFacts, manager: str) -> JSONObject:
        namespace, name = obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
        group, version, plural = facts.group, facts.version, facts.plural
        if facts.namespaced:
            return json_body(self.custom.replace_namespaced_custom_object_status(
                group, version, namespace, plural, name, obj, field_manager=manager,
                _preload_content=False))
        return json_body(self.custom.replace_cluster_custom_object_status(
            group, version, plural, name, obj, field_manager=manager, _preload_content=False))

    def set_owners(self, obj: JSONObject, facts: KindFacts, owners: list[JSONObject]
                   ) -> JSONObject:
        namespace, name = obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
        group, version, plural = facts.group, facts.version, facts.plural
        patch = {"metadata": {"ownerReferences": owners}}
        if group == "" and facts.kind == "Secret":
            return json_body(self.core.patch_namespaced_secret(
                name, namespace, patch, _content_type=MERGE_PATCH, _preload_content=False))
        if group == "" and facts.kind == "ConfigMap":
            return json_body(self.core.patch_namespaced_config_map(
                name, namespace, patch, _content_type=MERGE_PATCH, _preload_content=False))
        if facts.namespaced:
            return json_body(self.custom.patch_namespaced_custom_object(
                group, version, namespace, plural, name, patch, _content_type=MERGE_PATCH,
                _preload_content=False))
        return json_body(self.custom.patch_cluster_custom_object(
            group, version, plural, name, patch, _content_type=MERGE_PATCH,
            _preload_content=False))


class _StoreWriter:
    """Writes straight into an in-process store, for seeding large fleets quickly."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, obj: JSONObject, facts: KindFacts, spec: ObjectSpec) -> JSONObject:
        # The store has no apply path: objects the topology controller would apply are
        # created, so their managedFields entry says Update rather than Apply.
        return self.store.create(obj, manager=spec.manager)

    def write_status(self, obj: JSONObject, facts: KindFacts, manager: str) -> JSONObject:
        status = obj["status"]

        def set_status(live: JSONObject) -> JSONObject:
            live["status"] = copy.deepcopy(status)
            return live

        meta = obj["metadata"]
        written = self.store.mutate(facts.group, facts.plural, meta.get("namespace", ""),
                                    meta["name"], set_status, manager=manager,
                                    subresource="status")
        return written if written is not None else obj

    def set_owners(self, obj: JSONObject, facts: KindFacts, owners: list[JSONObject]
                   ) -> JSONObject:
        def set_refs(live: JSONObject) -> JSONObject:
            live["metadata"]["ownerReferences"] = owners
            return live

        meta = obj["metadata"]
        written = self.store.mutate(facts.group, facts.plural, meta.get("namespace", ""),
                                    meta["name"], set_refs, manager="manager")
        return written if written is not None else obj


def creation_levels(objects: Sequence[ObjectSpec]) -> list[list[ObjectSpec]]:
    """Objects grouped so that every owner sits in an earlier group than its dependents.

    Objects on an ownership cycle cannot be ordered; they land together in the last
    group and get their ownerReferences once all of them exist.
    """
    existing = {spec.key for spec in objects if spec.exists}
    remaining = [spec for spec in objects if spec.exists]
    placed: set[str] = set()
    levels: list[list[ObjectSpec]] = []
    while remaining:
        level = [spec for spec in remaining
                 if all(o.key in placed or o.key not in existing for o in spec.owners)]
        if not level:
            level = remaining
        levels.append(level)
        placed.update(spec.key for spec in level)
        remaining = [spec for spec in remaining if spec.key not in placed]
    return levels


def seed(api_client: client.ApiClient | None, topology: Topology, namespace: str = "default",
         *, workers: int = 8, store: Store | None = None) -> Seeded:
    """Create `topology` with its main namespace bound to `namespace`; return what was created.

    Namespaces and the topology's own CRDs are created through `api_client`. Objects go
    through `api_client` too, unless an in-process `store` is given (much faster for
    fleets). `api_client` may be None only with a store and a topology without CRDs.
    """
    if api_client is None and (store is None or topology.crds):
        raise ValueError("seeding needs an api_client unless a store does all the writing")
    if api_client is not None:
        for ns in topology.namespaces(namespace):
            ensure_namespace(api_client, ns)
        if topology.crds:
            install_crd_documents(api_client, topology.crds)
    elif store is not None:
        for ns in topology.namespaces(namespace):
            _store_namespace(store, ns)
    writer: _Writer = _StoreWriter(store) if store is not None else _ClientWriter(
        _require(api_client))
    kinds = kinds_table(topology.crds)
    by_key = topology.by_key()
    live: dict[str, JSONObject] = {}
    deferred: list[ObjectSpec] = []

    def create_one(spec: ObjectSpec) -> tuple[str, JSONObject, bool]:
        facts = kinds[split_api_version(spec.api_version)[0], spec.kind]
        owners, complete = _owner_references(spec, by_key, live, namespace)
        obj = _manifest(spec, namespace, owners)
        created = writer.create(obj, facts, spec)
        if spec.status is not None and facts.status_subresource:
            created["status"] = copy.deepcopy(dict(spec.status))
            created = writer.write_status(created, facts, spec.manager)
        return spec.key, created, complete

    # An in-process store serialises writes under one lock: threads would only add overhead.
    concurrent = store is None and workers > 1
    with ThreadPoolExecutor(max_workers=workers if concurrent else 1) as pool:
        for level in creation_levels(topology.objects):
            results = pool.map(create_one, level) if concurrent else map(create_one, level)
            for key, created, complete in results:
                live[key] = created
                if not complete:
                    deferred.append(by_key[key])

    for spec in deferred:
        facts = kinds[split_api_version(spec.api_version)[0], spec.kind]
        owners, _ = _owner_references(spec, by_key, live, namespace)
        live[spec.key] = writer.set_owners(live[spec.key], facts, owners)
    return Seeded(topology, namespace, live)


def _require(api_client: client.ApiClient | None) -> client.ApiClient:
    if api_client is None:
        raise ValueError("an api_client is required")
    return api_client


def _store_namespace(store: Store, name: str) -> None:
    try:
        store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                     manager="seed")
    except Exception as err:  # the store raises its own error type, with the HTTP code
        if getattr(err, "code", None) != 409:
            raise


def _manifest(spec: ObjectSpec, namespace: str, owners: list[JSONObject]) -> JSONObject:
    obj: JSONObject = resolve_all(spec.manifest, namespace)
    meta = obj["metadata"]
    if spec.namespace != CLUSTER_SCOPED:
        meta["namespace"] = spec.resolved_namespace(namespace)
    if owners:
        meta["ownerReferences"] = owners
    return obj


def _owner_references(spec: ObjectSpec, by_key: Mapping[str, ObjectSpec],
                      live: Mapping[str, JSONObject], main: str
                      ) -> tuple[list[JSONObject], bool]:
    """ownerReferences of `spec` so far, and whether every owner could be filled in."""
    refs: list[JSONObject] = []
    complete = True
    for owner in spec.owners:
        target = by_key[owner.key]
        if target.exists and owner.key not in live:
            complete = False
            continue
        refs.append(_owner_reference(owner, target, live, main))
    return refs, complete


def _owner_reference(owner: Owner, target: ObjectSpec, live: Mapping[str, JSONObject],
                     main: str) -> JSONObject:
    if target.exists and not owner.stale_uid:
        uid = str(live[owner.key]["metadata"]["uid"])
    else:
        # An owner that is gone, or was recreated: no live object has this uid.
        uid = str(uuid.uuid4())
    reference: JSONObject = {"apiVersion": owner.api_version or target.api_version,
                             "kind": target.kind, "name": target.resolved_name(main), "uid": uid}
    if owner.controller is not None:
        reference["controller"] = owner.controller
    if owner.block_owner_deletion is not None:
        reference["blockOwnerDeletion"] = owner.block_owner_deletion
    return reference

