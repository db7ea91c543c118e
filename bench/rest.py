"""Plain REST requests through the official ``kubernetes`` client, the way kubectl makes them:
a generic path and JSON, no typed models (whose deserialization would only add client work)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from movekit.model import KindInfo

_JSON = {"Accept": "application/json", "Content-Type": "application/json"}


def api_client(kubeconfig: Path, connections: int = 1) -> Any:
    """A ``kubernetes.client.ApiClient`` for the kubeconfig, pooling ``connections``."""
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig),  # type: ignore[no-untyped-call]
                            client_configuration=configuration)
    # Set before the client is made: its connection pool is sized once, from the configuration.
    configuration.connection_pool_maxsize = connections
    return client.ApiClient(configuration)


def collection_path(kind: KindInfo, namespace: str) -> str:
    """The URL path of ``kind``'s objects in ``namespace``."""
    prefix = f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"
    return f"{prefix}/namespaces/{namespace}/{kind.plural}"


def request(api: Any, method: str, path: str, query: list[tuple[str, Any]] | None = None,
            body: Any = None) -> dict[str, Any]:
    """One request; the JSON answer, or :class:`ApiException` for a status that is not 2xx."""
    method, url, headers, payload, _files = api.param_serialize(
        method=method, resource_path=path, query_params=query or [], header_params=dict(_JSON),
        body=body, auth_settings=["BearerToken"])
    response = api.call_api(method, url, header_params=headers, body=payload)
    data = response.read()
    if not 200 <= response.status <= 299:
        raise ApiException(status=response.status, reason=response.reason, http_resp=response)
    found: dict[str, Any] = json.loads(data)
    return found
