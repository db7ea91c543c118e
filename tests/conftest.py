"""Shared fixtures.

``source`` and ``target``: two fresh kubesim API servers, for tests of kubesim itself and of
what only an emulator can show. ``src``, ``dst`` and ``namespace``: two management clusters
for scenario tests, in each lane — ``[kubesim]`` (two fresh emulated servers) and ``[real]``
(the session's real source and target, see ``tests/lanes.py``), with a namespace of the test's
own. Tests that need kubesim's controls (fault injection, in-process controllers, the request
log) call ``Env.require_sim`` and are skipped in the real lane, with the reason.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubesim import KubeSim
from tests.lanes import KUBESIM, LANES, NO_REAL_LANE, REAL, Env, RealCluster, prepare, real_clusters

# One per session, so that names made from it differ between runs on a reused cluster.
RUN = secrets.token_hex(2)


@pytest.fixture
def source() -> Iterator[KubeSim]:
    with KubeSim() as sim:
        yield sim


@pytest.fixture
def target() -> Iterator[KubeSim]:
    with KubeSim() as sim:
        yield sim


@pytest.fixture(scope="session")
def real_pair(tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[tuple[RealCluster, RealCluster] | None]:
    with real_clusters(tmp_path_factory.mktemp("real-lane")) as pair:
        yield pair


@pytest.fixture(params=LANES)
def lane(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == REAL and request.getfixturevalue("real_pair") is None:
        pytest.skip(NO_REAL_LANE)
    return name


def _env(request: pytest.FixtureRequest, lane: str, tmp_path: Path, index: int
         ) -> Iterator[Env]:
    if lane == REAL:
        cluster: RealCluster = request.getfixturevalue("real_pair")[index]
        namespace: str = request.getfixturevalue("namespace")
        api = cluster.api_client()
        try:
            yield Env(cluster.kubeconfig, api, None, cluster)
        finally:
            api.close()
            cluster.forget(namespace)
        return
    assert lane == KUBESIM
    with KubeSim() as sim:
        kubeconfig = tmp_path / f"{('source', 'target')[index]}.kubeconfig"
        sim.write_kubeconfig(kubeconfig)
        api = sim.api_client()
        prepare(api, upstream=False)
        try:
            yield Env(kubeconfig, api, sim)
        finally:
            api.close()


@pytest.fixture
def src(request: pytest.FixtureRequest, lane: str, tmp_path: Path) -> Iterator[Env]:
    yield from _env(request, lane, tmp_path, 0)


@pytest.fixture
def dst(request: pytest.FixtureRequest, lane: str, tmp_path: Path) -> Iterator[Env]:
    yield from _env(request, lane, tmp_path, 1)


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> str:
    """A namespace of this test's own, new in every run: real clusters are shared."""
    return unique_name(request.node.nodeid)


def unique_name(seed: str) -> str:
    """A DNS-1123 label for ``seed``, different in every test session."""
    return f"mk-{hashlib.sha256(seed.encode()).hexdigest()[:8]}{RUN}"
