"""retire lists what it will delete and asks on a terminal; without one it needs --yes.

The terminal is a pseudo-terminal (Python's ``pty``): ``movekit retire`` runs in it as a person
runs it, sees a terminal on standard input and output, and is answered through it.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from movekit.bundle import Bundle
from tests.lanes import Env, settled_request_count
from tests.scenarios.commands import movekit
from tests.scenarios.test_retire import _exported, _imported, _left, _versions

COLUMNS = 40  # narrower than most lines: they must wrap, never be cut


def _moved(src: Env, dst: Env, topology: str, namespace: str, path: Path) -> Bundle:
    """Exported with --leave-paused and imported: ready to retire."""
    bundle = _exported(src, topology, namespace, path)
    _imported(dst, path)
    return bundle


def _deletes(env: Env) -> int:
    return settled_request_count(env.sim, "delete") if env.sim is not None else 0


def _retire_command(src: Env, dst: Env, bundle: Path) -> list[str]:
    return ["retire", "--kubeconfig", str(src.kubeconfig), "--from-directory", str(bundle),
            "--to-kubeconfig", str(dst.kubeconfig)]


class Terminal:
    """``movekit ARGS`` with a pseudo-terminal as standard input, output and error."""

    def __init__(self, args: list[str]) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, COLUMNS, 0, 0))
        env = {**os.environ, "COLUMNS": str(COLUMNS), "NO_COLOR": "1"}
        self.process = subprocess.Popen([sys.executable, "-m", "movekit", *args], stdin=slave,
                                        stdout=slave, stderr=slave, env=env, close_fds=True)
        os.close(slave)
        self.shown = b""

    def read_until(self, text: str, timeout: float = 60) -> str:
        """Everything shown so far, once it holds ``text`` (or the process ended)."""
        deadline = time.monotonic() + timeout
        while text.encode() not in self.shown and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # the process ended and closed the terminal
                    break
                if not chunk:
                    break
                self.shown += chunk
        return self.text

    @property
    def text(self) -> str:
        return self.shown.decode(errors="replace").replace("\r\n", "\n")

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def finish(self, timeout: float = 120) -> int:
        code = self.process.wait(timeout)
        self.read_until("\0", timeout=1)  # what is left to read
        os.close(self.master)
        return code


QUESTION = "object(s) from the source? [y/N]"


# Each answer: how it is given, the exit code, and whether objects go.
ANSWERS: dict[str, tuple[bytes | None, int, bool]] = {
    "y": (b"y\n", 0, True),
    "yes": (b"YES\n", 0, True),
    "n": (b"n\n", 1, False),
    "empty answer": (b"\n", 1, False),
    "something else": (b"sure\n", 1, False),
    "end of input (Ctrl-D)": (b"\x04", 1, False),
    "Ctrl-C": (None, 130, False),
}


@pytest.mark.parametrize("answer", list(ANSWERS))
def test_retire_on_a_terminal_lists_what_it_deletes_and_deletes_only_when_answered_yes(
    answer: str, src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    bundle = _moved(src, dst, "two-clusters", namespace, tmp_path / "b")
    doomed = sorted(e.ref for e in bundle.entries if not (e.is_global or e.keep_in_source))
    before = _versions(src, bundle)
    deletes = _deletes(src)
    keys, code, deleted = ANSWERS[answer]

    terminal = Terminal(_retire_command(src, dst, tmp_path / "b"))
    shown = terminal.read_until(QUESTION)
    assert QUESTION in shown, shown
    assert terminal.process.poll() is None, "retire did not wait for an answer"
    # Nothing is deleted while it asks.
    assert _deletes(src) == deletes
    if keys is None:
        terminal.process.send_signal(signal.SIGINT)
    else:
        terminal.type(keys)
    exit_code = terminal.finish()
    said = terminal.text

    assert exit_code == code, said
    listing = said[:said.index(QUESTION)]
    assert f"retire will delete {len(doomed)} object(s) from the source" in listing
    for cluster in sorted({r for r in doomed if r.kind == "Cluster"}):
        members = [line for line in listing.splitlines()
                   if line.startswith(f"  Cluster {cluster.namespace}/{cluster.name} (")]
        assert len(members) == 1, listing
    for ref in doomed:
        # Every name in full, however narrow the terminal: lines wrap, never end in an ellipsis.
        assert ref.name in " ".join(listing.split()), (ref, listing)
    assert "…" not in listing
    if deleted:
        assert set(_left(src, bundle)) == {e.ref for e in bundle.entries} - set(doomed)
        assert f"deleted {len(doomed)}" in said
        return
    assert "nothing was deleted" in said
    assert "Traceback" not in said
    assert _versions(src, bundle) == before
    assert _deletes(src) == deletes


# Where there is no terminal to ask on: (stdin a terminal, stdout a terminal).
NO_TERMINAL = {"pipes": (False, False), "stdin only": (True, False),
               "stdout only": (False, True)}


@pytest.mark.parametrize("output", ["text", "json"])
@pytest.mark.parametrize("where", list(NO_TERMINAL))
def test_retire_without_a_terminal_and_without_yes_refuses_before_any_request(
    where: str, output: str, src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    bundle = _moved(src, dst, "cluster-alone", namespace, tmp_path / "b")
    before = _versions(src, bundle)
    requests = settled_request_count(src.sim) if src.sim is not None else 0
    stdin_tty, stdout_tty = NO_TERMINAL[where]
    master, slave = pty.openpty()
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "movekit", *_retire_command(src, dst, tmp_path / "b"),
             "-o", output],
            stdin=slave if stdin_tty else subprocess.DEVNULL,
            stdout=slave if stdout_tty else subprocess.PIPE, stderr=subprocess.PIPE,
            timeout=120, check=False)
    finally:
        os.close(slave)
        os.close(master)

    assert completed.returncode == 2, completed.stderr
    error = completed.stderr.decode().splitlines()
    assert error[0].startswith("error: ") and "pass --yes" in error[0], error
    assert "Traceback" not in completed.stderr.decode()
    if src.sim is not None:
        assert settled_request_count(src.sim) == requests
        assert not [r for r in src.sim.request_log if r.verb == "delete"]
    assert _versions(src, bundle) == before


@pytest.mark.parametrize("flag", ["--yes", "-y", "--dry-run"])
def test_retire_without_a_terminal_goes_ahead_with_yes_and_dry_runs_without_it(
    flag: str, src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    bundle = _moved(src, dst, "cluster-alone", namespace, tmp_path / "b")
    kept = {e.ref for e in bundle.entries if e.is_global or e.keep_in_source}
    before = _versions(src, bundle)

    completed = movekit(*_retire_command(src, dst, tmp_path / "b"), flag)

    assert completed.returncode == 0, completed.stderr
    assert "[y/N]" not in completed.stdout + completed.stderr
    if flag == "--dry-run":
        assert _versions(src, bundle) == before
    else:
        assert set(_left(src, bundle)) == kept
