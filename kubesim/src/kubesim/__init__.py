"""kubesim: a Kubernetes API server emulator on loopback, for tests, the demo and benchmarks."""

from kubesim.controls import Controls, Cutoff, RequestRecord, Rule
from kubesim.sim import KubeSim
from kubesim.status import ApiError

__all__ = ["ApiError", "Controls", "Cutoff", "KubeSim", "RequestRecord", "Rule"]
