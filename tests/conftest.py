"""Shared fixtures: two kubesim API servers, ``source`` and ``target``, fresh for every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from movekit.kubesim import KubeSim


@pytest.fixture
def source() -> Iterator[KubeSim]:
    with KubeSim() as sim:
        yield sim


@pytest.fixture
def target() -> Iterator[KubeSim]:
    with KubeSim() as sim:
        yield sim
