"""Signals and a vanished reader end a command the way Ctrl-C does.

SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted` in the main thread (Python runs signal
handlers only there, between bytecodes; a wait on worker threads is interrupted too), and so
does the first write to a standard stream whose reader has gone (``movekit ... | head -1``).
The exception passes through every ``finally``, so an export restores the pause state it
changed and a move leaves its journal to ``--resume``. It is not an ``Exception``: nothing that
handles errors takes it for one, and a move does not roll back because its reader went away.

Only the first interruption raises: a second signal while the command restores what it changed
would leave that half done. SIGKILL ends the process at once, as always.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, TextIO

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# What a shell reports for a process that a closed pipe ended: 128 + SIGPIPE.
OUTPUT_CLOSED = signal.SIGPIPE


class Interrupted(BaseException):
    """The command was asked to stop (a signal) or lost its reader (a closed pipe)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as a shell reports a process the signal ended."""
        return 128 + self.signum

    @property
    def reason(self) -> str:
        if self.signum == signal.SIGINT:
            return "interrupted"
        if self.signum == OUTPUT_CLOSED:
            return "interrupted (output closed)"
        return f"interrupted ({signal.Signals(self.signum).name})"


class _State:
    raised = False  # the one Interrupted of this process has been raised
    cause: int | None = None  # set by a stream that broke outside the main thread


def _handler(signum: int, _frame: FrameType | None) -> None:
    if _State.raised:
        return
    _State.raised = True
    raise Interrupted(_State.cause or signum)


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """While inside, SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted` (once)."""
    _State.raised, _State.cause = False, None
    previous = {signum: signal.signal(signum, _handler) for signum in HANDLED}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class GuardedStream:
    """A standard stream whose reader may go away.

    The first write that fails (EPIPE, or the descriptor is gone) points the descriptor at
    /dev/null, so that nothing later fails again (Python flushes the stream at exit), and
    interrupts the command: in the main thread by raising :class:`Interrupted`, from a worker
    thread by interrupting the main thread. Everything after that is dropped.
    """

    def __init__(self, stream: TextIO, *, gone: bool = False) -> None:
        self._stream = stream
        self.broken = False
        self._gone = gone  # closed before the command started: the first write finds out

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                if self._gone:
                    raise BrokenPipeError
                return self._stream.write(text)
            except OSError:
                self._broke()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except OSError:
                self._broke()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def _broke(self) -> None:
        self.broken = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass
        main = threading.main_thread()
        if threading.current_thread() is not main:
            # The main thread may write nothing for long (it waits on workers): interrupt it
            # with a real signal, which also ends a blocking wait, when ours is listening.
            if signal.getsignal(signal.SIGTERM) is _handler and main.ident is not None:
                _State.cause = OUTPUT_CLOSED
                signal.pthread_kill(main.ident, signal.SIGTERM)
        elif not _State.raised:
            _State.raised = True
            raise Interrupted(OUTPUT_CLOSED)


def guard_standard_streams() -> None:
    """Put :class:`GuardedStream` in place of ``sys.stdout`` and ``sys.stderr``.

    A standard stream closed before the command started is held by /dev/null, so that no file
    the command opens (a bundle's, a journal) can take its descriptor and receive output. A
    closed standard output then counts as a reader gone at the first write (the result cannot
    be shown); a closed standard error only drops progress and messages (the exit code stays).
    """
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = getattr(sys, name)
        if stream is None:
            held = os.open(os.devnull, os.O_WRONLY)
            if held != fd:
                os.dup2(held, fd)
                os.close(held)
            guard = GuardedStream(open(fd, "w", closefd=False), gone=name == "stdout")  # noqa: SIM115
        else:
            guard = GuardedStream(stream)
        setattr(sys, name, guard)
