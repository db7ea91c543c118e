"""Bearer-token authentication (401) and rule-based authorization (403)."""

from __future__ import annotations

from kubernetes import client

from kubesim import KubeSim, Rule
from tests.support import error_of, raw


def test_request_without_token_is_401_unauthorized(sim: KubeSim) -> None:
    code, body, _ = raw(sim, "GET", "/api/v1/namespaces", token="")
    assert code == 401
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


def test_unknown_token_is_401(sim: KubeSim) -> None:
    code, _, _ = raw(sim, "GET", "/api", token="wrong")
    assert code == 401


def test_denied_list_is_403_with_the_rbac_message(sim: KubeSim) -> None:
    sim.add_token("reader", [Rule(verbs=("get", "list"), resources=("configmaps",))],
                  user="alice")
    with sim.api_client(token="reader") as api:
        core = client.CoreV1Api(api)
        assert core.list_namespaced_config_map("default").items is not None
        code, body, _ = error_of(lambda: core.list_namespaced_secret("prod"))
    assert (code, body["reason"]) == (403, "Forbidden")
    assert body["message"] == ('secrets is forbidden: User "alice" cannot list resource '
                               '"secrets" in API group "" in the namespace "prod"')
    assert body["details"] == {"kind": "secrets"}


def test_denied_get_names_the_object_and_cluster_scope(sim: KubeSim) -> None:
    sim.add_token("nobody", [], user="bob")
    code, body, _ = raw(sim, "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x",
                        token="nobody")
    assert code == 403
    assert body["message"] == (
        'customresourcedefinitions.apiextensions.k8s.io "x" is forbidden: User "bob" cannot get '
        'resource "customresourcedefinitions" in API group "apiextensions.k8s.io" at the cluster '
        "scope")


def test_rules_scope_to_namespaces_and_subresources(sim: KubeSim) -> None:
    sim.add_token("t", [Rule(verbs=("*",), resources=("secrets",), namespaces=("team",))],
                  user="carol")
    assert raw(sim, "GET", "/api/v1/namespaces/team/secrets", token="t")[0] == 200
    assert raw(sim, "GET", "/api/v1/namespaces/other/secrets", token="t")[0] == 403
    assert raw(sim, "GET", "/api/v1/namespaces/team/configmaps", token="t")[0] == 403


def test_restricted_tokens_may_still_discover(sim: KubeSim) -> None:
    sim.add_token("none", [], user="dave")
    assert raw(sim, "GET", "/apis", token="none")[0] == 200
    assert raw(sim, "GET", "/api/v1", token="none")[0] == 200


def test_anonymous_requests_see_only_public_paths_when_allowed() -> None:
    with KubeSim(anonymous_auth=True) as sim:
        assert raw(sim, "GET", "/version", token="")[0] == 200
        code, body, _ = raw(sim, "GET", "/api", token="")
    assert code == 403
    assert body["message"] == 'forbidden: User "system:anonymous" cannot get path "/api"'
