"""Round-trip time for a real API server, which has no latency knob: a loopback TCP proxy.

``with LatencyProxy(port, one_way_ms=10) as proxy:`` listens on ``127.0.0.1:proxy.port`` and
forwards every connection to ``127.0.0.1:port``, holding each chunk of bytes ``one_way_ms``
before passing it on, in both directions: a request and its response take ``2 * one_way_ms``
longer, as over a link with that round-trip time. Bytes are never looked at, so TLS passes
through untouched and the client still verifies the API server's certificate (its
self-signed certificate names 127.0.0.1, which is the proxy's address too).

Each chunk is delayed from the moment it arrived, not one after another, so a large response
is not slowed more than a small one: latency without a bandwidth limit. The proxy is bounded
(at most ``max_connections`` at once; more are closed at once) and stops by itself after
``lifetime`` seconds even if nobody stops it.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from types import TracebackType

CHUNK = 64 * 1024
MAX_CONNECTIONS = 512
LIFETIME = 3600.0
_ACCEPT_POLL = 0.2  # how often the acceptor looks at its stop flag and deadline


class LatencyProxy:
    """A delay line between a local port and an upstream port on 127.0.0.1."""

    def __init__(self, upstream_port: int, one_way_ms: float, *,
                 max_connections: int = MAX_CONNECTIONS, lifetime: float = LIFETIME) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.delay = one_way_ms / 1000.0
        self.max_connections = max_connections
        self.lifetime = lifetime
        self.port = 0
        self.connections = 0  # accepted so far, for the report
        self._listener: socket.socket | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._acceptor: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> LatencyProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        listener.settimeout(_ACCEPT_POLL)
        self._listener = listener
        self.port = int(listener.getsockname()[1])
        self._acceptor = threading.Thread(target=self._accept, name=f"proxy-{self.port}",
                                          daemon=True)
        self._acceptor.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._acceptor is not None:
            self._acceptor.join()
            self._acceptor = None
        with self._lock:
            for sock in self._open:
                _close(sock)
            self._open.clear()

    def wait_stopped(self, timeout: float | None = None) -> bool:
        """Whether the proxy has stopped (by :meth:`stop`, or past its lifetime) in ``timeout``."""
        return self._stopped.wait(timeout)

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _accept(self) -> None:
        assert self._listener is not None
        deadline = time.monotonic() + self.lifetime
        try:
            while not self._stopped.is_set() and time.monotonic() < deadline:
                try:
                    client, _ = self._listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    break
                self._serve(client)
        finally:
            _close(self._listener)
            self._stopped.set()  # past its lifetime, open connections go too
            with self._lock:
                for sock in self._open:
                    _close(sock)
                self._open.clear()

    def _serve(self, client: socket.socket) -> None:
        with self._lock:
            full = len(self._open) >= 2 * self.max_connections
        if full:
            _close(client)
            return
        try:
            upstream = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            _close(client)
            return
        client.settimeout(None)
        upstream.settimeout(None)
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._open.update((client, upstream))
        self.connections += 1
        pair = _Pair(self, client, upstream)
        pair.forward(client, upstream)
        pair.forward(upstream, client)

    def _forget(self, *socks: socket.socket) -> None:
        with self._lock:
            self._open.difference_update(socks)


class _Pair:
    """One proxied connection: two directions, each a reader and a writer thread."""

    def __init__(self, proxy: LatencyProxy, client: socket.socket,
                 upstream: socket.socket) -> None:
        self.proxy = proxy
        self.socks = (client, upstream)
        self._done = 0
        self._lock = threading.Lock()

    def forward(self, source: socket.socket, sink: socket.socket) -> None:
        line: queue.Queue[tuple[float, bytes]] = queue.Queue()
        threading.Thread(target=self._read, args=(source, line), daemon=True).start()
        threading.Thread(target=self._write, args=(sink, line), daemon=True).start()

    def _read(self, source: socket.socket, line: queue.Queue[tuple[float, bytes]]) -> None:
        try:
            while True:
                data = source.recv(CHUNK)
                line.put((time.monotonic() + self.proxy.delay, data))
                if not data:
                    return
        except OSError:
            line.put((0.0, b""))

    def _write(self, sink: socket.socket, line: queue.Queue[tuple[float, bytes]]) -> None:
        try:
            while not self.proxy._stopped.is_set():
                due, data = line.get()
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                if not data:
                    # Half-close, as the peer did: the other direction may still be talking.
                    with contextlib.suppress(OSError):
                        sink.shutdown(socket.SHUT_WR)
                    break
                sink.sendall(data)
        except OSError:
            for sock in self.socks:  # a reset on one side ends both directions
                _close(sock)
        self._finished()

    def _finished(self) -> None:
        with self._lock:
            self._done += 1
            last = self._done == 2
        if last:
            for sock in self.socks:
                _close(sock)
            self.proxy._forget(*self.socks)


def _close(sock: socket.socket) -> None:
    # shutdown() first: on Linux close() alone does not wake a thread blocked in recv().
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
