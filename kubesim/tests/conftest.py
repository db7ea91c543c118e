"""Fixtures for kubesim's own tests: a server, clients for it, a small CRD, kubectl; and
``kube``, which runs a test against both kubesim and a real control plane."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from kubesim import KubeSim
from kubesim.envtest import ASSETS_ENV, DEFAULT_CONTROLLERS, ControlPlane, assets_dir
from tests.support import (
    GROUP,
    KUBESIM,
    REAL,
    REQUIRE_ENV,
    Server,
    raw,
    wait_established,
    widget_crd,
)


@pytest.fixture
def sim() -> Iterator[KubeSim]:
    """A server over HTTPS, as real clusters are (and kubectl sends no token over plain HTTP)."""
    with KubeSim(tls=True) as server:
        yield server


@pytest.fixture
def source() -> Iterator[KubeSim]:
    """A plain-HTTP server, as the fixtures' tests seed it."""
    with KubeSim() as server:
        yield server


@pytest.fixture
def api(sim: KubeSim) -> Iterator[client.ApiClient]:
    with sim.api_client() as api_client:
        yield api_client


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def custom(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


@pytest.fixture
def ext(api: client.ApiClient) -> client.ApiextensionsV1Api:
    return client.ApiextensionsV1Api(api)


@pytest.fixture
def widgets(ext: client.ApiextensionsV1Api) -> str:
    """The Widget CRD, installed and Established; returns its name."""
    ext.create_custom_resource_definition(widget_crd())
    wait_established(ext, f"widgets.{GROUP}")
    return f"widgets.{GROUP}"


Kubectl = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def kubectl(sim: KubeSim, tmp_path: Path) -> Kubectl:
    """Run kubectl against ``sim`` through a kubeconfig; skips when kubectl is not installed."""
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.skip("kubectl is not installed")
    kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)}

    def run(*args: str, stdin: str | None = None, check: bool = True
            ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([binary, *args], input=stdin, capture_output=True, text=True,
                              env=env, timeout=30)
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {done.stderr}")
        return done

    return run


# --------------------------------------------------------------------------- both servers
#
# A differential test takes ``kube``: it runs once against a fresh kubesim and once against a
# real control plane (etcd, kube-apiserver, kube-controller-manager from KUBEBUILDER_ASSETS),
# with the same assertions, so kubesim cannot drift from the real server unnoticed. The real
# control plane is started once per session and shared: each test gets a namespace of its own,
# and cluster-scoped names come from ``kube.unique``.

NO_REAL_SERVER = (f"real control plane: set {ASSETS_ENV} to a directory holding etcd and "
                  "kube-apiserver (and kube-controller-manager)")
# A cluster's controller manager as kubesim models it by default: deletion finishes, and every
# namespace gets kube-root-ca.crt and the default ServiceAccount.
CLUSTER_CONTROLLERS = (*DEFAULT_CONTROLLERS, "serviceaccount")


def _start_plane(name: str, controllers: tuple[str, ...]) -> Iterator[ControlPlane]:
    assets = assets_dir()
    if assets is None:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{REQUIRE_ENV} is set but there is no real control plane: "
                        f"{NO_REAL_SERVER}")
        pytest.skip(NO_REAL_SERVER)
    with ControlPlane(assets, controllers=controllers, name=name) as plane:
        yield plane


@pytest.fixture(scope="session")
def real_plane() -> Iterator[ControlPlane]:
    """The session's real control plane, with the controllers a cluster runs."""
    yield from _start_plane("kubesim-differential", CLUSTER_CONTROLLERS)


@pytest.fixture(scope="session")
def bare_plane() -> Iterator[ControlPlane]:
    """A real kube-apiserver with no controller manager (started only for the tests that ask)."""
    yield from _start_plane("kubesim-bare", ())


@pytest.fixture(scope="session")
def _real_crds() -> set[str]:
    """The CRDs already installed on the session's real control plane."""
    return set()


@dataclass
class Kube:
    """One API server under test, as a client sees it: ``lane`` is ``kubesim`` or ``real``."""

    lane: str
    server: Server
    api: client.ApiClient
    ns: str
    sim: KubeSim | None  # kubesim's own handle, for what only kubesim offers
    installed: set[str]

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    @property
    def ext(self) -> client.ApiextensionsV1Api:
        return client.ApiextensionsV1Api(self.api)

    def raw(self, method: str, path: str, body: Any = None,
            headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
        return raw(self.server, method, path, body, headers)

    def unique(self, prefix: str) -> str:
        """A name no other test of the session uses (for cluster-scoped objects)."""
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    def install(self, crd: dict[str, Any]) -> str:
        """Install ``crd`` (once per server) and wait until it is Established; its name."""
        name = str(crd["metadata"]["name"])
        if name not in self.installed:
            self.ext.create_custom_resource_definition(crd)
            self.installed.add(name)
        wait_established(self.ext, name, timeout=30)
        return name

    def widgets(self) -> str:
        """The Widget CRD of support.py, installed; its name."""
        return self.install(widget_crd())

    def path(self, plural: str = "widgets", group: str = GROUP, version: str = "v1") -> str:
        """The collection URL of a namespaced custom resource in this test's namespace."""
        return f"/apis/{group}/{version}/namespaces/{self.ns}/{plural}"


@pytest.fixture(params=[KUBESIM, REAL])
def kube(request: pytest.FixtureRequest) -> Iterator[Kube]:
    """The same test against a fresh kubesim and against the session's real control plane."""
    ns = f"t-{uuid.uuid4().hex[:10]}"
    if request.param == KUBESIM:
        with KubeSim(tls=True) as sim, sim.api_client() as api:
            client.CoreV1Api(api).create_namespace({"metadata": {"name": ns}})
            yield Kube(KUBESIM, sim, api, ns, sim, set())
        return
    plane: ControlPlane = request.getfixturevalue("real_plane")
    installed: set[str] = request.getfixturevalue("_real_crds")
    with plane.api_client() as api:
        client.CoreV1Api(api).create_namespace({"metadata": {"name": ns}})
        yield Kube(REAL, plane, api, ns, None, installed)


def eventually(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Poll ``check`` until it holds (controllers act asynchronously on both servers)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
