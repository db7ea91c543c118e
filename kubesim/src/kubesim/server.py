"""The HTTP front of kubesim: routing, authentication, authorization, discovery, the REST verbs.

Request handling follows the apiserver's handler chain: authenticate (bearer token), resolve
the request to (verb, group, version, resource, namespace, name, subresource), authorize,
then the REST handler. Injected faults and latency apply after authentication.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import yaml

from kubesim import fields, gojson, patch, protobuf, status, tables
from kubesim.controls import Controls, RequestRecord, Rule
from kubesim.jsoncopy import clone
from kubesim.registry import Registry, ResourceType, discovery_resources
from kubesim.selectors import (
    FieldSelector,
    LabelSelector,
    fields_match,
    labels_match,
    parse_fields,
    parse_labels,
)
from kubesim.store import Store, WriteContext, at_version, now_rfc3339

Json = dict[str, Any]

KUBERNETES_VERSION = {
    "major": "1", "minor": "36", "emulationMajor": "1", "emulationMinor": "36",
    "minCompatibilityMajor": "1", "minCompatibilityMinor": "35", "gitVersion": "v1.36.0",
    "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
    "buildDate": "2026-04-22T00:00:00Z", "goVersion": "go1.25.0", "compiler": "gc",
    "platform": "linux/amd64",
}
# The groups a kube-apiserver serves itself: in any other group (a CRD's, or none) a path it
# cannot route falls through to the plain-text "404 page not found" handler.
APISERVER_GROUPS = frozenset({
    "admissionregistration.k8s.io", "apiextensions.k8s.io", "apiregistration.k8s.io", "apps",
    "authentication.k8s.io", "authorization.k8s.io", "autoscaling", "batch",
    "certificates.k8s.io", "coordination.k8s.io", "discovery.k8s.io", "events.k8s.io",
    "flowcontrol.apiserver.k8s.io", "networking.k8s.io", "node.k8s.io", "policy",
    "rbac.authorization.k8s.io", "resource.k8s.io", "scheduling.k8s.io", "storage.k8s.io"})
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
CUSTOM_PATCH_TYPES = [JSON_PATCH, MERGE_PATCH, APPLY_PATCH]
BUILTIN_PATCH_TYPES = [JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH]
DEFAULT_WATCH_SECONDS = 1800
_JSON_HEADERS = "Content-Type: application/json\r\nCache-Control: no-cache, private\r\n"
_NON_RESOURCE_PUBLIC = ("/version", "/healthz", "/livez", "/readyz")

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@dataclass(frozen=True)
class Identity:
    user: str
    rules: tuple[Rule, ...] | None  # None: every right (system:masters)


@dataclass
class Route:
    group: str
    version: str
    plural: str
    namespace: str | None
    name: str | None
    subresource: str


class _Drop(Exception):
    """Close the connection without answering."""


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], api: Api,
                 tls_context: ssl.SSLContext | None) -> None:
        self.api = api
        self.tls_context = tls_context
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-request (killed, timed out) is routine for an API
        # server, not a traceback on stderr; anything else is still reported.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        if self.tls_context is not None:
            try:
                request = self.tls_context.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                self.shutdown_request(request)
                return
        with self.connections_lock:
            self.connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.connections_lock:
                self.connections.discard(request)

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for conn in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is kept in memory instead

    def do_GET(self) -> None:
        self.server.api.handle(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length:
            return self.rfile.read(int(length))
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    #: Called with the status code just before the answer's first byte is written.
    answering: Callable[[int], None] | None = None

    def send(self, code: int, body: bytes, headers: str = _JSON_HEADERS) -> None:
        if self.answering is not None:
            self.answering(code)
        head = (f"HTTP/1.1 {code} {self.responses.get(code, ('',))[0]}\r\n{headers}"
                f"Content-Length: {len(body)}\r\n\r\n")
        self.wfile.write(head.encode("latin-1") + body)


class Api:
    """Everything behind the socket; one per KubeSim."""

    def __init__(self, store: Store, registry: Registry, controls: Controls,
                 tokens: dict[str, Identity], anonymous_auth: bool) -> None:
        self.store = store
        self.registry = registry
        self.controls = controls
        self.tokens = tokens
        self.anonymous_auth = anonymous_auth
        self.request_log: list[RequestRecord] = []
        self.stopping = threading.Event()
        self.server_address = ""
        self._discovery_cache: dict[str, bytes] = {}
        self._discovery_generation = -1

    # ---------------------------------------------------------------- entry point

    def handle(self, h: Handler) -> None:
        method = h.command
        path, _, query = h.path.partition("?")
        user = ""
        verb = ""
        code = 500
        logged = False

        def log(answer: int) -> None:
            # Before the answer leaves: a client that has its answer finds its request logged.
            nonlocal logged
            if not logged:
                logged = True
                self.request_log.append(RequestRecord(method, path, query, user, answer, verb))

        h.answering = log
        try:
            body = h.read_body() if method in ("POST", "PUT", "PATCH", "DELETE") else b""
            cutoff = self.controls.cutoff
            if cutoff is not None and not cutoff.admit():
                raise _Drop()
            identity = self._authenticate(h)
            user = identity.user
            params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True)) if query else {}
            if path.startswith("/api/") or path.startswith("/apis/"):
                route = self._route(path)
            else:
                route = None
            if route is None or not route.plural:
                self._faults(identity, discovery=True)
                code = self._non_resource(h, method, path, identity, route)
                return
            rt = self.registry.served(route.group, route.version, route.plural)
            if rt is None:
                self._faults(identity, discovery=False)
                if route.group and route.group not in APISERVER_GROUPS:
                    code = _page_not_found(h)
                    return
                raise status.not_found_path()
            verb = _verb(method, route, params)
            self._authorize(identity, verb, rt, route)
            self._faults(identity, discovery=False)
            code = self._resource(h, method, verb, rt, route, params, body, identity)
        except status.ApiError as err:
            code = err.code
            self._send_error(h, err)
        except _Drop:
            code = 0
            h.close_connection = True
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)
        except (BrokenPipeError, ConnectionResetError):
            code = 0
            h.close_connection = True
        except Exception as err:
            code = 500
            self._send_error(h, status.internal_error(f"{type(err).__name__}: {err}"))
        finally:
            log(code)  # never answered: dropped, or the client went away first

    def _send_error(self, h: Handler, err: status.ApiError) -> None:
        headers = _JSON_HEADERS + "".join(f"{k}: {v}\r\n" for k, v in err.headers.items())
        try:
            h.send(err.code, _dumps(err.status).encode() + b"\n", headers)
        except OSError:
            h.close_connection = True

    # ---------------------------------------------------------------- authn / authz / faults

    def _authenticate(self, h: Handler) -> Identity:
        header = h.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            identity = self.tokens.get(token.strip())
            if identity is None:
                raise status.unauthorized()
            return identity
        if header or not self.anonymous_auth:
            raise status.unauthorized()
        return Identity("system:anonymous", ())

    def _authorize(self, identity: Identity, verb: str, rt: ResourceType, route: Route) -> None:
        if identity.rules is None:
            return
        resource = rt.plural + (f"/{route.subresource}" if route.subresource else "")
        namespace = route.namespace or ""
        if rt.plural == "namespaces" and not rt.group and route.name:
            namespace = route.name  # RequestInfo treats a namespace's own name as its namespace
        if any(r.allows(verb, rt.group, resource, namespace) for r in identity.rules):
            return
        where = (f'in the namespace "{namespace}"' if namespace else "at the cluster scope")
        raise status.forbidden(
            rt.group, rt.plural, route.name or "",
            f'User "{identity.user}" cannot {verb} resource "{resource}" in API group '
            f'"{rt.group}" {where}')

    def _faults(self, identity: Identity, discovery: bool) -> None:
        controls = self.controls
        if discovery and not controls.faults_include_discovery:
            return
        if controls.latency_ms > 0:
            time.sleep(controls.latency_ms / 1000)
        fault = controls.random_fault()
        if fault is not None:
            if fault.drop:
                raise _Drop()
            assert fault.error is not None
            raise fault.error

    # ---------------------------------------------------------------- routing

    def _route(self, path: str) -> Route | None:
        parts = [p for p in path.split("/") if p]
        if parts[0] == "api":
            if len(parts) < 2:
                return None
            group, version, rest = "", parts[1], parts[2:]
        else:
            if len(parts) < 3:
                return None
            group, version, rest = parts[1], parts[2], parts[3:]
        if not rest:
            return Route(group, version, "", None, None, "")
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3 and not (
                not group and len(rest) == 3 and rest[2] in ("status", "finalize")):
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise status.not_found_path()
        return Route(group, version, rest[0], namespace, rest[1] if len(rest) > 1 else None,
                     rest[2] if len(rest) > 2 else "")

    # ---------------------------------------------------------------- discovery

    def _non_resource(self, h: Handler, method: str, path: str, identity: Identity,
                      route: Route | None) -> int:
        if identity.user == "system:anonymous" and path.rstrip("/") not in _NON_RESOURCE_PUBLIC:
            raise status.forbidden("", "", "", f'User "system:anonymous" cannot '
                                   f'{method.lower()} path "{path}"')
        if method != "GET":
            raise status.method_not_allowed()
        if path in ("/healthz", "/livez", "/readyz"):
            h.send(200, b"ok", "Content-Type: text/plain; charset=utf-8\r\n")
            return 200
        if path.startswith("/openapi/v3"):
            body = self._openapi_v3(path.rstrip("/"))
        else:
            body = self._discovery(path.rstrip("/"), route)
        if body is None:
            if not (path.startswith("/api/") or path.startswith("/apis/")):
                return _page_not_found(h)  # the apiserver's NotFound handler answers in text
            raise status.not_found_path()
        h.send(200, body)
        return 200

    def _discovery(self, path: str, route: Route | None) -> bytes | None:
        if self._discovery_generation != self.registry.generation:
            self._discovery_cache = {}
            self._discovery_generation = self.registry.generation
        cached = self._discovery_cache.get(path)
        if cached is not None:
            return cached
        doc = self._discovery_doc(path, route)
        if doc is None:
            return None
        body = _dumps(doc).encode() + b"\n"
        self._discovery_cache[path] = body
        return body

    def _openapi_v3(self, path: str) -> bytes | None:
        """Enough OpenAPI v3 for kubectl to see that the server does field validation itself:
        each kind's PATCH operation with its query parameters, and no schemas."""
        cached = self._discovery(path, None) if path in self._discovery_cache else None
        if cached is not None:
            return cached
        by_group_version: dict[str, list[ResourceType]] = {}
        for rt in self.registry.all():
            for version in rt.versions:
                key = f"apis/{rt.group}/{version}" if rt.group else f"api/{version}"
                by_group_version.setdefault(key, []).append(rt)
        if path == "/openapi/v3":
            doc: Json = {"paths": {key: {"serverRelativeURL": f"/openapi/v3/{key}?hash="
                                         f"{self.registry.generation:016X}"}
                                   for key in sorted(by_group_version)}}
        else:
            key = path.removeprefix("/openapi/v3/")
            rts = by_group_version.get(key)
            if rts is None:
                return None
            version = key.rsplit("/", 1)[1]
            doc = {"openapi": "3.0.0",
                   "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION["gitVersion"]},
                   "paths": {_item_path(rt, version): {"patch": _patch_operation(rt, version)}
                             for rt in sorted(rts, key=lambda r: r.plural)},
                   "components": {"schemas": {}}}
        body = _dumps(doc).encode() + b"\n"
        self._discovery_cache[path] = body
        return body

    def _discovery_doc(self, path: str, route: Route | None) -> Json | None:
        if path == "/version":
            return KUBERNETES_VERSION
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": self.server_address}]}
        groups = self.registry.groups()
        if path == "/apis":
            return {"kind": "APIGroupList", "apiVersion": "v1",
                    "groups": [_group_doc(g, vs) for g, vs in groups]}
        parts = path.split("/")
        if len(parts) == 3 and parts[1] == "apis":
            for g, vs in groups:
                if g == parts[2]:
                    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(g, vs)}
            return None
        if route is not None and not route.plural:
            rts = self.registry.resources_of(route.group, route.version)
            if not rts:
                return None
            group_version = f"{route.group}/{route.version}" if route.group else route.version
            return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
                    "resources": discovery_resources(rts, route.version)}
        return None

    # ---------------------------------------------------------------- resources

    def _resource(self, h: Handler, method: str, verb: str, rt: ResourceType, route: Route,
                  params: dict[str, str], body: bytes, identity: Identity) -> int:
        if rt.namespaced and route.namespace is None and verb not in ("list", "watch"):
            if route.name is not None:
                raise status.not_found_path()
            raise status.method_not_allowed()
        if not rt.namespaced and route.namespace is not None:
            raise status.not_found_path()
        if route.subresource and not _serves_subresource(rt, route.subresource, method):
            if route.subresource in ("status", "finalize", "scale") and _has_subresource(
                    rt, route.subresource):
                raise status.method_not_allowed()
            raise status.not_found_path()
        namespace = route.namespace or ""
        version = route.version
        ctx = WriteContext(
            manager=params.get("fieldManager") or _user_agent_prefix(h.headers.get(
                "User-Agent", "")),
            version=version,
            dry_run=params.get("dryRun") == "All",
            field_validation=params.get("fieldValidation") or "Warn")
        if ctx.field_validation not in ("Ignore", "Warn", "Strict"):
            raise status.bad_request(f"fieldValidation parameter unsupported: "
                                     f"{ctx.field_validation}; use Ignore, Warn or Strict")
        if "dryRun" in params and params["dryRun"] not in ("All", ""):
            raise status.invalid("meta.k8s.io", "CreateOptions", "", [
                f'dryRun: Unsupported value: "{params["dryRun"]}": supported values: "All"'])
        if verb in ("get", "list", "watch"):
            return self._read(h, verb, rt, route, params)
        if verb == "create":
            fault = self.controls.create_fault(rt.kind)
            if fault is not None:
                if fault.drop:
                    raise _Drop()
                assert fault.error is not None
                raise fault.error
            obj = _decode_body(h, body, rt)
            _check_type_meta(obj, rt, version, creating=True)
            meta_ns = (obj.get("metadata") or {}).get("namespace") if isinstance(
                obj.get("metadata"), dict) else None
            if rt.namespaced and meta_ns and meta_ns != namespace:
                raise status.bad_request("the namespace of the provided object does not match "
                                         "the namespace sent on the request")
            created = self.store.create_object(rt, namespace, obj, ctx)
            return self._reply(h, 201, at_version(created, rt, version), ctx)
        if verb == "update":
            assert route.name is not None
            obj = _decode_body(h, body, rt)
            _check_type_meta(obj, rt, version, creating=False)
            if route.subresource == "finalize":
                return self._finalize_namespace(h, route.name, obj, ctx)
            updated = self.store.update_object(rt, namespace, route.name, obj, ctx,
                                               route.subresource)
            return self._reply(h, 200, at_version(updated, rt, version), ctx)
        if verb == "patch":
            assert route.name is not None
            return self._patch(h, rt, route, params, body, ctx)
        if verb == "delete":
            assert route.name is not None
            options = _delete_options(h, body, params)
            ctx.dry_run = "All" in (options.get("dryRun") or [])  # a body hides the query
            result = self.store.delete_object(rt, namespace, route.name, options, ctx)
            code = 200
            if result.get("kind") != "Status":
                result = at_version(result, rt, version)
                # Only an explicit orphanDependents=false answers a pending delete with 202.
                code = 202 if options.get("orphanDependents") is False else 200
            return self._reply(h, code, result, ctx)
        if verb == "deletecollection":
            options = _delete_options(h, body, params)
            ctx.dry_run = "All" in (options.get("dryRun") or [])  # a body hides the query
            listed = self.store.list_objects(rt, route.namespace, *self._selectors(rt, params))
            deleted = []
            for obj in listed.items:
                meta = obj["metadata"]
                try:
                    result = self.store.delete_object(rt, meta.get("namespace", ""),
                                                      meta["name"], options, ctx)
                except status.ApiError as err:
                    if err.code != 404:
                        raise
                    continue
                deleted.append(at_version(obj if result.get("kind") == "Status" else result,
                                          rt, version))
            return self._reply(h, 200, self._list_doc(rt, version, deleted, {}), ctx)
        raise status.method_not_allowed()

    def _finalize_namespace(self, h: Handler, name: str, obj: Json, ctx: WriteContext) -> int:
        rt = self.registry.get("", "namespaces")
        assert rt is not None
        finalizers = list((obj.get("spec") or {}).get("finalizers") or [])

        def finalize(ns: Json) -> Json:
            ns["spec"]["finalizers"] = finalizers
            return ns

        with self.store.lock():
            result = self.store.mutate("", "namespaces", "", name, finalize, manager=ctx.manager)
            if result is None:
                raise status.not_found("", "namespaces", name)
            if not finalizers and result["metadata"].get("deletionTimestamp"):
                self.store.finalize_namespace(name)
        return self._reply(h, 200, result, ctx)

    def _selectors(self, rt: ResourceType, params: dict[str, str]) -> tuple[LabelSelector,
                                                                            FieldSelector]:
        labels = parse_labels(params["labelSelector"]) if params.get("labelSelector") else ()
        supported = ("metadata.name",) + (("metadata.namespace",) if rt.namespaced else ()) + \
            rt.field_labels
        field_sel = parse_fields(params["fieldSelector"], supported) if params.get(
            "fieldSelector") else ()
        return labels, field_sel

    def _read(self, h: Handler, verb: str, rt: ResourceType, route: Route,
              params: dict[str, str]) -> int:
        version = route.version
        accept = h.headers.get("Accept", "")
        as_table = "as=Table" in accept
        if verb == "get":
            assert route.name is not None
            obj = at_version(self.store.get_object(rt, route.namespace or "", route.name), rt,
                             version)
            if as_table:
                doc = tables.table(rt, version, [obj], {"resourceVersion": obj["metadata"].get(
                    "resourceVersion", "")}, params.get("includeObject", "Metadata"))
                h.send(200, _dumps(doc).encode() + b"\n")
                return 200
            h.send(200, _dumps(obj).encode() + b"\n")
            return 200
        labels, field_sel = self._selectors(rt, params)
        if verb == "watch":
            return self._watch(h, rt, route, params, labels, field_sel)
        if params.get("continue") and params.get("resourceVersion"):
            raise status.bad_request("specifying resource version is not allowed when using "
                                     "continue")
        try:
            limit = int(params.get("limit") or 0)
        except ValueError:
            raise status.bad_request(f"limit: Invalid value: {params['limit']}") from None
        listed = self.store.list_objects(rt, route.namespace, labels, field_sel, max(limit, 0),
                                         params.get("continue", ""))
        list_meta: Json = {"resourceVersion": listed.resource_version}
        if listed.continue_token:
            list_meta["continue"] = listed.continue_token
        if listed.remaining is not None:
            list_meta["remainingItemCount"] = listed.remaining
        if as_table:
            items = [at_version(o, rt, version) for o in listed.items]
            doc = tables.table(rt, version, items, list_meta,
                               params.get("includeObject", "Metadata"))
        else:
            doc = self._list_doc(rt, version, listed.items, list_meta)
        h.send(200, _dumps(doc).encode() + b"\n")
        return 200

    def _list_doc(self, rt: ResourceType, version: str, items: list[Json],
                  list_meta: Json) -> Json:
        if rt.builtin:
            # Typed lists carry no apiVersion/kind on their items, unlike custom resources.
            shown = [{k: v for k, v in o.items() if k not in ("apiVersion", "kind")}
                     for o in items]
        else:
            shown = [at_version(o, rt, version) for o in items]
        return {"apiVersion": rt.api_version(version), "items": shown, "kind": rt.list_kind,
                "metadata": list_meta}

    def _reply(self, h: Handler, code: int, obj: Json, ctx: WriteContext) -> int:
        headers = _JSON_HEADERS
        if ctx.warnings:
            headers += "".join(f'Warning: 299 - {json.dumps(w)}\r\n' for w in ctx.warnings)
        h.send(code, _dumps(obj).encode() + b"\n", headers)
        return code

    # ---------------------------------------------------------------- patch

    def _patch(self, h: Handler, rt: ResourceType, route: Route, params: dict[str, str],
               body: bytes, ctx: WriteContext) -> int:
        assert route.name is not None
        content_type = _content_type(h)
        accepted = BUILTIN_PATCH_TYPES if rt.builtin else CUSTOM_PATCH_TYPES
        if content_type not in accepted:
            raise status.unsupported_media_type(accepted)
        force = params.get("force")
        if content_type == APPLY_PATCH:
            if not params.get("fieldManager"):
                raise status.invalid("meta.k8s.io", "PatchOptions", "", [
                    "fieldManager: Required value: is required for apply patch"])
            return self._apply(h, rt, route, body, ctx, force in ("true", "1", "True"))
        if force is not None:
            raise status.invalid("meta.k8s.io", "PatchOptions", "", [
                "force: Forbidden: may not be specified for non-apply patch"])
        namespace = route.namespace or ""
        with self.store.lock():
            # The object is read before the patch is decoded: a bad patch to a missing object
            # is 404.
            live = self.store.get_object(rt, namespace, route.name)
            try:
                document = gojson.loads(body or b"null")
            except (gojson.GoSyntaxError, gojson.GoRangeError) as err:
                # The strategic merge patcher returns the decoder's error as it is.
                prefix = "" if content_type == STRATEGIC_PATCH else "error decoding patch: "
                raise status.bad_request(f"{prefix}{err}") from None
            current = clone(at_version(live, rt, route.version))
            try:
                if content_type == JSON_PATCH:
                    if not isinstance(document, list):
                        raise status.bad_request("json: cannot unmarshal object into Go value of "
                                                 "type jsonpatch.Patch")
                    patched = patch.json_patch(current, document)
                elif content_type == MERGE_PATCH:
                    patched = patch.merge_patch(current, document)
                else:
                    if not isinstance(document, dict):
                        raise status.bad_request("json: cannot unmarshal into "
                                                 "map[string]interface{}")
                    patched = patch.strategic_merge_patch(current, document, rt.kind)
            except patch.PatchError as err:
                raise _patch_error(err) from None
            if not isinstance(patched, dict):
                raise status.bad_request("the patched object is not an object")
            meta = patched.get("metadata")
            if isinstance(meta, dict) and not meta.get("resourceVersion"):
                meta["resourceVersion"] = live["metadata"]["resourceVersion"]
            updated = self.store.update_object(rt, namespace, route.name, patched, ctx,
                                               route.subresource, patched=True)
        return self._reply(h, 200, at_version(updated, rt, route.version), ctx)

    def _apply(self, h: Handler, rt: ResourceType, route: Route, body: bytes,
               ctx: WriteContext, force: bool) -> int:
        assert route.name is not None
        try:
            applied = yaml.load(body, Loader=_YamlLoader)
        except yaml.YAMLError as err:
            raise status.bad_request(f"error decoding YAML: {err}") from None
        if not isinstance(applied, dict):
            raise status.bad_request("error decoding YAML: the object must be a map")
        _check_type_meta(applied, rt, route.version, creating=True)
        meta: Json = applied["metadata"] if isinstance(applied.get("metadata"), dict) else {}
        if meta.get("name") and meta["name"] != route.name:
            raise status.bad_request(f"the name of the object ({meta['name']}) does not match the "
                                     f"name on the URL ({route.name})")
        namespace = route.namespace or ""
        now = now_rfc3339()
        manager = ctx.manager
        with self.store.lock():
            live = self.store.find((rt.group, rt.plural, namespace, route.name))
            if live is None:
                if route.subresource:
                    raise status.not_found(rt.group, rt.plural, route.name)
                body_obj = clone(applied)
                body_obj.setdefault("metadata", {})["name"] = route.name

                def apply_create(prepared: Json) -> Json:
                    return self._run_apply(None, prepared, manager, force, now, rt,
                                           route.version, "")

                created = self.store.create_object(rt, namespace, body_obj, ctx,
                                                   applied=apply_create)
                return self._reply(h, 201, at_version(created, rt, route.version), ctx)
            current = clone(at_version(live, rt, route.version))
            merged = self._run_apply(current, applied, manager, force, now, rt, route.version,
                                     route.subresource)
            merged.setdefault("metadata", {})["resourceVersion"] = live["metadata"][
                "resourceVersion"]
            updated = self.store.update_object(rt, namespace, route.name, merged, ctx,
                                               route.subresource, applied=True)
        return self._reply(h, 200, at_version(updated, rt, route.version), ctx)

    @staticmethod
    def _run_apply(live: Json | None, applied: Json, manager: str, force: bool, now: str,
                   rt: ResourceType, version: str, subresource: str) -> Json:
        try:
            return fields.apply(live, applied, manager, force, now,
                                schema=rt.schemas.get(version),
                                status_subresource=rt.status_subresource,
                                subresource=subresource)
        except fields.ApplyConflict as err:
            raise status.ApiError(409, "Conflict", err.message, {"causes": err.causes}) from None
        except patch.PatchError as err:
            raise _patch_error(err) from None

    # ---------------------------------------------------------------- watch

    def _watch(self, h: Handler, rt: ResourceType, route: Route, params: dict[str, str],
               labels: LabelSelector, field_sel: FieldSelector) -> int:
        try:
            timeout = float(params.get("timeoutSeconds") or DEFAULT_WATCH_SECONDS)
        except ValueError:
            raise status.bad_request("timeoutSeconds must be a number") from None
        deadline = time.monotonic() + timeout
        rv = params.get("resourceVersion", "")
        namespace = route.namespace
        version = route.version
        initial: list[Json] = []
        error: status.ApiError | None = None
        position = 0
        if rv in ("", "0"):
            initial, position = self.store.snapshot(rt, namespace)
        else:
            try:
                position = self.store.watch_start(int(rv))
            except ValueError:
                raise status.bad_request(f'resourceVersion: Invalid value: "{rv}"') from None
            except status.ApiError as err:
                error = err
        if h.answering is not None:
            h.answering(200)
        h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      b"Cache-Control: no-cache, private\r\nTransfer-Encoding: chunked\r\n\r\n")

        def matches(obj: Json | None) -> bool:
            if obj is None:
                return False
            return (labels_match(labels, obj) if labels else True) and (
                fields_match(field_sel, obj) if field_sel else True)

        def send(event_type: str, obj: Json) -> None:
            line = _dumps({"type": event_type, "object": obj}).encode() + b"\n"
            h.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")

        try:
            if error is not None:
                send("ERROR", error.status)
            else:
                for obj in initial:
                    if matches(obj):
                        send("ADDED", at_version(obj, rt, version))
                while not self.stopping.is_set():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    events, position = self.store.events_from(position, min(remaining, 0.5))
                    for event in events:
                        if event.group != rt.group or event.plural != rt.plural or (
                                namespace is not None and event.namespace != namespace):
                            continue
                        now_matches, was_matching = matches(event.obj), matches(event.old)
                        if event.type == "MODIFIED" and now_matches and not was_matching:
                            send("ADDED", at_version(event.obj, rt, version))
                        elif event.type == "MODIFIED" and was_matching and not now_matches:
                            send("DELETED", at_version(event.obj, rt, version))
                        elif (now_matches if event.type != "DELETED" else was_matching):
                            send(event.type, at_version(event.obj, rt, version))
            h.wfile.write(b"0\r\n\r\n")
        except status.ApiError as err:
            send("ERROR", err.status)
            h.wfile.write(b"0\r\n\r\n")
        except OSError:
            h.close_connection = True
        return 200


# ------------------------------------------------------------------ request decoding and rendering


class _YamlLoader(yaml.SafeLoader):
    pass


def _page_not_found(h: Handler) -> int:
    h.send(404, b"404 page not found\n",
           "Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n")
    return 404


def _group_doc(group: str, versions: list[str]) -> Json:
    listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": listed, "preferredVersion": listed[0]}


def _item_path(rt: ResourceType, version: str) -> str:
    prefix = f"/apis/{rt.group}/{version}" if rt.group else f"/api/{version}"
    scope = "/namespaces/{namespace}" if rt.namespaced else ""
    return f"{prefix}{scope}/{rt.plural}/{{name}}"


def _patch_operation(rt: ResourceType, version: str) -> Json:
    query = ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")
    return {
        "operationId": f"patch{rt.kind}",
        "parameters": [{"name": q, "in": "query", "schema": {"type": "string", "uniqueItems":
                                                              True}} for q in query],
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": {"group": rt.group, "version": version,
                                            "kind": rt.kind},
    }


def _verb(method: str, route: Route, params: dict[str, str]) -> str:
    if method in ("GET", "HEAD"):
        if route.name is not None:
            return "get"
        return "watch" if params.get("watch") in ("1", "true", "True") else "list"
    if method == "POST":
        if route.name is not None and not route.subresource:
            raise status.method_not_allowed()
        return "create"
    if route.name is None:
        if method == "DELETE":
            return "deletecollection"
        raise status.method_not_allowed()
    return {"PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method, "")


def _has_subresource(rt: ResourceType, sub: str) -> bool:
    if sub == "status":
        return rt.status_subresource
    if sub == "scale":
        return rt.scale_subresource
    return any(name == sub for name, _ in rt.extra_subresources)


def _serves_subresource(rt: ResourceType, sub: str, method: str) -> bool:
    if sub == "status":
        return rt.status_subresource and method in ("GET", "PUT", "PATCH")
    if sub == "finalize":
        return rt.plural == "namespaces" and not rt.group and method == "PUT"
    return False


def _user_agent_prefix(user_agent: str) -> str:
    prefix = user_agent.split("/")[0]
    return "".join(c for c in prefix if c.isprintable())[:128]


def _content_type(h: Handler) -> str:
    return h.headers.get("Content-Type", "").split(";")[0].strip().lower()


def _decode_body(h: Handler, body: bytes, rt: ResourceType) -> Json:
    content_type = _content_type(h)
    if content_type == protobuf.MEDIA_TYPE:
        if not rt.builtin:
            raise status.unsupported_media_type(["application/json", "application/yaml"])
        return protobuf.decode(body, rt.kind)
    unrecognized = (f"the object provided is unrecognized (must be of type {rt.kind}): "
                    "couldn't get version/kind; json parse error: ")
    if content_type == "application/yaml":
        try:
            obj = yaml.load(body, Loader=_YamlLoader)
        except yaml.YAMLError as err:
            raise status.bad_request(unrecognized + str(err)) from None
        if not isinstance(obj, dict):
            raise status.bad_request(unrecognized + "expected an object")
        return obj
    try:
        obj = gojson.loads(body)
    except gojson.GoSyntaxError as err:
        raise status.bad_request(f"{unrecognized}{err} ({gojson.summarize(body)})") from None
    except gojson.GoRangeError as err:
        # Only the typed decode after apiVersion and kind were found meets the number.
        raise status.bad_request(f"{rt.kind} in version {json.dumps(_body_version(body))} "
                                 f"cannot be handled as a {rt.kind}: {err}") from None
    if obj is None:
        return {}  # Go decodes null into an empty object
    if not isinstance(obj, dict):
        raise status.bad_request(
            f"{unrecognized}json: cannot unmarshal {gojson.unmarshal_kind(obj)} into Go value "
            f"of type {gojson.TYPE_META_STRUCT} ({gojson.summarize(body)})")
    return obj


def _body_version(body: bytes) -> str:
    """The version named by a body's apiVersion, read leniently (for an error message)."""
    marker = b'"apiVersion"'
    at = body.find(marker)
    if at < 0:
        return ""
    rest = body[at + len(marker):].lstrip(b" \t\r\n:")
    if not rest.startswith(b'"'):
        return ""
    api_version = rest[1:].split(b'"', 1)[0].decode(errors="replace")
    return api_version.rpartition("/")[2]


def _check_type_meta(obj: Json, rt: ResourceType, version: str, creating: bool) -> None:
    """The body's apiVersion and kind must name the resource of the URL."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    expected = rt.api_version(version)
    if not rt.builtin and not kind:
        raise status.bad_request(f"Object 'Kind' is missing in '{_dumps(obj)[:1024]}'")
    if not rt.builtin and not api_version:
        raise status.bad_request(f"Object 'apiVersion' is missing in '{_dumps(obj)[:1024]}'")
    if api_version and api_version != expected:
        raise status.bad_request(f"the API version in the data ({api_version}) does not match "
                                 f"the expected API version ({expected})")
    if kind and kind != rt.kind:
        raise status.bad_request(f"the kind in the data ({kind}) does not match the expected "
                                 f"kind ({rt.kind})")


def _delete_options(h: Handler, body: bytes, params: dict[str, str]) -> Json:
    """The DeleteOptions of a DELETE: from its body when it has one (the query is then
    ignored, as the real handler does), else from the query."""
    options: Json = {}
    if _content_type(h) == protobuf.MEDIA_TYPE and body:
        options = protobuf.decode(body, "DeleteOptions")
    elif body.strip():
        try:
            decoded = json.loads(body)
        except ValueError as err:
            raise status.bad_request(f"error decoding DeleteOptions: {err}") from None
        if isinstance(decoded, dict):
            options = decoded
    else:
        if params.get("propagationPolicy"):
            options["propagationPolicy"] = params["propagationPolicy"]
        if params.get("orphanDependents") in ("true", "false"):
            options["orphanDependents"] = params["orphanDependents"] == "true"
        if params.get("dryRun"):
            options["dryRun"] = [params["dryRun"]]
    policy = options.get("propagationPolicy")
    if policy is not None and policy not in ("Orphan", "Background", "Foreground"):
        raise status.invalid("meta.k8s.io", "DeleteOptions", "", [
            f'propagationPolicy: Unsupported value: "{policy}": supported values: "Foreground", '
            '"Background", "Orphan", "nil"'])
    if policy is not None and options.get("orphanDependents") is not None:
        raise status.invalid("meta.k8s.io", "DeleteOptions", "", [
            f'propagationPolicy: Invalid value: "{policy}": orphanDependents and '
            "deletionPropagation cannot be both set"])
    return options


def _patch_error(err: patch.PatchError) -> status.ApiError:
    """``NewGenericServerResponse`` keeps the detail of a patch failure as its one cause."""
    details: Json = {"causes": [{"message": err.detail}]} if err.detail != err.message else {}
    return status.ApiError(err.code, err.reason, err.message, details)
