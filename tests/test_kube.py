"""The one door to the API server, as a user of the command line sees it."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesim import KubeSim, Rule
from kubesim.capi.topologies import TOPOLOGIES, seed
from movekit.errors import ClusterUnreachable
from movekit.kube import (
    AlreadyExists,
    Conflict,
    Forbidden,
    Invalid,
    KindNotServed,
    KubeApiError,
    KubeClient,
    NotFound,
    RetryPolicy,
    Unauthorized,
    Unavailable,
)
from movekit.refs import GroupKind
from tests.lanes import prepare, settled_request_count
from tests.scenarios.commands import movekit


def test_a_kubeconfig_that_skips_tls_verification_is_warned_about_once(tmp_path: Path) -> None:
    with KubeSim(tls=True) as sim:
        with sim.api_client() as api:
            prepare(api, upstream=False)
            seed(api, TOPOLOGIES["cluster-alone"], namespace="prod")
        config = sim.kubeconfig()
        cluster = config["clusters"][0]["cluster"]
        del cluster["certificate-authority-data"]
        cluster["insecure-skip-tls-verify"] = True
        kubeconfig = tmp_path / "insecure.kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(config))

        completed = movekit("export", "--kubeconfig", kubeconfig, "-n", "prod", "--dry-run",
                            "-v")

        requests = sim.request_count()
    assert completed.returncode == 0, completed.stderr
    assert requests > 20  # discovery and lists: a warning per request would be as many lines
    warnings = [line for line in completed.stderr.splitlines() if "insecure" in line.lower()]
    assert len(warnings) == 1, completed.stderr
    assert "WARNING" in warnings[0] and sim.url in warnings[0]
    assert "InsecureRequestWarning" not in completed.stderr


# -- the session: typed errors, retry profiles, discovery, the pool ----------------------------


@pytest.fixture
def sim() -> Iterator[KubeSim]:
    with KubeSim() as server:
        server.controls.retry_after_seconds = 0
        yield server


def _session(sim: KubeSim, tmp_path: Path, token: str | None = None,
             retry: RetryPolicy | None = None, workers: int | None = None) -> KubeClient:
    kubeconfig = sim.write_kubeconfig(tmp_path / f"{token or 'admin'}.kubeconfig", token=token)
    return KubeClient(kubeconfig, retry=retry or RetryPolicy(base_delay=0.01, budget=2.0),
                      workers=workers)


def _config_map(name: str = "", generate_name: str = "") -> dict[str, Any]:
    meta = {"namespace": "default", "name": name} if name else {
        "namespace": "default", "generateName": generate_name}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}


def _config_maps(client: KubeClient) -> list[str]:
    res = client.served("v1", "ConfigMap")
    return sorted(o["metadata"]["name"] for o in client.list(res, "default")
                  if o["metadata"]["name"] != "kube-root-ca.crt")


def test_api_refusals_raise_one_type_each_and_exit_6(sim: KubeSim, tmp_path: Path) -> None:
    sim.add_token("reader", [Rule(verbs=("get", "list"))])
    with _session(sim, tmp_path) as client, \
            _session(sim, tmp_path, token="reader") as reader, \
            _session(sim, tmp_path, token="nobody-knows-me") as stranger:
        res = client.served("v1", "ConfigMap")
        client.create(res, _config_map("taken"))
        refusals = {
            NotFound: lambda: client.merge_patch(res, "default", "missing", {"data": {}}),
            AlreadyExists: lambda: client.create(res, _config_map("taken")),
            Conflict: lambda: client.delete(res, "default", "taken", uid="not-its-uid"),
            Forbidden: lambda: reader.create(res, _config_map("denied")),
            Unauthorized: lambda: stranger.list(res, "default"),
            Invalid: lambda: client.create(res, _config_map("Not_A_Valid_Name")),
        }
        for expected, call in refusals.items():
            with pytest.raises(KubeApiError) as raised:
                call()
            assert type(raised.value) is expected, str(raised.value)
            assert raised.value.exit_code == 6
        assert client.get(res, "default", "missing") is None
        assert client.delete(res, "default", "missing") is False


# A create is repeated after a failure only where a repeat cannot make a second object.
CREATE_RETRIES = [
    # (how the object is named, the first create's answer, whether it is retried)
    ("by-name", 503, True),
    ("by-name", 429, True),
    ("generated-", 503, False),
    ("generated-", 500, False),
    ("generated-", 429, True),
]


@pytest.mark.parametrize(("name", "code", "retried"), CREATE_RETRIES)
def test_a_failed_create_is_retried_per_its_profile(
    name: str, code: int, retried: bool, sim: KubeSim, tmp_path: Path
) -> None:
    body = _config_map(generate_name=name) if name.endswith("-") else _config_map(name)
    with _session(sim, tmp_path) as client:
        res = client.served("v1", "ConfigMap")
        sim.controls.fail_nth_create(kind="ConfigMap", n=1, code=code)
        if retried:
            client.create(res, body)
        else:
            with pytest.raises(Unavailable) as raised:
                client.create(res, body)
            assert raised.value.exit_code == 6
        made = _config_maps(client)
    assert len(made) == (1 if retried else 0) and all(m.startswith(name) for m in made)
    assert settled_request_count(sim, "create") == (2 if retried else 1)


def test_a_dropped_connection_ends_a_generate_name_create_at_once_with_exit_5(
    sim: KubeSim, tmp_path: Path
) -> None:
    with _session(sim, tmp_path) as client:
        res = client.served("v1", "ConfigMap")
        sim.controls.error_kinds = ("drop",)
        sim.controls.error_rate = 1.0
        with pytest.raises(ClusterUnreachable) as raised:
            client.create(res, _config_map(generate_name="dropped-"))
        sim.controls.error_rate = 0.0
    assert raised.value.exit_code == 5
    assert settled_request_count(sim, "create") == 1


def test_reads_retry_until_the_budget_then_raise_unavailable(sim: KubeSim, tmp_path: Path) -> None:
    with _session(sim, tmp_path, retry=RetryPolicy(base_delay=0.01, budget=0.3)) as client:
        res = client.served("v1", "ConfigMap")
        sim.controls.error_kinds = ("503",)
        sim.controls.error_rate = 1.0
        with pytest.raises(Unavailable) as raised:
            client.list(res, "default")
        sim.controls.error_rate = 0.0
    assert raised.value.exit_code == 6
    assert sim.request_count(verb="list") > 2


def test_discovery_answers_by_version_and_by_group_kind(sim: KubeSim, tmp_path: Path) -> None:
    with _session(sim, tmp_path) as client:
        by_version = client.resource("v1", "ConfigMap")
        assert by_version is not None and by_version.plural == "configmaps"
        assert client.resource_of(GroupKind("", "ConfigMap")) == by_version
        assert client.resource("v2", "ConfigMap") is None
        assert client.resource_of(GroupKind("example.com", "Widget")) is None
        with pytest.raises(KindNotServed) as raised:
            client.served("example.com/v1", "Widget")
        assert str(raised.value) == "Widget is not served at example.com/v1"
        assert raised.value.exit_code == 6
    discovery = settled_request_count(sim, "")
    with _session(sim, tmp_path) as again:
        for _ in range(3):
            again.resource("v1", "Secret")
    assert settled_request_count(sim, "") - discovery == discovery, "discovery is read once"



def test_map_keeps_order_and_limit_and_stops_starting_after_a_failure(
    sim: KubeSim, tmp_path: Path
) -> None:
    lock = threading.Lock()
    running, most, started = 0, 0, []

    def work(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            started.append(n)
        time.sleep(0.02)
        with lock:
            running -= 1
        if n == 3:
            raise ValueError("three")
        return n * n

    with _session(sim, tmp_path, workers=8) as client:
        assert list(client.map(work, [0, 1, 2], limit=3)) == [0, 1, 4]
        started.clear()
        with pytest.raises(ValueError, match="three"):
            list(client.map(work, range(40), limit=2))
    assert most <= 3
    assert len(started) < 10, "items after the failure never started"


def test_map_inside_map_does_not_wait_on_its_own_pool(sim: KubeSim, tmp_path: Path) -> None:
    with _session(sim, tmp_path, workers=2) as client:

        def outer(n: int) -> list[int]:
            return list(client.map(lambda m: n * 10 + m, range(3), limit=2))

        assert list(client.map(outer, range(4), limit=2)) == [
            [n * 10 + m for m in range(3)] for n in range(4)]


class _Stop(Exception):
    pass


def _raise_stop(_signum: int, _frame: object) -> None:
    raise _Stop


def test_a_signal_while_map_waits_stops_new_work_nested_maps_and_retry_sleeps(
    sim: KubeSim, tmp_path: Path
) -> None:
    """Python runs a signal's handler in the main thread, which may be waiting on workers: the
    handler's exception ends the wait, nothing new starts, and the work that runs stops at its
    next item or retry instead of running to its end."""
    lock = threading.Lock()
    started: list[int] = []

    def inner(m: int) -> None:
        with lock:
            started.append(m)
        time.sleep(0.02)

    sim.controls.fail_nth_create(kind="ConfigMap", n=1, code=503)
    retry = RetryPolicy(base_delay=20.0, max_delay=20.0, budget=60.0)
    with _session(sim, tmp_path, workers=4, retry=retry) as client:
        res = client.served("v1", "ConfigMap")

        def outer(n: int) -> None:
            if n == 0:  # answered 503, then retried after 10 s or more
                client.create(res, _config_map("never-retried"))
            else:  # 50 items, one at a time, on this worker: a second to run to the end
                for _ in client.map(inner, range(n * 100, n * 100 + 50), limit=2):
                    pass

        previous = signal.signal(signal.SIGUSR1, _raise_stop)
        main = threading.main_thread().ident
        assert main is not None
        timer = threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGUSR1))
        began = time.monotonic()
        try:
            timer.start()
            with pytest.raises(_Stop):
                list(client.map(outer, range(10), limit=3))
        finally:
            signal.signal(signal.SIGUSR1, previous)
        stopped_after = time.monotonic() - began
        count = len(started)
        time.sleep(0.3)
        assert client.get(res, "default", "never-retried") is None

    assert stopped_after < 5.0, "the retry's sleep and the nested maps ended early"
    assert {m // 100 for m in started} <= {1, 2}, "items never started are never started"
    assert count < 60 and len(started) == count, "nested maps stopped at their next item"
