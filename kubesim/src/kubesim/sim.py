"""``KubeSim``: one emulated API server, its store, its controls and its background loops."""

from __future__ import annotations

import base64
import contextlib
import functools
import importlib
import os
import secrets
import shutil
import socket
import tempfile
import threading
import urllib.parse
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from kubesim import tls as tls_certs
from kubesim.controls import WRITE_VERBS, Controls, RequestRecord, Rule
from kubesim.lifecycle import Lifecycle
from kubesim.registry import Registry
from kubesim.server import Api, Identity, Server
from kubesim.store import Store

ADMIN_USER = "kubernetes-admin"
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@functools.cache
def _shared_certs() -> tls_certs.ServingCerts:
    """One CA per process for plain-HTTP servers: it only fills kube-root-ca.crt ConfigMaps."""
    return tls_certs.generate()


class KubeSim:
    """An API server on 127.0.0.1 that the ``kubernetes`` client and ``kubectl`` talk to.

    Nothing listens until ``start()``; ``with KubeSim() as sim:`` starts and stops it.
    ``gc``: run the garbage collector, as every cluster's kube-controller-manager does (off, an
    Orphan or Foreground delete leaves the object terminating, as on a bare kube-apiserver).
    """

    def __init__(self, *, tls: bool = False, token: str | None = None, gc: bool = True,
                 port: int = 0, capi_controllers: bool = False, anonymous_auth: bool = False,
                 root_ca_publisher: bool = True, service_accounts: bool = True) -> None:
        self.tls = tls
        self.token = token or secrets.token_urlsafe(24)
        self.port = port
        self.registry = Registry()
        self.controls = Controls()
        self.store = Store(self.registry, self.controls)
        self._tokens: dict[str, Identity] = {self.token: Identity(ADMIN_USER, None)}
        self.api = Api(self.store, self.registry, self.controls, self._tokens, anonymous_auth)
        self._certs = tls_certs.generate() if tls else _shared_certs()
        # A cluster's kube-controller-manager publishes these into every namespace; a bare
        # kube-apiserver does not (switch both off to stand for one).
        self.lifecycle = Lifecycle(self.store, self._certs.ca_pem,
                                   root_ca_publisher=root_ca_publisher,
                                   service_accounts=service_accounts)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._scratch: str | None = None
        self._capi_controllers = capi_controllers
        self.controllers: Any = None
        self.gc = gc
        for name in SYSTEM_NAMESPACES:
            self.store.create({"apiVersion": "v1", "kind": "Namespace",
                               "metadata": {"name": name}}, manager="kube-apiserver")

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> KubeSim:
        if self._server is not None:
            return self
        context = self._certs.server_context() if self.tls else None
        self._server = Server(("127.0.0.1", self.port), self.api, context)
        self.port = self._server.server_address[1]
        self.api.server_address = f"127.0.0.1:{self.port}"
        self.api.stopping.clear()
        self.lifecycle.start()
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.5},
                                        name=f"kubesim-{self.port}", daemon=True)
        self._thread.start()
        if self._capi_controllers:
            try:
                module = importlib.import_module("kubesim.controllers")
            except ModuleNotFoundError:
                module = None
            if module is not None:
                self.controllers = module.CapiControllers(self)
                self.controllers.start()
        return self

    def stop(self) -> None:
        if self.controllers is not None:
            self.controllers.stop()
        if self._server is None:
            return
        self.api.stopping.set()
        with self.store.changed:
            self.store.changed.notify_all()  # wake watches so they end
        server = self._server
        stopper = threading.Thread(target=server.shutdown, daemon=True)
        stopper.start()
        # A connection wakes the accept loop at once instead of at its next poll.
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port),
                                                                     timeout=1):
            pass
        stopper.join()
        server.close_connections()
        self._server.server_close()
        self.lifecycle.stop()
        self._server = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def __enter__(self) -> KubeSim:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ---------------------------------------------------------------- access

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca_pem(self) -> bytes:
        return self._certs.ca_pem

    @property
    def gc(self) -> bool:
        return self.store.gc

    @gc.setter
    def gc(self, on: bool) -> None:
        was = self.store.gc
        self.store.gc = on
        if on and not was:
            self.lifecycle.gc_everything()

    def add_token(self, token: str, rules: Iterable[Rule] | None, user: str | None = None) -> None:
        """Accept ``token`` as ``user``; ``rules=None`` grants everything, else only ``rules``."""
        self._tokens[token] = Identity(user or f"user-{len(self._tokens)}",
                                       None if rules is None else tuple(rules))

    def kubeconfig(self, context: str = "kubesim", token: str | None = None,
                   namespace: str | None = None) -> dict[str, Any]:
        cluster: dict[str, Any] = {"server": self.url}
        if self.tls:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem).decode()
        ctx: dict[str, Any] = {"cluster": context, "user": context}
        if namespace:
            ctx["namespace"] = namespace
        return {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": context, "cluster": cluster}],
            "users": [{"name": context, "user": {"token": token or self.token}}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
        }

    def write_kubeconfig(self, path: str | os.PathLike[str], context: str = "kubesim",
                         token: str | None = None, namespace: str | None = None) -> Path:
        """A kubeconfig (mode 0600) that kubectl and the kubernetes client use as they are."""
        target = Path(path)
        partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as out:
            yaml.safe_dump(self.kubeconfig(context, token, namespace), out, sort_keys=False)
        os.replace(partial, target)  # whoever waits for the file never reads half of it
        return target

    def api_client(self, token: str | None = None) -> Any:
        """A ``kubernetes.client.ApiClient`` for this server."""
        from kubernetes import client

        configuration = client.Configuration()
        configuration.host = self.url
        configuration.api_key = {"authorization": f"Bearer {token or self.token}"}
        if self.tls:
            configuration.ssl_ca_cert = str(self._scratch_file("ca.crt", self.ca_pem))
        return client.ApiClient(configuration)

    def _scratch_file(self, name: str, data: bytes) -> Path:
        if self._scratch is None:
            self._scratch = tempfile.mkdtemp(prefix="kubesim-")
        path = Path(self._scratch, name)
        if not path.exists():
            path.write_bytes(data)
        return path

    # ---------------------------------------------------------------- observation

    @property
    def request_log(self) -> list[RequestRecord]:
        return self.api.request_log

    def request_count(self, verb: str | None = None, write: bool | None = None) -> int:
        """Requests of ``verb``; with ``write``, only those that could (or could not) change
        something: a server-side dry run of a write verb persists nothing and is no write."""
        return sum(1 for r in list(self.api.request_log)
                   if (verb is None or r.verb == verb)
                   and (write is None or _is_write(r) == write))

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until the built-in controllers (CRDs, namespaces, GC) have caught up."""
        return self.lifecycle.wait_idle(timeout)


def _is_write(record: RequestRecord) -> bool:
    dry_run = "All" in urllib.parse.parse_qs(record.query).get("dryRun", [])
    return record.verb in WRITE_VERBS and not dry_run
