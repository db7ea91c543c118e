"""kubectl and the kubernetes client work with a written kubeconfig, as with a real cluster."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kubernetes import client, config

from kubesim import KubeSim
from tests.conftest import Kubectl
from tests.support import GROUP, widget_crd

WIDGET_YAML = """apiVersion: example.com/v1
kind: Widget
metadata:
  name: w1
  namespace: default
spec:
  size: 3
"""


def test_kubeconfig_is_private_and_works_with_the_kubernetes_client(
        sim: KubeSim, tmp_path: Path) -> None:
    path = sim.write_kubeconfig(tmp_path / "config", context="src")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with config.new_client_from_config(str(path)) as api:
        names = [n.metadata.name for n in client.CoreV1Api(api).list_namespace().items]
    assert "default" in names and "kube-system" in names


def test_kubectl_creates_and_reads_builtin_objects(kubectl: Kubectl) -> None:
    kubectl("create", "namespace", "prod")
    kubectl("create", "secret", "generic", "s1", "-n", "prod", "--from-literal=a=b")
    kubectl("create", "configmap", "c1", "-n", "prod", "--from-literal=x=y")
    secret = json.loads(kubectl("get", "secret", "s1", "-n", "prod", "-o", "json").stdout)
    assert secret["data"] == {"a": "Yg=="} and secret["type"] == "Opaque"
    table = kubectl("get", "configmaps", "-n", "prod").stdout
    assert table.split("\n")[0].split() == ["NAME", "DATA", "AGE"]
    assert "c1" in table
    kubectl("label", "secret", "s1", "-n", "prod", "team=a")
    assert "s1" in kubectl("get", "secrets", "-n", "prod", "-l", "team=a").stdout


def test_kubectl_applies_a_crd_and_its_objects(kubectl: Kubectl, sim: KubeSim) -> None:
    kubectl("apply", "-f", "-", stdin=json.dumps(widget_crd()))
    kubectl("wait", "--for=condition=Established", f"crd/widgets.{GROUP}", "--timeout=5s")
    assert "created" in kubectl("apply", "-f", "-", stdin=WIDGET_YAML).stdout
    assert "configured" in kubectl("apply", "-f", "-",
                                   stdin=WIDGET_YAML.replace("3", "4")).stdout
    kubectl("apply", "--server-side", "--force-conflicts", "-f", "-",
            stdin=WIDGET_YAML.replace("3", "5"))
    widget = json.loads(kubectl("get", "widgets", "w1", "-o", "json").stdout)
    assert widget["spec"] == {"size": 5}
    assert "w1" in kubectl("get", "wi").stdout
    kubectl("delete", "widget", "w1")
    assert sim.store.get(GROUP, "widgets", "default", "w1") is None


def test_kubectl_reports_server_errors(kubectl: Kubectl) -> None:
    done = kubectl("get", "secret", "missing", check=False)
    assert done.returncode == 1
    assert 'Error from server (NotFound): secrets "missing" not found' in done.stderr


def test_serve_command_runs_until_terminated(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    process = subprocess.Popen(
        [sys.executable, "-m", "kubesim", "serve", "--tls", "--kubeconfig-out",
         str(kubeconfig)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    try:
        deadline = time.monotonic() + 15
        while not kubeconfig.exists():
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with config.new_client_from_config(str(kubeconfig)) as api:
            assert client.VersionApi(api).get_code().major == "1"
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "kubesim serving at https://127.0.0.1:" in out


@pytest.mark.parametrize("tls", [False, True])
def test_api_client_reaches_the_server(tls: bool) -> None:
    with KubeSim(tls=tls) as sim, sim.api_client() as api:
        assert sim.url.startswith("https://" if tls else "http://")
        assert client.CoreV1Api(api).read_namespace("default").metadata.name == "default"
