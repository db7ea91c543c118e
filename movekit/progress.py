"""What long work tells the operator: steps, counts within a step, and details by verbosity.

On a terminal, counted work shows a rich progress bar with rate and ETA; anywhere else
(CI logs, ``ssh host movekit ... | tee``) every step is one plain, timestamped line, and a
counted task prints its start and its end, never a bar.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from movekit.printable import printable

QUIET, NORMAL, VERBOSE, DEBUG = -1, 0, 1, 2


class RateColumn(ProgressColumn):
    """Objects per second."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:.0f}/s" if task.speed else "", style="progress.data.speed")


class Advance(Protocol):
    def __call__(self, done: int = 1) -> None: ...


class Reporter:
    """Receives progress; this base class shows nothing (library use, ``--quiet``)."""

    def __call__(self, message: str) -> None:
        self.step(message)

    def step(self, message: str) -> None:
        """A phase of the work began (shown unless quiet)."""

    def detail(self, message: str) -> None:
        """Something a user following closely wants to see (``-v``)."""

    def debug(self, message: str) -> None:
        """Something only useful when diagnosing (``-vv``)."""

    @contextmanager
    def task(self, description: str, total: int) -> Iterator[Advance]:
        """Counted work: call the yielded function as items complete."""
        yield lambda done=1: None


class _LineHandler(logging.Handler):
    def __init__(self, reporter: ConsoleReporter) -> None:
        super().__init__()
        self.reporter = reporter

    def emit(self, record: logging.LogRecord) -> None:
        self.reporter._line(record.getMessage(), "dim")


class ConsoleReporter(Reporter):
    """Progress on stderr: bars on a terminal, plain lines otherwise."""

    def __init__(self, verbosity: int = NORMAL, stream: TextIO | None = None,
                 interactive: bool | None = None) -> None:
        self.verbosity = verbosity
        self.stream = stream or sys.stderr
        self.console = Console(file=self.stream, highlight=False, soft_wrap=True, markup=False,
                               emoji=False)
        self.interactive = self.console.is_terminal if interactive is None else interactive
        self._lock = threading.Lock()
        self._started = time.monotonic()
        if verbosity >= VERBOSE:
            # Retries (-v) and every request (-vv) come from the client's log records.
            handler = _LineHandler(self)
            handler.setLevel(logging.DEBUG if verbosity >= DEBUG else logging.INFO)
            logger = logging.getLogger("movekit")
            logger.addHandler(handler)
            logger.setLevel(logging.DEBUG)

    def _line(self, message: str, style: str = "") -> None:
        # Messages name objects and quote the API server: shown escaped, never as markup.
        message = printable(message)
        if self.interactive:
            self.console.print(Text(message, style=style))
            return
        elapsed = time.monotonic() - self._started
        with self._lock:
            self.stream.write(f"[{elapsed:7.1f}s] {message}\n")
            self.stream.flush()

    def step(self, message: str) -> None:
        if self.verbosity >= NORMAL:
            self._line(message)

    def detail(self, message: str) -> None:
        if self.verbosity >= VERBOSE:
            self._line(message, "dim")

    def debug(self, message: str) -> None:
        if self.verbosity >= DEBUG:
            self._line(message, "dim")

    @contextmanager
    def task(self, description: str, total: int) -> Iterator[Advance]:
        if self.verbosity < NORMAL or total <= 0:
            yield lambda done=1: None
            return
        if not self.interactive:
            # One line per task, when it ends: logs stay readable at thousands of objects.
            started = time.monotonic()
            yield lambda done=1: None
            elapsed = max(time.monotonic() - started, 1e-6)
            self._line(f"{description}: {total} in {elapsed:.1f}s ({total / elapsed:.0f}/s)")
            return
        columns = (TextColumn("{task.description}", markup=False), BarColumn(),
                   MofNCompleteColumn(), TaskProgressColumn(), RateColumn(), TimeElapsedColumn(),
                   TimeRemainingColumn())
        with Progress(*columns, console=self.console, transient=False) as bar:
            task_id = bar.add_task(printable(description), total=total)
            lock = threading.Lock()

            def advance(done: int = 1) -> None:
                with lock:
                    bar.advance(task_id, done)

            yield advance


Say = Callable[[str], None]
ProgressLike = Reporter | Say


class _SayReporter(Reporter):
    def __init__(self, say: Say) -> None:
        self._say = say

    def step(self, message: str) -> None:
        self._say(message)


def reporter_of(progress: ProgressLike | None) -> Reporter:
    """A Reporter for what a caller passed: a Reporter, a plain callable, or nothing."""
    if progress is None:
        return Reporter()
    if isinstance(progress, Reporter):
        return progress
    return _SayReporter(progress)
