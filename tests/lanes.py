"""The two lanes every scenario runs in: kubesim, and a real control plane.

The real lane is, in order of preference: the clusters named by
``MOVEKIT_TEST_SOURCE_KUBECONFIG`` / ``MOVEKIT_TEST_TARGET_KUBECONFIG``; or two control planes
started from ``KUBEBUILDER_ASSETS`` (etcd, kube-apiserver, kube-controller-manager) once per
test session. Without either it is skipped, with one reason. Real clusters are shared by every
test of the session, so tests use namespaces and cluster-scoped names of their own.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from kubesim import KubeSim, Rule
from kubesim.capi.install import (
    CLUSTERCTL_LABEL,
    PROVIDERS,
    ensure_namespace,
    install_crds,
    install_providers,
    install_upstream_crds,
)
from kubesim.capi.topologies import Seeded, Topology, seed
from kubesim.envtest import ASSETS_ENV, ControlPlane, assets_dir
from movekit.kube import KubeClient

SOURCE_ENV = "MOVEKIT_TEST_SOURCE_KUBECONFIG"
TARGET_ENV = "MOVEKIT_TEST_TARGET_KUBECONFIG"
CAPI_CRDS_ENV = "MOVEKIT_TEST_CAPI_CRDS"
# Set by `make test` when it found the assets: a real lane that does not start is a failure.
REQUIRE_ENV = "MOVEKIT_REQUIRE_REAL_LANE"
SHARED_CAPI_CRDS = Path(__file__).resolve().parents[2] / "shared" / "capi-crds"

KUBESIM, REAL = "kubesim", "real"
LANES = (KUBESIM, REAL)

NO_REAL_LANE = (f"real control plane: set {ASSETS_ENV} (etcd, kube-apiserver, "
                f"kube-controller-manager) or {SOURCE_ENV} and {TARGET_ENV}")


@dataclass
class RealCluster:
    """One real management cluster as the session holds it."""

    role: str
    kubeconfig: Path
    plane: ControlPlane | None  # None for a cluster given by kubeconfig

    @property
    def gc(self) -> bool:
        """Whether a garbage collector runs (unknown for a given cluster: assume a real one)."""
        return self.plane.gc if self.plane is not None else True

    def api_client(self) -> Any:
        return k8s_config.new_client_from_config(config_file=str(self.kubeconfig))

    def forget(self, namespace: str) -> None:
        """Delete what a test made outside its namespaces: cluster-scoped objects of the kinds
        movekit moves, and objects in provider namespaces, whose names carry ``namespace``.
        (Every global identity moves with every export, so one left behind would join the
        next test's bundles.) The test's own namespaces stay: they are unique to the run."""
        api = self.api_client()
        try:
            _delete_named_after(api, namespace)
        finally:
            api.close()


@dataclass
class Env:
    """One management cluster as a test sees it, in either lane."""

    kubeconfig: Path
    api: k8s_client.ApiClient
    sim: KubeSim | None
    real: RealCluster | None = None

    def client(self, **options: object) -> KubeClient:
        return KubeClient(self.kubeconfig, **options)  # type: ignore[arg-type]

    def require_sim(self, why: str = "needs kubesim's test controls") -> KubeSim:
        if self.sim is None:
            pytest.skip(why)
        return self.sim

    @property
    def gc(self) -> bool:
        """Whether a garbage collector finishes Orphan and Foreground deletes here."""
        return self.sim.gc if self.sim is not None else bool(self.real and self.real.gc)

    @property
    def context(self) -> str:
        """The kubeconfig's current context, for commands that name one."""
        document = yaml.safe_load(self.kubeconfig.read_text()) or {}
        return str(document["current-context"])

    def kubeconfig_for(self, user: str, rules: Iterable[Rule], path: Path, namespace: str
                       ) -> Path:
        """A kubeconfig whose credentials are granted exactly ``rules``, cluster-wide: a
        kubesim token, or on a real cluster a ServiceAccount token bound to a ClusterRole
        (real RBAC decides, not kubesim's emulation of it). Cluster-scoped RBAC objects are
        named after ``namespace`` and removed with the test's other cluster-scoped objects."""
        if self.sim is not None:
            token = f"token-of-{user}"
            self.sim.add_token(token, rules, user)
            return self.sim.write_kubeconfig(path, token=token)
        name = f"{namespace}-{user}"
        # The account lives beside the test's namespace, which must not exist in a target yet.
        home = f"{namespace}-rbac"
        ensure_namespace(self.api, home)
        core, rbac = k8s_client.CoreV1Api(self.api), k8s_client.RbacAuthorizationV1Api(self.api)
        core.create_namespaced_service_account(home, {"metadata": {"name": user}})
        rbac.create_cluster_role({"metadata": {"name": name}, "rules": [
            {"verbs": list(r.verbs), "apiGroups": list(r.groups), "resources": list(r.resources)}
            for r in _cluster_wide(rules)]})
        rbac.create_cluster_role_binding({
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": user, "namespace": home}]})
        token = core.create_namespaced_service_account_token(
            user, home, {"spec": {"expirationSeconds": 3600}}).status.token
        document = yaml.safe_load(self.kubeconfig.read_text())
        for entry in document["users"]:
            entry["user"] = {"token": token}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            yaml.safe_dump(document, out)
        return path

    def seed(self, topology: Topology, namespace: str) -> Seeded:
        """Seed ``topology`` into ``namespace``. A topology with dangling owners holds only
        without a garbage collector (it deletes their dependents): kubesim's is turned off,
        and a real cluster's lane is skipped."""
        if topology.dangling_owners and self.gc:
            if self.sim is None:
                pytest.skip(f"{topology.name}: objects with missing owners need a cluster "
                            "without a garbage collector (kubesim's gc=False)")
            self.sim.gc = False
        return seed(self.api, topology, namespace=namespace)


def _cluster_wide(rules: Iterable[Rule]) -> list[Rule]:
    found = list(rules)
    if any(rule.namespaces for rule in found):
        raise ValueError("only cluster-wide rules can be granted on a real cluster here")
    return found


def _delete_named_after(api: Any, namespace: str) -> None:
    extensions = k8s_client.ApiextensionsV1Api(api)
    custom = k8s_client.CustomObjectsApi(api)
    core = k8s_client.CoreV1Api(api)
    unfinalized = {"metadata": {"finalizers": None}}
    for crd in extensions.list_custom_resource_definition(label_selector=CLUSTERCTL_LABEL).items:
        if crd.spec.scope != "Cluster":
            continue
        version = next(v.name for v in crd.spec.versions if v.storage)
        where = (crd.spec.group, version, crd.spec.names.plural)
        for obj in custom.list_cluster_custom_object(*where)["items"]:
            name = obj["metadata"]["name"]
            if namespace in name:
                with contextlib.suppress(ApiException):
                    custom.patch_cluster_custom_object(*where, name, unfinalized)
                    custom.delete_cluster_custom_object(*where, name)
    rbac = k8s_client.RbacAuthorizationV1Api(api)
    for binding in rbac.list_cluster_role_binding().items:
        if binding.metadata.name.startswith(namespace):
            with contextlib.suppress(ApiException):
                rbac.delete_cluster_role_binding(binding.metadata.name)
    for role in rbac.list_cluster_role().items:
        if role.metadata.name.startswith(namespace):
            with contextlib.suppress(ApiException):
                rbac.delete_cluster_role(role.metadata.name)
    for provider in PROVIDERS:
        for secret in core.list_namespaced_secret(provider.namespace).items:
            if namespace in secret.metadata.name:
                with contextlib.suppress(ApiException):
                    core.delete_namespaced_secret(secret.metadata.name, provider.namespace)


def upstream_crds() -> Path | None:
    """The upstream Cluster API CRDs to install in the real lane, when at hand."""
    configured = os.environ.get(CAPI_CRDS_ENV)
    path = Path(configured) if configured else SHARED_CAPI_CRDS
    return path if path.is_dir() else None


def prepare(api: Any, *, upstream: bool = True) -> None:
    """What `clusterctl init` leaves: the CRDs and the inventory. With ``upstream``, the
    upstream Cluster API CRDs where at hand, and the project's fixtures for other kinds; else
    only the project's fixtures (kubesim's lane: made as strict as upstream where tests go)."""
    found = upstream_crds() if upstream else None
    replaced = install_upstream_crds(api, found) if found is not None else set()
    install_crds(api, exclude=replaced)
    install_providers(api)


@contextlib.contextmanager
def real_clusters(scratch: Path) -> Iterator[tuple[RealCluster, RealCluster] | None]:
    """The real lane's source and target, prepared; None when there is none."""
    given = os.environ.get(SOURCE_ENV), os.environ.get(TARGET_ENV)
    if given[0] and given[1]:
        pair = (RealCluster("source", Path(given[0]), None),
                RealCluster("target", Path(given[1]), None))
        _prepare_all(pair)
        yield pair
        return
    assets = assets_dir()
    if assets is None:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{REQUIRE_ENV} is set but there is no real lane: {NO_REAL_LANE}")
        yield None
        return
    planes = (ControlPlane(assets, name="source"), ControlPlane(assets, name="target"))
    try:
        with ThreadPoolExecutor(2) as pool:  # two start-ups at once: half the wait
            list(pool.map(ControlPlane.start, planes))
        pair = tuple(RealCluster(plane.name, plane.write_kubeconfig(
            scratch / f"{plane.name}.kubeconfig"), plane) for plane in planes)
        _prepare_all(pair)
        yield pair[0], pair[1]
    finally:
        for plane in planes:
            plane.stop()


def _prepare_all(pair: tuple[RealCluster, ...]) -> None:
    def prepare_one(cluster: RealCluster) -> None:
        api = cluster.api_client()
        try:
            prepare(api)
        finally:
            api.close()

    with ThreadPoolExecutor(len(pair)) as pool:
        list(pool.map(prepare_one, pair))


def settled_request_count(sim: KubeSim, verb: str | None = None) -> int:
    """Requests of ``verb`` kubesim logged, once the count holds still for 0.2 s: kubesim logs
    a request before answering it, but one still in flight when its client died lands later."""
    count = sim.request_count(verb=verb)
    while True:
        time.sleep(0.2)
        now = sim.request_count(verb=verb)
        if now == count:
            return count
        count = now
