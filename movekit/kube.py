"""The one door to an API server: connection, discovery, paged reads, writes and retries.

Everything else in movekit takes and returns plain dicts. This module owns the official
``kubernetes`` client, turns its exceptions into the typed errors of :mod:`movekit.kube_errors`
that name the verb, the resource and the namespace, retries only what is transient (per the
verb's retry profile), keeps a client-side rate limit (QPS with a burst) like client-go does,
and runs a command's concurrent work on one bounded pool.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import urllib3
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from movekit.errors import ClusterUnreachable, UsageError
from movekit.kube_errors import AlreadyExists as AlreadyExists
from movekit.kube_errors import Conflict as Conflict
from movekit.kube_errors import Forbidden as Forbidden
from movekit.kube_errors import Invalid as Invalid
from movekit.kube_errors import KindNotServed as KindNotServed
from movekit.kube_errors import KubeApiError as KubeApiError
from movekit.kube_errors import NotFound as NotFound
from movekit.kube_errors import OwnerNotImported as OwnerNotImported
from movekit.kube_errors import Unauthorized as Unauthorized
from movekit.kube_errors import Unavailable as Unavailable
from movekit.kube_errors import api_error
from movekit.refs import GroupKind, split_api_version
from movekit.version import __version__

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")

_log = logging.getLogger(__name__)

FIELD_MANAGER = "movekit"
USER_AGENT = f"movekit/{__version__}"
PAGE_SIZE = 500
# Chosen by measurement (bench/): at 100 QPS an import of 1,000 clusters (~70,000 requests)
# took over ten minutes waiting on its own limiter while the API server idled; 16 workers
# reach ~700 requests/s against kubesim and ~750/s at 20 ms latency, so 1,000 never binds there
# and still caps a runaway client well below what a kube-apiserver's priority and fairness
# then answers with 429s (which are retried).
DEFAULT_QPS = 1000.0
DEFAULT_BURST = 2000

# Statuses worth another try: the server asked us to slow down or was briefly unwell.
_TRANSIENT_CODES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, order=True)
class ApiResource:
    """One served resource at one version, as discovery reports it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: frozenset[str]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_kind(self) -> GroupKind:
        return GroupKind(self.group, self.kind)

    def __str__(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


@dataclass(frozen=True)
class RetryPolicy:
    """Jittered exponential backoff, bounded in total time: every retry profile's duration."""

    base_delay: float = 0.2
    max_delay: float = 10.0
    budget: float = 120.0
    # Until the server has answered once, a refused connection is more likely a wrong address
    # than a hiccup: give up sooner, as kubectl does.
    first_contact_budget: float = 8.0


@dataclass(frozen=True)
class RetryProfile:
    """Which transient failures of one kind of request are worth another try."""

    name: str
    # Also retry a failure after which the server may have acted (5xx, timeout, dropped reply).
    retries_ambiguous: bool


# GET and LIST change nothing: every transient failure is retried, for up to the policy's budget.
READ = RetryProfile("read", retries_ambiguous=True)
# PUT, PATCH, DELETE, and a create by name: a repeat of one that landed meets 409 Conflict,
# 404 or AlreadyExists, which their callers handle (apply adopts its own), for up to the budget.
WRITE = RetryProfile("write", retries_ambiguous=True)
# A create by generateName: a repeat of one that landed makes a second object, so only a 429 or
# a connection never made is retried (up to the budget); anything else fails at once.
CREATE_GENERATED = RetryProfile("create-generated", retries_ambiguous=False)


class RateLimiter:
    """Token bucket: ``qps`` tokens a second, up to ``burst`` saved. ``qps <= 0`` disables it."""

    def __init__(self, qps: float, burst: int) -> None:
        self.qps = qps
        self.burst = max(1, burst)
        self._tokens = float(self.burst)
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if self.qps <= 0:
            return
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.qps)
            self._last = now
            self._tokens -= 1
            wait = -self._tokens / self.qps if self._tokens < 0 else 0.0
        if wait > 0:
            time.sleep(wait)


class KubeClient:
    """The session with one cluster, shared by every worker thread of a command: discovery and
    its cache, typed errors, retries, the rate limit and the pool for concurrent work."""

    def __init__(
        self,
        kubeconfig: str | Path | None = None,
        context: str | None = None,
        *,
        qps: float = DEFAULT_QPS,
        burst: int = DEFAULT_BURST,
        connections: int = 32,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        workers: int | None = None,
    ) -> None:
        configuration = k8s_client.Configuration()
        try:
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=str(kubeconfig) if kubeconfig else None,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        except (ConfigException, OSError, TypeError, ValueError, yaml.YAMLError) as err:
            where = f"kubeconfig {kubeconfig}" if kubeconfig else "the default kubeconfig"
            ctx = f" (context {context!r})" if context else ""
            problem = _kubeconfig_problem(kubeconfig, context)
            raise UsageError(problem or f"cannot load {where}{ctx}: {_first_line(err)}") from None
        # Retries are ours (they know which verbs are safe to repeat); urllib3 must not add its own.
        configuration.retries = False
        configuration.connection_pool_maxsize = connections
        # Shown in messages and recorded in manifests and journals: never with credentials.
        self.server = _without_userinfo(str(configuration.host))
        if not configuration.verify_ssl and self.server.startswith("https:"):
            _warn_insecure(self.server)
        self.context = context
        self._api = k8s_client.ApiClient(configuration)
        self._api.user_agent = USER_AGENT
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._limiter = RateLimiter(qps, burst)
        self._resources: list[ApiResource] | None = None
        self._by_version: dict[tuple[str, str], ApiResource] = {}
        self._by_group_kind: dict[GroupKind, ApiResource] = {}
        # Workers that all ask at once must share one discovery, not each run their own.
        self._discovery_lock = threading.Lock()
        # One worker per connection by default: more would only queue for a connection.
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers or connections),
                                        thread_name_prefix="movekit")
        self._on_pool = threading.local()
        self._answered = False
        self._stats_lock = threading.Lock()
        self.requests: Counter[str] = Counter()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._api.close()  # type: ignore[no-untyped-call]

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- raw requests ---------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        verb: str | None = None,
        where: str | None = None,
        profile: RetryProfile | None = None,
    ) -> Any:
        """Send one request and return the decoded JSON body, retrying transient failures as
        ``profile`` allows (by default READ for GET, WRITE for any other method)."""
        verb = verb or method.lower()
        where = where or path
        profile = profile or (READ if method == "GET" else WRITE)
        budget = self._retry.budget if self._answered else self._retry.first_contact_budget
        deadline = time.monotonic() + budget
        attempt = 0
        while True:
            attempt += 1
            self._limiter.acquire()
            with self._stats_lock:
                self.requests[verb] += 1
            delay: float | None
            try:
                result = self._send(method, path, query, body, content_type)
                self._answered = True
                _log.debug("%s %s", verb, where)
                return result
            except ApiException as err:
                code = int(err.status or 0)
                self._answered = self._answered or code != 0
                if code == 0 or code in _TRANSIENT_CODES:
                    delay = _retry_after(err)
                    failure: Exception = err
                else:
                    raise _api_error(err, verb, where) from None
            except (urllib3.exceptions.HTTPError, OSError) as err:
                delay = None
                failure = err
            if not (profile.retries_ambiguous or _never_processed(failure)):
                raise _transient_error(failure, verb, where, self.server)
            pause = delay if delay is not None else self._backoff(attempt)
            if time.monotonic() + pause > deadline:
                raise _transient_error(failure, verb, where, self.server)
            _log.info("%s %s: %s; retrying in %.1fs", verb, where, _brief(failure), pause)
            self._sleep(pause)

    def _send(self, method: str, path: str, query: Mapping[str, str | int] | None, body: Any,
              content_type: str) -> Any:
        http_method, url, headers, payload, post = self._api.param_serialize(
            method=method,
            resource_path=path,
            query_params=list((query or {}).items()),
            header_params={"Accept": "application/json", "Content-Type": content_type},
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self._api.call_api(http_method, url, header_params=headers, body=payload,
                                      post_params=post, _request_timeout=(10.0, self._timeout))
        raw = response.read()  # type: ignore[no-untyped-call]
        if not 200 <= response.status <= 299:
            raise ApiException.from_response(http_resp=response, body=None, data=None)
        return json.loads(raw) if raw else {}

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self._retry.max_delay, self._retry.base_delay * 2 ** (attempt - 1))
        # Full jitter: concurrent workers that failed together must not retry together.
        return random.uniform(ceiling / 2, ceiling)

    # -- discovery --------------------------------------------------------------------------

    def version(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", "/version", verb="get", where="/version")
        return result

    def resources(self) -> list[ApiResource]:
        """Every resource served, at every served version (cached for this client)."""
        with self._discovery_lock:
            return self._discover()

    def _discover(self) -> list[ApiResource]:
        """Read discovery once; later calls answer from the cache. Holds the discovery lock."""
        if self._resources is None:
            found: list[ApiResource] = []
            core = self.request("GET", "/api/v1", verb="get", where="discovery /api/v1")
            found.extend(_parse_resource_list("", "v1", core))
            groups = self.request("GET", "/apis", verb="get", where="discovery /apis")
            for group in groups.get("groups", []):
                for gv in group.get("versions", []):
                    group_name, version = split_api_version(gv["groupVersion"])
                    listing = self.request(
                        "GET", f"/apis/{gv['groupVersion']}", verb="get",
                        where=f"discovery /apis/{gv['groupVersion']}",
                    )
                    found.extend(_parse_resource_list(group_name, version, listing))
            resources = sorted(found)
            for res in resources:
                self._by_version.setdefault((res.api_version, res.kind), res)
                # The first in sorted order, as a scan of resources() would find it.
                self._by_group_kind.setdefault(res.group_kind, res)
            self._resources = resources
        return self._resources

    def resource(self, api_version: str, kind: str) -> ApiResource | None:
        """The resource serving ``kind`` at exactly ``api_version``, or None."""
        self.resources()
        return self._by_version.get((api_version, kind))

    def resource_of(self, group_kind: GroupKind) -> ApiResource | None:
        """A resource serving ``group_kind`` (its lowest served version), or None."""
        self.resources()
        return self._by_group_kind.get(group_kind)

    def served(self, api_version: str, kind: str) -> ApiResource:
        """The resource serving ``kind`` at ``api_version``; KindNotServed when there is none."""
        res = self.resource(api_version, kind)
        if res is None:
            raise KindNotServed(api_version, kind)
        return res

    # -- concurrent work ----------------------------------------------------------------------

    def map(self, fn: Callable[[_Item], _Result], items: Iterable[_Item], *,
            limit: int) -> Iterator[_Result]:
        """``fn`` of each item, at most ``limit`` at once on the session's pool; in item order.

        The first failure stops new items from starting; those running finish, then it is
        raised. When the caller stops iterating (an exception such as a signal's in the main
        thread), nothing new starts, and the work running stops at its next item or retry.
        Work already on the pool that maps again runs its items itself, one by one: waiting for
        a slot it holds would deadlock.
        """
        if getattr(self._on_pool, "active", False):
            stop: threading.Event = self._on_pool.stop
            for item in items:
                if stop.is_set():
                    raise CancelledError("the work this belongs to was stopped")
                yield fn(item)
            return
        stop = threading.Event()
        todo = enumerate(items)
        started: dict[int, Future[_Result]] = {}
        running: set[Future[_Result]] = set()
        failed = False
        following = 0
        try:
            while True:
                while not failed and len(running) < max(1, limit):
                    step = next(todo, None)
                    if step is None:
                        break
                    index, item = step
                    future = self._pool.submit(self._on_pool_run, fn, item, stop)
                    started[index] = future
                    running.add(future)
                while following in started and started[following].done():
                    yield started.pop(following).result()
                    following += 1
                if not running:
                    return
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                running -= done
                failed = failed or any(f.exception() is not None for f in done)
        finally:
            # What has not started never starts; what runs finishes before the caller goes on.
            stop.set()
            wait(running)

    def _on_pool_run(self, fn: Callable[[_Item], _Result], item: _Item,
                     stop: threading.Event) -> _Result:
        self._on_pool.active, self._on_pool.stop = True, stop
        try:
            return fn(item)
        finally:
            self._on_pool.active, self._on_pool.stop = False, None

    def _sleep(self, seconds: float) -> None:
        """Sleep before a retry; on the pool, end early when the map it serves was stopped."""
        stop: threading.Event | None = getattr(self._on_pool, "stop", None)
        if stop is None:
            time.sleep(seconds)  # the main thread: a signal interrupts the sleep
        elif stop.wait(seconds):
            raise CancelledError("the work this belongs to was stopped")

    # -- objects ------------------------------------------------------------------------------

    def list(
        self,
        res: ApiResource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> list[dict[str, Any]]:
        return list(self.iter_list(res, namespace, label_selector=label_selector,
                                   page_size=page_size))

    def iter_list(
        self,
        res: ApiResource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[dict[str, Any]]:
        """Every object of ``res`` (in ``namespace``, or everywhere), one page at a time."""
        path = _collection_path(res, namespace if res.namespaced else None)
        where = _describe(res, namespace if res.namespaced else None)
        if res.namespaced and not namespace:
            where += " in all namespaces"
        query: dict[str, str | int] = {"limit": page_size}
        if label_selector:
            query["labelSelector"] = label_selector
        while True:
            page = self.request("GET", path, query=query, verb="list", where=where)
            for item in page.get("items") or []:
                # List items come without apiVersion and kind; every consumer needs them.
                item["apiVersion"] = res.api_version
                item["kind"] = res.kind
                yield item
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return
            query["continue"] = token

    def get(self, res: ApiResource, namespace: str, name: str) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        try:
            obj: dict[str, Any] = self.request(
                "GET", _object_path(res, namespace, name), verb="get",
                where=_describe(res, namespace, name),
            )
        except NotFound:
            return None
        return obj

    def create(
        self, res: ApiResource, obj: Mapping[str, Any], *, dry_run: bool = False
    ) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "")
        query: dict[str, str | int] = {"fieldManager": FIELD_MANAGER}
        if dry_run:
            query["dryRun"] = "All"
        created: dict[str, Any] = self.request(
            "POST", _collection_path(res, namespace or None), query=query, body=dict(obj),
            verb="create", where=_describe(res, namespace, meta.get("name")),
            profile=WRITE if meta.get("name") else CREATE_GENERATED,
        )
        return created

    def replace(self, res: ApiResource, obj: Mapping[str, Any]) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name"))
        replaced: dict[str, Any] = self.request(
            "PUT", _object_path(res, namespace, name), query={"fieldManager": FIELD_MANAGER},
            body=dict(obj), verb="update", where=_describe(res, namespace, name),
        )
        return replaced

    def merge_patch(
        self,
        res: ApiResource,
        namespace: str,
        name: str,
        patch: Mapping[str, Any],
        *,
        subresource: str | None = None,
        field_manager: str = FIELD_MANAGER,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Merge-patch an object; with ``dry_run`` the server authorizes, admits and validates
        the patch exactly as the real one, and persists nothing."""
        path = _object_path(res, namespace, name) + (f"/{subresource}" if subresource else "")
        query: dict[str, str | int] = {"fieldManager": field_manager}
        if dry_run:
            query["dryRun"] = "All"
        patched: dict[str, Any] = self.request(
            "PATCH", path, query=query, body=dict(patch),
            content_type="application/merge-patch+json", verb="patch",
            where=_describe(res, namespace, name),
        )
        return patched

    def delete(self, res: ApiResource, namespace: str, name: str,
               *, uid: str | None = None, propagation: str = "Background") -> bool:
        """Delete; True when a delete was accepted, False when the object was already gone.

        With ``uid`` the server refuses (409) to delete an object recreated since under the
        same name, so we never remove something we did not mean to.
        """
        try:
            self.delete_object(res, namespace, name, uid=uid, propagation=propagation)
        except NotFound:
            return False
        return True

    def delete_object(self, res: ApiResource, namespace: str, name: str,
                      *, uid: str | None = None, propagation: str = "Background"
                      ) -> dict[str, Any] | None:
        """Delete; None when the object is gone, else the object as it stays, terminating.

        Finalizers hold a deleted object, and so do Orphan and Foreground propagation: the API
        server adds the ``orphan`` or ``foregroundDeletion`` finalizer, which only the garbage
        collector removes. A missing object raises NotFound; ``uid`` as in :meth:`delete`.
        """
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions",
                                "propagationPolicy": propagation}
        if uid:
            body["preconditions"] = {"uid": uid}
        answer: dict[str, Any] = self.request(
            "DELETE", _object_path(res, namespace, name), body=body, verb="delete",
            where=_describe(res, namespace, name))
        return None if answer.get("kind") == "Status" else answer


# -- helpers ------------------------------------------------------------------------------------

_insecure_warned: set[str] = set()
_insecure_lock = threading.Lock()


def _warn_insecure(server: str) -> None:
    """Say once per process and server that TLS is not verified, instead of urllib3's warning
    on every request (hundreds in one command)."""
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    with _insecure_lock:
        if server in _insecure_warned:
            return
        _insecure_warned.add(server)
    _log.warning("WARNING: insecure-skip-tls-verify: the certificate of %s is not verified; "
                 "the connection is insecure", server)


def _parse_resource_list(group: str, version: str, listing: Mapping[str, Any]) -> list[ApiResource]:
    entries = listing.get("resources") or []
    found = []
    for entry in entries:
        name = str(entry.get("name", ""))
        if "/" in name:
            continue
        found.append(ApiResource(
            group=group,
            version=version,
            kind=str(entry.get("kind", "")),
            plural=name,
            namespaced=bool(entry.get("namespaced")),
            verbs=frozenset(entry.get("verbs") or ()),
        ))
    return found


def _collection_path(res: ApiResource, namespace: str | None) -> str:
    root = f"/apis/{res.group}/{res.version}" if res.group else f"/api/{res.version}"
    if namespace:
        return f"{root}/namespaces/{quote(namespace, safe='')}/{res.plural}"
    return f"{root}/{res.plural}"


def _object_path(res: ApiResource, namespace: str, name: str) -> str:
    return f"{_collection_path(res, namespace or None)}/{quote(name, safe='')}"


def _describe(res: ApiResource, namespace: str | None, name: str | None = None) -> str:
    text = str(res)
    if name:
        text += f" {name}"
    if namespace:
        text += f" in namespace {namespace}"
    return text


def _without_userinfo(url: str) -> str:
    """``url`` without a ``user:password@`` part."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _retry_after(err: ApiException) -> float | None:
    headers = err.headers or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _api_error(err: ApiException, verb: str, where: str) -> KubeApiError:
    reason = str(err.reason or "")
    message = ""
    try:
        status = json.loads(err.body or "{}")
        reason = str(status.get("reason") or reason)
        message = str(status.get("message") or "")
    except (ValueError, TypeError):
        message = _first_line(str(err.body or ""))
    return api_error(int(err.status or 0), reason, message, verb, where)


def _transient_error(err: Exception, verb: str, where: str, server: str) -> Exception:
    if _answered(err):
        return _api_error(err, verb, where)
    return ClusterUnreachable(f"cannot reach {server}: {_unreachable_reason(err)} ({verb} {where})")


def _causes(err: BaseException) -> Iterator[BaseException]:
    """``err`` and what it wraps: urllib3's ``reason``, then Python's cause and context."""
    seen: set[int] = set()
    pending: list[BaseException] = [err]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [e for e in (getattr(current, "reason", None), current.__cause__,
                                current.__context__) if isinstance(e, BaseException)]


def _unreachable_reason(err: Exception) -> str:
    """Why no answer came, in a few words: never urllib3's pool, retry and URL internals."""
    causes = list(_causes(err))
    # Most telling first: urllib3 files a refused connection under its timeouts, too.
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS verification failed: {cause.verify_message or cause.reason}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS failed: {cause.reason or _first_line(cause)}"
        if isinstance(cause, socket.gaierror):
            return "host name not resolved"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ConnectionResetError):
            return "connection reset by the server"
    for cause in causes:
        if isinstance(cause, TimeoutError | urllib3.exceptions.TimeoutError):
            return "timed out"
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
    for cause in causes:
        if isinstance(cause, urllib3.exceptions.ProtocolError | ConnectionError):
            return "the connection closed before the answer"
    return type(err).__name__


def _kubeconfig_files(kubeconfig: str | Path | None) -> list[Path]:
    """The files the kubernetes client reads: the one given, $KUBECONFIG's, or the default."""
    if kubeconfig:
        return [Path(kubeconfig)]
    listed = [Path(p) for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return listed or [Path("~/.kube/config").expanduser()]


def _kubeconfig_problem(kubeconfig: str | Path | None, context: str | None) -> str | None:
    """What is wrong with the kubeconfig, in the words a user can act on: the missing file, the
    line of a YAML error, or the contexts there are instead of the one asked for."""
    files = _kubeconfig_files(kubeconfig)
    present = [path for path in files if path.exists()]
    if not present:
        names = ", ".join(str(path) for path in files)
        return (f"kubeconfig {names} does not exist" if kubeconfig or len(files) > 1 else
                f"no kubeconfig: {names} does not exist (give --kubeconfig or set KUBECONFIG)")
    contexts: list[str] = []
    current = None
    for path in present:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as err:
            return f"cannot read kubeconfig {path}: {err.strerror or _first_line(err)}"
        except UnicodeDecodeError:
            return f"kubeconfig {path} is not UTF-8 text"
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f"{path}, line {mark.line + 1}" if mark is not None else str(path)
            return f"kubeconfig {where}: not valid YAML: {getattr(err, 'problem', None) or err}"
        if not isinstance(document, dict):
            return f"kubeconfig {path} is not a kubeconfig: no clusters, users or contexts"
        contexts += [str(entry["name"]) for entry in document.get("contexts") or ()
                     if isinstance(entry, dict) and entry.get("name")]
        current = current or document.get("current-context")
    wanted = context or current
    available = ", ".join(sorted(set(contexts))) or "none"
    where = ", ".join(str(path) for path in present)
    if not wanted:
        return f"kubeconfig {where} sets no current-context; give --context (one of: {available})"
    if wanted not in contexts:
        which = "context" if context else "current-context"
        return f"{which} {wanted!r} is not in kubeconfig {where}; available contexts: {available}"
    return None


def _never_processed(err: Exception) -> bool:
    """Whether the server surely did not act: it asked us to slow down, or was never reached."""
    if isinstance(err, ApiException):
        return int(err.status or 0) == 429
    # NewConnectionError (refused, no route) is a ConnectTimeoutError: no byte was sent.
    return isinstance(err, urllib3.exceptions.ConnectTimeoutError | ConnectionRefusedError)


def _answered(err: Exception) -> TypeGuard[ApiException]:
    """Whether the server answered: the client files a failed TLS handshake as status 0."""
    return isinstance(err, ApiException) and int(err.status or 0) != 0


def _brief(err: Exception) -> str:
    if _answered(err):
        return f"{err.status} {err.reason}"
    return _unreachable_reason(err)


def _first_line(err: object) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
