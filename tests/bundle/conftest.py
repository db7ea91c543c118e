"""End-to-end bundle tests run on the scenario tests' clusters: ``src``, ``dst``, ``namespace``."""

from tests.scenarios.conftest import dst, namespace, src

__all__ = ["dst", "namespace", "src"]
