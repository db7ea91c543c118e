"""One error type per failure a user can act on, each with its exit code."""

from __future__ import annotations


class MovekitError(Exception):
    """Base of every error movekit reports to a user; ``str(err)`` is the one-line message."""

    exit_code = 1
    # A line shown under the message: what to read or run next.
    hint: str | None = None


class LocalFileError(MovekitError):
    """A file or directory on this machine could not be read or written (no space left, a
    quota, permission denied ...); the message names it and the system's reason."""


class UsageError(MovekitError):
    exit_code = 2


class NotConfirmed(MovekitError):
    """The person at the terminal did not confirm (answered no, or closed the input)."""

    exit_code = 1


class InvalidBundle(MovekitError):
    """The bundle is corrupt, tampered with, truncated, of an unknown format, or hostile."""

    exit_code = 3


class PrecheckFailed(MovekitError):
    """A check made before anything was changed failed; nothing was written."""

    exit_code = 4


class ClusterUnreachable(MovekitError):
    """The API server could not be reached or the kubeconfig is unusable."""

    exit_code = 5


class ApiRequestFailed(MovekitError):
    """The API server refused a request permanently (4xx other than a retryable one)."""

    exit_code = 6


class PartialFailure(MovekitError):
    """Some work was done and some failed; re-running the same command resumes it."""

    exit_code = 7
