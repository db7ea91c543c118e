"""What kubesim's own tests share: a small CRD, objects of it, raw requests, error decoding."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import pytest
import urllib3
from kubernetes import client

# The lanes of a differential test, and the settings `make test` shares with movekit's suite.
KUBESIM, REAL = "kubesim", "real"
# Set by `make test` when it found the assets: a real control plane that does not start fails.
REQUIRE_ENV = "MOVEKIT_REQUIRE_REAL_LANE"
CAPI_CRDS_ENV = "MOVEKIT_TEST_CAPI_CRDS"
SHARED_CAPI_CRDS = Path(__file__).resolve().parents[3] / "shared" / "capi-crds"

GROUP = "example.com"
WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer"},
                "color": {"type": "string", "enum": ["red", "blue"]},
                "paused": {"type": "boolean"},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    },
}


def widget_crd(scope: str = "Namespaced", status: bool = True, kind: str = "Widget",
               plural: str = "widgets", group: str = GROUP) -> dict[str, Any]:
    """A CRD serving v1 (storage) and v1beta1 of ``Widget``."""
    versions = []
    for name, storage in (("v1", True), ("v1beta1", False)):
        version: dict[str, Any] = {"name": name, "served": True, "storage": storage,
                                   "schema": {"openAPIV3Schema": WIDGET_SCHEMA}}
        if status:
            version["subresources"] = {"status": {}}
        versions.append(version)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {"group": group, "scope": scope,
                 "names": {"plural": plural, "singular": kind.lower(), "kind": kind,
                           "shortNames": [kind.lower()[:2]]},
                 "versions": versions},
    }


def widget(name: str, size: int = 1, namespace: str | None = "default",
           group: str = GROUP, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": meta,
            "spec": {"size": size, **spec}}


def wait_established(ext: client.ApiextensionsV1Api, name: str, timeout: float = 5.0) -> None:
    """Poll the CRD's Established condition, as any client of a real cluster must."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        crd = ext.read_custom_resource_definition(name)
        if any(c.type == "Established" and c.status == "True"
               for c in (crd.status.conditions or [])):
            return
        time.sleep(0.005)
    raise AssertionError(f"CRD {name} not Established after {timeout}s")


def error_of(call: Callable[[], Any]) -> tuple[int, dict[str, Any], Any]:
    """Run a client call that must fail; its HTTP status, Status body and headers."""
    with pytest.raises(client.ApiException) as caught:
        call()
    err = caught.value
    return err.status, json.loads(err.body), err.headers


class Server(Protocol):
    """What a request needs of a server: kubesim's ``KubeSim`` or envtest's ``ControlPlane``."""

    @property
    def url(self) -> str: ...

    @property
    def ca_pem(self) -> bytes: ...

    token: str


def raw(sim: Server, method: str, path: str, body: Any = None,
        headers: dict[str, str] | None = None, token: str | None = None,
        ) -> tuple[int, Any, dict[str, str]]:
    """One HTTP request to ``sim`` as any client sends it; status, decoded JSON body, headers.

    A ``bytes`` body is sent as it is (so a test can send what ``json.dumps`` would not)."""
    all_headers = {"Accept": "application/json"}
    if token != "":
        all_headers["Authorization"] = f"Bearer {token or sim.token}"
    encoded: bytes | None = None
    if body is not None:
        encoded = body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    tls = sim.url.startswith("https:")
    pool = urllib3.PoolManager(ca_cert_data=sim.ca_pem.decode()) if tls else _POOL
    response = pool.request(method, sim.url + path, body=encoded, headers=all_headers,
                            retries=False)
    text = response.data.decode()
    try:
        decoded = json.loads(text) if text else None
    except ValueError:
        decoded = text
    return response.status, decoded, dict(response.headers)


_POOL = urllib3.PoolManager()


def upstream_crds() -> Path | None:
    """The upstream Cluster API CRDs (``MOVEKIT_TEST_CAPI_CRDS``), when at hand."""
    configured = os.environ.get(CAPI_CRDS_ENV)
    path = Path(configured) if configured else SHARED_CAPI_CRDS
    return path if path.is_dir() else None
