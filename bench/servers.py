"""kubesim servers in processes of their own, and measured child processes.

A server and the movekit process it serves must not share one interpreter: the GIL would
make each slow down the other and the figures would describe Python's scheduler, not
movekit. Every server is ``python -m kubesim serve``; it writes its kubeconfig only
once it is seeded and ready, which is what :class:`Server` waits for.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 600.0  # seeding 1,000 clusters takes tens of seconds on a slow machine


class BenchError(RuntimeError):
    """A server or a measured process failed; the message says which and why."""


class Server:
    """``with Server(workdir, "source", seed_clusters=100) as src:`` -> ``src.kubeconfig``."""

    def __init__(self, workdir: Path, name: str, *, latency_ms: float = 0.0,
                 seed_clusters: int = 0, namespace: str = "fleet") -> None:
        self.kubeconfig = workdir / f"{name}.kubeconfig"
        self.name = name
        self._log = workdir / f"{name}.log"
        self._argv = [sys.executable, "-m", "kubesim", "serve",
                      "--kubeconfig-out", str(self.kubeconfig), "--latency-ms", str(latency_ms),
                      "--capi-providers"]
        if seed_clusters:
            self._argv += ["--seed-clusters", str(seed_clusters), "--seed-namespace", namespace]
        self._process: subprocess.Popen[bytes] | None = None
        self._started = 0.0
        self.ready_seconds = 0.0

    def start(self) -> None:
        """Start the process; :meth:`wait_ready` waits for it (so several start at once)."""
        self.kubeconfig.unlink(missing_ok=True)
        self._started = time.monotonic()
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(self._argv, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        assert self._process is not None, "start() first"
        while not self.kubeconfig.exists():
            if self._process.poll() is not None:
                raise BenchError(f"kubesim {self.name} exited: {self._tail()}")
            if time.monotonic() - self._started > READY_TIMEOUT:
                raise BenchError(f"kubesim {self.name} not ready after {READY_TIMEOUT:g}s")
            time.sleep(0.05)
        self.ready_seconds = time.monotonic() - self._started

    def __enter__(self) -> Server:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def _tail(self) -> str:
        lines = self._log.read_text(errors="replace").strip().splitlines()
        return "\n".join(lines[-15:]) or "(no output)"


@dataclass(frozen=True)
class Measured:
    figures: dict[str, Any]
    peak_rss_mb: float


def measure(args: list[str], workdir: Path, timeout: float) -> Measured:
    """Run ``python -m bench.worker ARGS`` and return its figures and its own peak RSS.

    The worker reads its peak from /proc; where there is none, ``os.wait4`` gives the rusage
    of exactly this child (an upper bound: it includes the driver's size at fork), where
    ``getrusage(RUSAGE_CHILDREN)`` would report the largest of all children reaped so far.
    """
    with tempfile.NamedTemporaryFile(dir=workdir, suffix=".json", delete=False) as handle:
        result = Path(handle.name)
    errors = workdir / "worker.err"
    with errors.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.worker", "--result", str(result), *args],
            stdout=subprocess.DEVNULL, stderr=stderr, cwd=REPO)
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            process.kill()
            os.wait4(process.pid, 0)
            process.returncode = -9
            raise BenchError(f"bench.worker {args[0]} did not finish in {timeout:g}s")
        time.sleep(0.02)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = "\n".join(errors.read_text(errors="replace").strip().splitlines()[-20:])
        raise BenchError(f"bench.worker {args[0]} failed ({process.returncode}):\n{tail}")
    written = json.loads(result.read_text())
    result.unlink()
    # Both are in KiB on Linux.
    peak = written["peak_rss_kib"] or usage.ru_maxrss
    return Measured(written["figures"], round(peak / 1024, 1))
