"""Fixtures for kubesim's own tests: a server, clients for it, a small CRD, kubectl."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes import client

from movekit.kubesim import KubeSim
from tests.kubesim.support import GROUP, wait_established, widget_crd


@pytest.fixture
def sim() -> Iterator[KubeSim]:
    """A server over HTTPS, as real clusters are (and kubectl sends no token over plain HTTP)."""
    with KubeSim(tls=True) as server:
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
