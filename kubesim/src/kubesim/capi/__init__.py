"""Cluster API fixtures: CRDs, the clusterctl inventory, topologies with expectations, fleets.

    from kubesim.capi import install_crds, install_providers
    from kubesim.capi.topologies import TOPOLOGIES, seed
    from kubesim.capi.fleet import fleet, seed_fleet

The CRDs under crds/ are Cluster API v1.11's kinds (plus CAPD's, two of CAPA's and
clusterctl's Provider), written as compact structural schemas and labelled as
`clusterctl init` labels them.
"""

from .install import (
    CLUSTERCTL_LABEL,
    CRD_DIR,
    DEFAULT_PROVIDER_VERSIONS,
    INVENTORY_LABEL,
    PROVIDER_LABEL,
    PROVIDERS,
    InventoryEntry,
    KindFacts,
    crd_documents,
    ensure_namespace,
    install_crd_documents,
    install_crds,
    install_providers,
    json_body,
    kind_facts,
    kinds_table,
    provider_object,
    typed,
)

__all__ = [
    "CLUSTERCTL_LABEL",
    "CRD_DIR",
    "DEFAULT_PROVIDER_VERSIONS",
    "INVENTORY_LABEL",
    "PROVIDERS",
    "PROVIDER_LABEL",
    "InventoryEntry",
    "KindFacts",
    "crd_documents",
    "ensure_namespace",
    "install_crd_documents",
    "install_crds",
    "install_providers",
    "json_body",
    "kind_facts",
    "kinds_table",
    "provider_object",
    "typed",
]
