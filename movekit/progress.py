"""What long work tells the operator: steps, counts within a step, and details by verbosity.

On a terminal, counted work shows a rich progress bar with rate and labelled elapsed and
remaining times, and a long phase without a total shows a spinner with running counts;
anywhere else (CI logs, ``ssh host movekit ... | tee``) every step is one plain, timestamped
line, a counted task prints one line when it ends, never a bar, and a phase prints its step.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TextIO

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
from rich.status import Status
from rich.text import Text

from movekit.printable import printable

QUIET, NORMAL, VERBOSE, DEBUG = -1, 0, 1, 2
Say = Callable[[str], None]


def _ignore(text: str) -> None:
    """A phase's running count where nothing shows it."""


class RateColumn(ProgressColumn):
    """Objects per second."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:.0f}/s" if task.speed else "", style="progress.data.speed")


class LabelledColumn(ProgressColumn):
    """Another column with a word before it (``elapsed 0:00:03``), so that two times side by
    side say which is which."""

    def __init__(self, label: str, column: ProgressColumn) -> None:
        super().__init__()
        self.label = label
        self.column = column

    def render(self, task: Task) -> Text:
        shown = self.column.render(task)
        return Text(f"{self.label} ") + (shown if isinstance(shown, Text) else Text(str(shown)))


def bar_columns() -> tuple[ProgressColumn, ...]:
    """The columns of every progress bar movekit shows."""
    return (TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
            TaskProgressColumn(), RateColumn(),
            LabelledColumn("elapsed", TimeElapsedColumn()),
            LabelledColumn("eta", TimeRemainingColumn()))


class Advance(Protocol):
    def __call__(self, done: int = 1) -> None: ...


class Counted:
    """A counted task as its worker sees it: call it as items complete; :meth:`note` says
    which part of the task runs now (``wave 2 of 0-3``). This one shows nothing."""

    def __call__(self, done: int = 1) -> None:
        """``done`` more items completed."""

    def note(self, text: str) -> None:
        """The part of the task that runs now, shown beside its description."""


class _BarTask(Counted):
    def __init__(self, bar: Progress, task_id: Any, description: str) -> None:
        self._bar, self._task_id, self._description = bar, task_id, description
        self._lock = threading.Lock()

    def __call__(self, done: int = 1) -> None:
        with self._lock:
            self._bar.advance(self._task_id, done)

    def note(self, text: str) -> None:
        with self._lock:
            self._bar.update(self._task_id,
                             description=printable(f"{self._description} ({text})"))


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
    def task(self, description: str, total: int) -> Iterator[Counted]:
        """Counted work: call the yielded :class:`Counted` as items complete."""
        yield Counted()

    @contextmanager
    def phase(self, description: str) -> Iterator[Say]:
        """A long step with no total to count against (discovery, reading, verifying): call
        the yielded function with a running count (``1204 objects``). Shown on a terminal
        only, as a spinner that goes when the phase ends; say the step itself with
        :meth:`step`."""
        yield _ignore


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
    def task(self, description: str, total: int) -> Iterator[Counted]:
        if self.verbosity < NORMAL or total <= 0:
            yield Counted()
            return
        if not self.interactive:
            # One line per task, when it ends: logs stay readable at thousands of objects.
            started = time.monotonic()
            yield Counted()
            elapsed = max(time.monotonic() - started, 1e-6)
            self._line(f"{description}: {total} in {elapsed:.1f}s ({total / elapsed:.0f}/s)")
            return
        with Progress(*bar_columns(), console=self.console, transient=False) as bar:
            yield _BarTask(bar, bar.add_task(printable(description), total=total), description)

    @contextmanager
    def phase(self, description: str) -> Iterator[Say]:
        if self.verbosity < NORMAL or not self.interactive:
            yield _ignore
            return
        # Transient: once the phase ends, its step line above is what stays on the screen.
        with Status(Text(printable(description)), console=self.console, spinner="dots") as spin:
            lock = threading.Lock()

            def count(text: str) -> None:
                with lock:
                    spin.update(Text(printable(f"{description}: {text}")))

            yield count


ProgressLike = Reporter | Callable[[str], None]


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
