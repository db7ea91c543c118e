"""The one door to the API server, as a user of the command line sees it."""

from __future__ import annotations

from pathlib import Path

import yaml

from kubesim import KubeSim
from kubesim.capi.topologies import TOPOLOGIES, seed
from tests.lanes import prepare
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
