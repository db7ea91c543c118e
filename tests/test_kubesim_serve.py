"""`movekit kubesim serve` refuses a port or a kubeconfig path it cannot use in one line, exit 2,
and leaves nothing running; a signal stops it without a traceback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        yield listening.getsockname()[1]


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "movekit", "kubesim", "serve", *args],
                          capture_output=True, text=True, timeout=60, check=False)


def _assert_refused(done: subprocess.CompletedProcess[str], line: str) -> None:
    assert "Traceback" not in done.stderr
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(line) if line.endswith("(") else lines == [line]  # "(": the OS's
    assert "serving at" not in done.stdout


@pytest.mark.parametrize("port", ["-1", "65536", "70000"])
def test_a_port_out_of_range_is_refused_in_one_line(port: str) -> None:
    _assert_refused(_serve("--port", port), f"error: --port {port}: not a port number "
                                            "(0 to 65535; 0 picks a free one)")


def test_a_busy_port_is_refused_in_one_line_and_nothing_is_left_listening(busy_port: int) -> None:
    done = _serve("--port", str(busy_port), "--capi-providers")

    _assert_refused(done, f"error: --port {busy_port}: cannot listen on "
                          f"127.0.0.1:{busy_port} (")


def test_a_port_that_is_not_a_number_is_refused_without_a_traceback() -> None:
    done = _serve("--port", "abc")

    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "--port" in done.stderr


KUBECONFIG_OUT: dict[str, tuple[Callable[[Path], Path], Callable[[Path], str]]] = {
    "in /proc": (lambda root: Path("/proc/kubesim.yaml"),
                 lambda root: "cannot write in /proc ("),
    "parent missing": (lambda root: root / "missing" / "k.yaml",
                       lambda root: f"cannot write in {root / 'missing'} ("),
    "through a file": (lambda root: root / "file" / "k.yaml",
                       lambda root: f"cannot write in {root / 'file'} ("),
    "a directory": (lambda root: root, lambda root: "is a directory"),
}


@pytest.mark.parametrize("shape", list(KUBECONFIG_OUT))
def test_a_kubeconfig_out_that_cannot_be_written_is_refused_before_serving(
        shape: str, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("someone's\n")
    path, reason = KUBECONFIG_OUT[shape]
    started = time.monotonic()

    done = _serve("--kubeconfig-out", str(path(tmp_path)), "--seed-clusters", "3")

    _assert_refused(done, f"error: --kubeconfig-out {path(tmp_path)}: {reason(tmp_path)}")
    assert "seeded" not in done.stdout, "refused before anything was served or seeded"
    assert time.monotonic() - started < 30
    assert (tmp_path / "file").read_text() == "someone's\n"


@pytest.mark.parametrize(("signum", "code", "last"), [
    (signal.SIGINT, 0, "kubesim stopped"), (signal.SIGTERM, 0, "kubesim stopped"),
    (signal.SIGHUP, 128 + signal.SIGHUP, "interrupted (SIGHUP)")],
    ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_signal_stops_the_server_without_a_traceback_or_a_hint_to_run_it_again(
        signum: int, code: int, last: str, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "k.yaml"
    process = subprocess.Popen([sys.executable, "-m", "movekit", "kubesim", "serve",
                                "--kubeconfig-out", str(kubeconfig)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not kubeconfig.exists():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    port = int(kubeconfig.read_text().split("127.0.0.1:")[1].split()[0].strip("'\""))

    process.send_signal(signum)
    out, err = process.communicate(timeout=30)

    assert "Traceback" not in err
    assert process.returncode == code, err
    assert (out + err).splitlines()[-1] == last
    assert "run the same command again" not in err
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "nothing is left listening"
    os.unlink(kubeconfig)
