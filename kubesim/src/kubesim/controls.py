"""What only a test server has: injected latency and faults, an admission hook, access rules, a log.

Everything here is thread-safe and may be changed while the server runs.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kubesim import status

#: ``fn(verb, obj)`` -> a denial message, or None to admit. ``verb`` is create, update or delete.
AdmissionHook = Callable[[str, dict[str, Any]], "str | None"]

ERROR_KINDS = ("429", "500", "503", "drop")
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


@dataclass(frozen=True)
class Rule:
    """One RBAC-like grant; ``"*"`` matches anything. Namespaces empty = every namespace and the
    cluster scope. Resources may name a subresource as ``"clusters/status"``."""

    verbs: tuple[str, ...]
    groups: tuple[str, ...] = ("*",)
    resources: tuple[str, ...] = ("*",)
    namespaces: tuple[str, ...] = ()

    def allows(self, verb: str, group: str, resource: str, namespace: str) -> bool:
        return (_matches(self.verbs, verb) and _matches(self.groups, group)
                and _matches(self.resources, resource)
                and (not self.namespaces or _matches(self.namespaces, namespace)))


def _matches(allowed: Iterable[str], value: str) -> bool:
    return any(a == "*" or a == value for a in allowed)


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    query: str
    user: str
    code: int
    verb: str  # get, list, watch, create, update, patch, delete, deletecollection; "" for discovery


@dataclass(frozen=True)
class Fault:
    """An injected failure: an ApiError to send, or ``drop`` to close the socket unanswered."""

    error: status.ApiError | None
    drop: bool = False


class Cutoff:
    """Lets ``allow`` requests through, then answers none: every later one has its connection
    closed unanswered and never reaches the store, until ``release()``. To a client it is as
    if it had died right after its ``allow``-th request.

    One cutoff may be shared by several servers (``Controls.cutoff``): it then counts their
    requests together, in the order they arrive. A test may count events of its own (a file
    written between two requests) on the same cutoff with ``admit()``, to cut between them too.
    Thread-safe.
    """

    def __init__(self, allow: int) -> None:
        if allow < 0:
            raise ValueError("allow counts requests: 0 or more")
        self.allow = allow
        self._admitted = 0
        self._refused = 0
        self._released = False
        self._lock = threading.Lock()

    def admit(self) -> bool:
        """Count one more event; whether it may happen (False once the cutoff is reached)."""
        with self._lock:
            if self._released:
                return True
            if self._admitted < self.allow:
                self._admitted += 1
                return True
            self._refused += 1
            return False

    def release(self) -> None:
        """Let every later request through again (the cutoff stops counting)."""
        with self._lock:
            self._released = True

    @property
    def admitted(self) -> int:
        """Events let through before the release."""
        with self._lock:
            return self._admitted

    @property
    def reached(self) -> bool:
        """Whether any event was refused: the client wanted more than ``allow``."""
        with self._lock:
            return self._refused > 0


@dataclass
class _NthCreate:
    kind: str | None
    n: int
    code: int
    seen: int = 0


@dataclass
class Controls:
    latency_ms: float = 0.0
    error_rate: float = 0.0
    error_kinds: tuple[str, ...] = ERROR_KINDS
    retry_after_seconds: int = 1
    faults_include_discovery: bool = False
    #: When true, every LIST continue token is answered 410 Expired, as after an etcd compaction.
    expire_continue_tokens: bool = False
    admission_webhook_name: str = "validation.kubesim.movekit.io"
    #: When set, requests count against it, and each one past it is dropped unanswered.
    cutoff: Cutoff | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _nth: list[_NthCreate] = field(default_factory=list, repr=False)
    _hooks: list[AdmissionHook] = field(default_factory=list, repr=False)
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def fail_nth_create(self, kind: str | None, n: int, code: int = 500) -> None:
        """The ``n``-th create of ``kind`` (any kind when None; counted from now, from 1)
        fails with ``code``."""
        if n < 1:
            raise ValueError("n counts from 1")
        with self._lock:
            self._nth.append(_NthCreate(kind, n, code))

    def admission(self, hook: AdmissionHook | None) -> None:
        """Add a validating admission hook; ``None`` removes them all."""
        with self._lock:
            if hook is None:
                self._hooks.clear()
            else:
                self._hooks.append(hook)

    def reset(self) -> None:
        with self._lock:
            self.latency_ms = 0.0
            self.error_rate = 0.0
            self.error_kinds = ERROR_KINDS
            self._nth.clear()
            self._hooks.clear()
            self.cutoff = None

    def random_fault(self) -> Fault | None:
        if self.error_rate <= 0 or self._random.random() >= self.error_rate:
            return None
        kinds = self.error_kinds or ERROR_KINDS
        return fault_of(self._random.choice(kinds), self.retry_after_seconds)

    def create_fault(self, kind: str) -> Fault | None:
        if not self._nth:
            return None
        with self._lock:
            for rule in self._nth:
                if rule.kind is None or rule.kind == kind:
                    rule.seen += 1
                    if rule.seen == rule.n:
                        return fault_of(str(rule.code), self.retry_after_seconds)
        return None

    def admit(self, verb: str, obj: dict[str, Any]) -> str | None:
        """The first denial, rendered as the apiserver renders a validating webhook's."""
        if not self._hooks:
            return None
        with self._lock:
            hooks = list(self._hooks)
        for hook in hooks:
            message = hook(verb, obj)
            if message is not None:
                return f'admission webhook "{self.admission_webhook_name}" denied the request: ' \
                       f"{message}"
        return None


def fault_of(kind: str, retry_after_seconds: int) -> Fault:
    if kind == "drop":
        return Fault(None, drop=True)
    if kind == "429":
        return Fault(status.too_many_requests(retry_after_seconds))
    if kind == "503":
        return Fault(status.service_unavailable())
    if kind == "500":
        return Fault(status.internal_error("injected failure"))
    code = int(kind)
    return Fault(status.ApiError(code, "", f"injected failure ({code})", {}))
