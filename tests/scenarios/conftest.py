"""Two management clusters per test: kubesim by default, real ones when the environment says so.

With ``MOVEKIT_TEST_SOURCE_KUBECONFIG`` and ``MOVEKIT_TEST_TARGET_KUBECONFIG`` set, every
scenario runs against those clusters instead, in a namespace of its own; tests that need
kubesim's fault injection or in-process controllers ask for ``Env.sim`` and are skipped there.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from movekit.fixtures.install import install_crds, install_providers
from movekit.kube import KubeClient
from movekit.kubesim import KubeSim

SOURCE_ENV = "MOVEKIT_TEST_SOURCE_KUBECONFIG"
TARGET_ENV = "MOVEKIT_TEST_TARGET_KUBECONFIG"


@dataclass
class Env:
    """One management cluster as a test sees it."""

    kubeconfig: Path
    api: k8s_client.ApiClient
    sim: KubeSim | None

    def client(self, **options: object) -> KubeClient:
        return KubeClient(self.kubeconfig, **options)  # type: ignore[arg-type]

    def require_sim(self) -> KubeSim:
        if self.sim is None:
            pytest.skip("needs kubesim's test controls")
        return self.sim


def _env(tmp_path: Path, role: str, variable: str) -> Iterator[Env]:
    real = os.environ.get(variable)
    if real:
        api = k8s_config.new_client_from_config(config_file=real)
        install_crds(api)
        install_providers(api)
        try:
            yield Env(Path(real), api, None)
        finally:
            api.close()
        return
    with KubeSim() as sim:
        kubeconfig = tmp_path / f"{role}.kubeconfig"
        sim.write_kubeconfig(kubeconfig)
        api = sim.api_client()
        install_crds(api)
        install_providers(api)
        try:
            yield Env(kubeconfig, api, sim)
        finally:
            api.close()


@pytest.fixture
def src(tmp_path: Path) -> Iterator[Env]:
    yield from _env(tmp_path, "source", SOURCE_ENV)


@pytest.fixture
def dst(tmp_path: Path) -> Iterator[Env]:
    yield from _env(tmp_path, "target", TARGET_ENV)


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> str:
    """A namespace of this test's own, stable across runs, so real clusters can be reused."""
    digest = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:10]
    return f"mk-{digest}"
