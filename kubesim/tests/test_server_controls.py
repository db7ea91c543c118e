"""Test controls: latency, injected errors, fail-the-Nth-create, admission, a cutoff after
the n-th request, request log."""

from __future__ import annotations

import time
from typing import Any

import pytest
import urllib3
from kubernetes import client

from kubesim import Cutoff, KubeSim
from tests.support import GROUP, error_of, raw, widget


def test_latency_delays_every_resource_request(sim: KubeSim) -> None:
    sim.controls.latency_ms = 50
    started = time.monotonic()
    raw(sim, "GET", "/api/v1/namespaces")
    assert time.monotonic() - started >= 0.05


@pytest.mark.parametrize(("kind", "code", "reason"), [
    ("429", 429, "TooManyRequests"), ("500", 500, "InternalError"),
    ("503", 503, "ServiceUnavailable")])
def test_error_rate_answers_the_chosen_failure(sim: KubeSim, kind: str, code: int,
                                               reason: str) -> None:
    sim.controls.error_rate = 1.0
    sim.controls.error_kinds = (kind,)
    got, body, headers = raw(sim, "GET", "/api/v1/namespaces")
    assert (got, body["reason"], body["code"]) == (code, reason, code)
    if kind == "429":
        assert headers["Retry-After"] == "1"
        assert body["details"]["retryAfterSeconds"] == 1


def test_dropped_connections_get_no_answer(sim: KubeSim) -> None:
    sim.controls.error_rate = 1.0
    sim.controls.error_kinds = ("drop",)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        raw(sim, "GET", "/api/v1/namespaces")


def test_faults_spare_discovery_unless_asked(sim: KubeSim) -> None:
    sim.controls.error_rate = 1.0
    sim.controls.error_kinds = ("500",)
    assert raw(sim, "GET", "/apis")[0] == 200
    sim.controls.faults_include_discovery = True
    assert raw(sim, "GET", "/apis")[0] == 500


def test_the_nth_create_of_a_kind_fails(core: client.CoreV1Api, sim: KubeSim) -> None:
    sim.controls.fail_nth_create(kind="Secret", n=2, code=500)
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    core.create_namespaced_secret("default", {"metadata": {"name": "s1"}})
    code, body, _ = error_of(lambda: core.create_namespaced_secret(
        "default", {"metadata": {"name": "s2"}}))
    assert (code, body["reason"]) == (500, "InternalError")
    assert core.create_namespaced_secret("default", {"metadata": {"name": "s2"}})
    assert sim.store.get("", "secrets", "default", "s1") is not None


def test_admission_hook_denies_as_a_validating_webhook(
        sim: KubeSim, custom: client.CustomObjectsApi, widgets: str) -> None:
    def deny_big(verb: str, obj: dict[str, object]) -> str | None:
        spec = obj.get("spec")
        if verb == "create" and isinstance(spec, dict) and spec.get("size", 0) > 5:
            return "size must be at most 5"
        return None

    sim.controls.admission(deny_big)
    code, body, _ = error_of(lambda: custom.create_namespaced_custom_object(
        GROUP, "v1", "default", "widgets", widget("w", size=9)))
    assert (code, body["reason"]) == (403, "Forbidden")
    assert body["message"] == ('admission webhook "validation.kubesim.movekit.io" denied the '
                               "request: size must be at most 5")
    assert custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets",
                                                  widget("w", size=1))


def test_request_log_records_user_verb_and_code(sim: KubeSim, core: client.CoreV1Api) -> None:
    core.create_namespaced_secret("default", {"metadata": {"name": "s"}})
    core.read_namespaced_secret("s", "default")
    error_of(lambda: core.read_namespaced_secret("t", "default"))
    records = [(r.method, r.verb, r.code, r.user) for r in sim.request_log
               if r.path.startswith("/api/v1/namespaces/default/secrets")]
    assert records == [("POST", "create", 201, "kubernetes-admin"),
                       ("GET", "get", 200, "kubernetes-admin"),
                       ("GET", "get", 404, "kubernetes-admin")]
    assert sim.request_count(verb="create") == 1
    assert sim.request_count(write=True) == 1


def test_a_request_is_in_the_log_by_the_time_its_client_has_the_answer(
    sim: KubeSim, core: client.CoreV1Api
) -> None:
    # Tests count requests right after their client returns: the log must never lag behind.
    for n in range(1, 101):
        before = sim.request_count()
        if n % 3 == 0:
            error_of(lambda: core.read_namespaced_secret("absent", "default"))
        elif n % 25 == 1:
            core.list_namespaced_secret("default", watch=True, timeout_seconds=1,
                                        _preload_content=False).read()
        else:
            core.read_namespace("default")
        assert sim.request_count() == before + 1, f"request {n} was not logged yet"


def _secret(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}}


def test_a_cutoff_lets_n_requests_land_and_drops_every_later_one_unstored(sim: KubeSim) -> None:
    sim.controls.cutoff = cutoff = Cutoff(2)
    assert raw(sim, "POST", "/api/v1/namespaces/default/secrets", _secret("s1"))[0] == 201
    assert raw(sim, "GET", "/api/v1/namespaces/default/secrets/s1")[0] == 200
    assert not cutoff.reached
    for attempt in ("s2", "s2", "s3"):  # a client that retries meets the same silence
        with pytest.raises(urllib3.exceptions.ProtocolError):
            raw(sim, "POST", "/api/v1/namespaces/default/secrets", _secret(attempt))
    with pytest.raises(urllib3.exceptions.ProtocolError):
        raw(sim, "GET", "/version")  # discovery and non-resource paths too: the line is cut

    assert cutoff.reached and cutoff.admitted == 2
    assert sim.store.get("", "secrets", "default", "s1") is not None
    assert sim.store.get("", "secrets", "default", "s2") is None
    assert sim.store.get("", "secrets", "default", "s3") is None
    dropped = [r for r in sim.request_log if r.code == 0]
    assert len(dropped) == 4

    cutoff.release()
    assert raw(sim, "POST", "/api/v1/namespaces/default/secrets", _secret("s2"))[0] == 201
    assert cutoff.admitted == 2


def test_a_cutoff_of_zero_answers_nothing(sim: KubeSim) -> None:
    sim.controls.cutoff = cutoff = Cutoff(0)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        raw(sim, "GET", "/api/v1/namespaces")
    assert cutoff.reached and cutoff.admitted == 0
    sim.controls.reset()
    assert raw(sim, "GET", "/api/v1/namespaces")[0] == 200


def test_a_shared_cutoff_counts_both_servers_and_the_tests_own_events(sim: KubeSim) -> None:
    with KubeSim(tls=True) as other:
        cutoff = Cutoff(3)
        sim.controls.cutoff = other.controls.cutoff = cutoff
        assert raw(sim, "GET", "/api/v1/namespaces")[0] == 200
        assert cutoff.admit()  # e.g. a file the client writes between two requests
        assert raw(other, "GET", "/api/v1/namespaces")[0] == 200
        assert not cutoff.admit()  # the test's own event, past the cutoff: it does not happen
        for server in (sim, other):
            with pytest.raises(urllib3.exceptions.ProtocolError):
                raw(server, "GET", "/api/v1/namespaces")
        assert cutoff.admitted == 3


def test_a_cutoff_rejects_a_negative_count() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        Cutoff(-1)
