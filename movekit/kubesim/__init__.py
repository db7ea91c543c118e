"""kubesim: a Kubernetes API server emulator on loopback, for tests, the demo and benchmarks."""

from movekit.kubesim.controls import Controls, RequestRecord, Rule
from movekit.kubesim.sim import KubeSim
from movekit.kubesim.status import ApiError

__all__ = ["ApiError", "Controls", "KubeSim", "RequestRecord", "Rule"]
