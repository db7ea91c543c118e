"""Which types and objects to read from a source cluster, per the Cluster API move contract.

Types: every CRD labelled ``clusterctl.cluster.x-k8s.io`` (read at its storage version) plus
core Secrets and ConfigMaps. Objects: those types in the selected namespace (or everywhere),
plus what the selection reaches in other namespaces — a ClusterClass referenced across
namespaces (and the templates beside it) and the Secrets that global identities own in
provider namespaces. Every read is a paged list, so requests grow with kinds, not objects.

What was read is kept in two forms, so that a thousand clusters fit in a few hundred MiB: a
*view* of each object, holding what the graph and the pre-checks look at, and the whole object
packed (:mod:`movekit.packed`), which only the bundle writer unpacks, one object at a time.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from movekit.contract import (
    CLUSTER_API,
    CLUSTERCTL_LABEL,
    MOVE_HIERARCHY_LABEL,
    MOVE_LABEL,
    PROVIDER,
    PROVIDER_API_VERSION,
    SECRET,
    Contract,
    Projection,
    first_set,
)
from movekit.errors import PrecheckFailed
from movekit.kube import ApiResource, KubeClient
from movekit.model import KindInfo, NamespaceEntry, Provider, Selection
from movekit.packed import pack, unpack
from movekit.refs import GroupKind, ObjectRef

CRD_API_VERSION = "apiextensions.k8s.io/v1"

# Lists run concurrently: at 20 ms a request, 30 kinds one after another cost more than the reads.
# Each list in flight holds a decoded page (500 objects, ~8 MiB): 4 keep that small and the
# 20 ms case as fast as 8 did (measured with bench/).
_LIST_WORKERS = 4


def view(obj: Mapping[str, Any], contract: Contract = CLUSTER_API) -> dict[str, Any]:
    """What the graph and the pre-checks read of ``obj``: apiVersion, kind, and the metadata
    and fields that the rules of ``contract`` read (its derived projections).

    Labels and annotations are kept by key, since users and controllers put kilobytes in them
    (kubeadm's configuration annotation on every Machine).

    Strings that repeat across objects (apiVersion, kind, namespace, owner kinds) are interned:
    a thousand clusters then hold one copy of each rather than tens of thousands.
    """
    found: dict[str, Any] = {}
    for key in ("apiVersion", "kind"):
        if key in obj:
            found[key] = _interned(obj[key])
    if "metadata" in obj:
        found["metadata"] = _project(obj["metadata"], contract.metadata_projection)
        meta = found["metadata"]
        if isinstance(meta, dict):
            if "namespace" in meta:
                meta["namespace"] = _interned(meta["namespace"])
            for owner in meta.get("ownerReferences") or ():
                if isinstance(owner, dict):
                    for key in ("apiVersion", "kind"):
                        if key in owner:
                            owner[key] = _interned(owner[key])
    group = str(obj.get("apiVersion") or "").rpartition("/")[0]
    more = contract.projections.get((group, str(obj.get("kind"))))
    if more is not None:
        found.update(_project(obj, more))
    return found


def _interned(value: Any) -> Any:
    return sys.intern(value) if isinstance(value, str) else value


def _project(value: Any, keep: Projection) -> Any:
    """``value`` restricted to ``keep``; a value of another type than expected is kept as is,
    so that whoever reads the view judges it exactly as it would judge the whole object."""
    if not isinstance(value, dict):
        return value
    found: dict[str, Any] = {}
    for key, inner in keep.items():
        if key not in value:
            continue
        item = value[key]
        if isinstance(inner, list):
            found[key] = ([_project(element, inner[0]) for element in item]
                          if isinstance(item, list) else item)
        elif isinstance(inner, Mapping):
            found[key] = _project(item, inner)
        else:
            found[key] = item
    return found


@dataclass
class Discovery:
    """Everything the exporter read from the source, before any decision is made.

    ``views`` hold what decisions are made from (see :func:`view`); :meth:`full` unpacks an
    object as it was read.
    """

    server: str
    kubernetes_version: str
    kinds: dict[GroupKind, KindInfo]
    resources: dict[GroupKind, ApiResource]
    crds: dict[GroupKind, dict[str, Any]]
    providers: list[Provider]
    views: dict[ObjectRef, dict[str, Any]] = field(default_factory=dict, repr=False)
    packed: dict[ObjectRef, bytes] = field(default_factory=dict, repr=False)
    whole: bool = True  # False: only views were kept, full() is unavailable

    @property
    def objects(self) -> list[dict[str, Any]]:
        """The view of every object read."""
        return list(self.views.values())

    def view(self, ref: ObjectRef) -> dict[str, Any]:
        return self.views[ref]

    def full(self, ref: ObjectRef) -> dict[str, Any]:
        """The whole object as read (a fresh copy the caller may change)."""
        if not self.whole:
            raise ValueError("this read kept views only")
        return unpack(self.packed[ref])

    def forget_views(self) -> None:
        """Drop the views once decisions are made; whole objects stay."""
        self.views = {}

    def forget_objects(self) -> None:
        """Drop what was read (a newer read replaces it); kinds and providers stay."""
        self.views = {}
        self.packed = {}


def namespace_exists(client: KubeClient, name: str) -> bool:
    res = client.resource("v1", "Namespace")
    assert res is not None, "every API server serves v1 Namespace"
    return client.get(res, "", name) is not None


def read_namespaces(client: KubeClient, names: Iterable[str]) -> list[NamespaceEntry]:
    """Name, labels and annotations of each namespace, so the target can recreate it alike."""
    res = client.resource("v1", "Namespace")
    assert res is not None, "every API server serves v1 Namespace"
    found = []
    for name in sorted(set(names)):
        obj = client.get(res, "", name) or {}
        meta = obj.get("metadata") or {}
        found.append(NamespaceEntry(name, dict(meta.get("labels") or {}),
                                    dict(meta.get("annotations") or {})))
    return found


def discover_kinds(client: KubeClient, contract: Contract = CLUSTER_API) -> Discovery:
    """Read the served kinds, the labelled CRDs and the provider inventory."""
    version = client.version()
    crd_res = _served(client, CRD_API_VERSION, "CustomResourceDefinition")
    kinds: dict[GroupKind, KindInfo] = {}
    resources: dict[GroupKind, ApiResource] = {}
    crds: dict[GroupKind, dict[str, Any]] = {}
    for crd in client.list(crd_res, label_selector=CLUSTERCTL_LABEL):
        info = kind_info(crd)
        res = client.resource(f"{info.group}/{info.version}", info.kind)
        if res is None:
            raise PrecheckFailed(
                f"CRD {crd['metadata']['name']}: storage version {info.version} is not served "
                "by the API server (is the CRD established?)"
            )
        gk = GroupKind(info.group, info.kind)
        kinds[gk], resources[gk], crds[gk] = info, res, crd
    if contract.cluster not in kinds:
        raise PrecheckFailed(
            f"{client.server}: no Cluster API CRDs found (none labelled {CLUSTERCTL_LABEL}); "
            "is this a Cluster API management cluster?"
        )
    for gk in contract.always_moved:
        res = _served(client, "v1", gk.kind)
        kinds[gk] = KindInfo(group="", version="v1", kind=gk.kind, plural=res.plural,
                             namespaced=True, move=False, move_hierarchy=False, crd_name=None)
        resources[gk] = res
    return Discovery(
        server=client.server,
        kubernetes_version=str(version.get("gitVersion", "")),
        kinds=kinds,
        resources=resources,
        crds=crds,
        providers=_providers(client),
    )


def discover(client: KubeClient, selection: Selection, *, whole: bool = True,
             contract: Contract = CLUSTER_API, known: Discovery | None = None,
             counted: Callable[[str], None] | None = None) -> Discovery:
    """Read every object the selection may move, in as few paged lists as the kinds allow.

    With ``whole=False`` only views are kept: enough to decide, not to write a bundle. With
    ``known``, its kinds, CRDs and providers are reused and only the objects are read again.
    ``counted`` hears how many objects are read so far, as pages arrive.
    """
    found = (discover_kinds(client, contract) if known is None
             else replace(known, views={}, packed={}))
    found.whole = whole
    packed: dict[ObjectRef, bytes] | None = found.packed if whole else None
    views = found.views
    _list_all(client, found.resources.values(), [selection.namespace], views, packed, contract,
              counted)
    if selection.namespace is not None:
        extra = sorted(_referenced_namespaces(views.values(), selection.namespace, contract))
        _list_all(client, (r for r in found.resources.values() if r.namespaced), list(extra),
                  views, packed, contract, counted)
        provider_ns = sorted({p.namespace for p in found.providers} - {selection.namespace}
                             - set(extra))
        secrets = found.resources[SECRET]
        _list_all(client, [secrets], list(provider_ns), views, packed, contract, counted)
    return found


def kind_info(crd: Mapping[str, Any]) -> KindInfo:
    """The facts about a CRD's kind that decide how its objects move."""
    spec = crd["spec"]
    labels = crd.get("metadata", {}).get("labels") or {}
    storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
    return KindInfo(
        group=spec["group"],
        version=storage,
        kind=spec["names"]["kind"],
        plural=spec["names"]["plural"],
        namespaced=spec.get("scope") == "Namespaced",
        move=MOVE_LABEL in labels,
        move_hierarchy=MOVE_HIERARCHY_LABEL in labels,
        crd_name=crd["metadata"]["name"],
    )


def _served(client: KubeClient, api_version: str, kind: str) -> ApiResource:
    """The resource serving ``kind``; a source without it fails the pre-checks (exit 4)."""
    res = client.resource(api_version, kind)
    if res is None:
        raise PrecheckFailed(f"the API server does not serve {kind} at {api_version}")
    return res


def _providers(client: KubeClient) -> list[Provider]:
    res = client.resource(PROVIDER_API_VERSION, PROVIDER.kind)
    if res is None:
        return []
    providers = [provider_of(p) for p in client.list(res)]
    return sorted(providers, key=lambda p: (p.type, p.name, p.namespace))


def provider_of(obj: Mapping[str, Any]) -> Provider:
    """The inventory entry a clusterctl ``Provider`` object records."""
    return Provider(
        name=str(obj.get("providerName") or obj["metadata"]["name"]),
        namespace=str(obj["metadata"].get("namespace", "")),
        type=str(obj.get("type", "")),
        version=str(obj.get("version", "")),
    )


def _list_all(
    client: KubeClient, resources: Iterable[ApiResource], namespaces: list[str | None],
    views: dict[ObjectRef, dict[str, Any]], packed: dict[ObjectRef, bytes] | None,
    contract: Contract, counted: Callable[[str], None] | None = None,
) -> None:
    """Read every object of ``resources`` in ``namespaces``: its view goes to ``views``, the whole
    object to ``packed`` (unless it is None)."""
    jobs = [
        (res, ns if res.namespaced else None)
        for res in resources
        for ns in (namespaces if res.namespaced else [None])
    ]
    if not jobs:
        return
    seen: set[tuple[str, str, str | None]] = set()
    unique = []
    for res, ns in jobs:
        key = (res.group, res.kind, ns)
        if key not in seen:
            seen.add(key)
            unique.append((res, ns))

    def read(job: tuple[ApiResource, str | None]) -> list[tuple[ObjectRef, bytes, dict[str, Any]]]:
        # Each object is packed as its page arrives, so only a page is ever held whole.
        return [(ObjectRef.of(obj), pack(obj) if packed is not None else b"",
                 view(obj, contract))
                for obj in client.iter_list(job[0], job[1])]

    for page in client.map(read, unique, limit=_LIST_WORKERS):
        for ref, blob, looked_at in page:
            if packed is not None:
                packed[ref] = blob
            views[ref] = looked_at
        if counted is not None:
            counted(f"{len(views)} objects read")


def _referenced_namespaces(objects: Iterable[Mapping[str, Any]], namespace: str,
                           contract: Contract = CLUSTER_API) -> set[str]:
    """Namespaces outside the selection that hold a ClusterClass a selected Cluster uses."""
    rule = contract.topology_class
    found: set[str] = set()
    for obj in objects:
        if (obj.get("kind"), obj.get("apiVersion", "").split("/")[0]) != (
            rule.kind.kind, rule.kind.group
        ):
            continue
        other = first_set(obj, rule.namespace)
        if other and other != namespace:
            found.add(str(other))
    return found
