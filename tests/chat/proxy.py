"""A fault-injecting HTTP proxy in front of the real model server, the way toxiproxy is used.

Every request is forwarded to the upstream server unless the proxy decides (seeded, per request)
to answer HTTP 429 with ``Retry-After`` / ``retry-after-ms``, to drop the connection (a TCP reset
before forwarding, or half a response body after), to answer 401 echoing the API key it was sent,
or, while ``forwarding`` is off, to answer 502 as a reverse proxy does when its upstream is down.
``hold_seconds`` delays forwarding and notes when the client gave up. Counters and a timeline
let tests check that every fault was retried, honoured and counted.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import random
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Event:
    at: float
    kind: (
        str  # rate_limited | reset | cut | unauthorized | forwarded | delivered | refused | gave_up
    )
    body: str  # sha256 of the request body: one trial's requests share it
    retry_after: float | None = None


@dataclass
class Counters:
    requests: int = 0
    rate_limited: int = 0
    reset: int = 0
    cut: int = 0
    unauthorized: int = 0
    refused: int = 0
    delivered: int = 0
    gave_up: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    authorization: set[str] = field(default_factory=set)

    @property
    def injected(self) -> int:
        """Faults a client must retry: every one of them is one transient retry."""
        return self.rate_limited + self.reset + self.cut + self.refused


class FaultProxy:
    def __init__(
        self,
        upstream_port: int,
        *,
        rate_limit_share: float = 0.0,
        drop_share: float = 0.0,
        unauthorized_share: float = 0.0,
        retry_after_ms: int = 150,
        hold_seconds: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.upstream_port = upstream_port
        self.rate_limit_share = rate_limit_share
        self.drop_share = drop_share
        self.unauthorized_share = unauthorized_share
        self.retry_after_ms = retry_after_ms
        self.hold_seconds = hold_seconds
        self.forwarding = True
        self.counters = Counters()
        self.events: list[Event] = []
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.proxy = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy")

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:  # idle keep-alive connections: their handler threads end now
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(10)
        assert not self._thread.is_alive(), "the proxy's server thread did not stop"

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def timeline(self, kind: str) -> list[Event]:
        with self._lock:
            return [e for e in self.events if e.kind == kind]

    # ------------------------------------------------------------------------- per request
    def _decide(self, handler: _Handler, body: bytes) -> str:
        with self._lock:
            self.counters.requests += 1
            auth = handler.headers.get("Authorization")
            if auth:
                self.counters.authorization.add(auth)
            if not self.forwarding:
                return "refused"
            if handler.command != "POST":
                return "forward"
            r = self._rng.random()
        if r < self.rate_limit_share:
            return "rate_limited"
        r -= self.rate_limit_share
        if r < self.drop_share:
            return "reset" if r < self.drop_share / 2 else "cut"
        r -= self.drop_share
        if r < self.unauthorized_share:
            return "unauthorized"
        return "forward"

    def _record(self, kind: str, body: bytes, retry_after: float | None = None) -> None:
        digest = hashlib.sha256(body).hexdigest()
        with self._lock:
            if hasattr(self.counters, kind):
                setattr(self.counters, kind, getattr(self.counters, kind) + 1)
            self.events.append(Event(time.monotonic(), kind, digest, retry_after))

    def handle(self, handler: _Handler) -> None:
        with self._lock:
            self.counters.in_flight += 1
            self.counters.peak_in_flight = max(
                self.counters.peak_in_flight, self.counters.in_flight
            )
        try:
            self._handle(handler)
        finally:
            with self._lock:
                self.counters.in_flight -= 1

    def _handle(self, handler: _Handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        action = self._decide(handler, body)
        if action == "rate_limited":
            self._record("rate_limited", body, self.retry_after_ms / 1000)
            seconds = str(max(1, round(self.retry_after_ms / 1000)))
            _reply(
                handler,
                429,
                _error("rate limit reached, slow down"),
                {"Retry-After": seconds, "retry-after-ms": str(self.retry_after_ms)},
            )
        elif action == "reset":
            self._record("reset", body)
            _reset(handler)
        elif action == "unauthorized":
            self._record("unauthorized", body)
            key = (handler.headers.get("Authorization") or "").removeprefix("Bearer ")
            _reply(handler, 401, _error(f"Incorrect API key provided: {key}"))
        elif action == "refused":
            self._record("refused", body)
            _reply(handler, 502, _error("bad gateway: the upstream server is down"))
        else:
            self._forward(handler, body, cut=action == "cut")

    def _forward(self, handler: _Handler, body: bytes, *, cut: bool) -> None:
        if self.hold_seconds and not self._hold(handler, body):
            return
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=300)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP}
            upstream.request(handler.command, handler.path, body=body or None, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
            status, content_type = response.status, response.getheader("Content-Type", "")
        except OSError:
            self._record("refused", body)
            _reply(handler, 502, _error("bad gateway: the upstream server is down"))
            return
        finally:
            upstream.close()
        if cut:
            self._record("cut", body)
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload[: len(payload) // 2])
            handler.wfile.flush()
            _reset(handler)
            return
        self._record("delivered" if handler.command == "POST" else "forwarded", body)
        _reply(handler, status, payload, {}, content_type)

    def _hold(self, handler: _Handler, body: bytes) -> bool:
        """Wait ``hold_seconds`` before forwarding; ``False`` if the client closed meanwhile."""
        end = time.monotonic() + self.hold_seconds
        sock = handler.connection
        while time.monotonic() < end:
            readable, _, _ = select.select([sock], [], [], 0.02)
            if readable:
                try:
                    closed = sock.recv(1, socket.MSG_PEEK) == b""
                except OSError:
                    closed = True
                if closed:
                    self._record("gave_up", body)
                    handler.close_connection = True
                    return False
        return True

    def _track(self, sock: socket.socket, alive: bool) -> None:
        with self._lock:
            (self._sockets.add if alive else self._sockets.discard)(sock)


_HOP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    timeout = 60  # an idle connection ends after a minute

    def setup(self) -> None:
        super().setup()
        self.server.proxy._track(self.connection, True)  # type: ignore[attr-defined]

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.proxy._track(self.connection, False)  # type: ignore[attr-defined]

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.proxy.handle(self)  # type: ignore[attr-defined]

    do_POST = do_GET  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def _error(message: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "proxy_error"}}).encode()


def _reply(
    handler: _Handler,
    status: int,
    body: bytes,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()


def _reset(handler: _Handler) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a crashing peer or a middlebox does."""
    handler.close_connection = True
    try:
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.connection.close()
    except OSError:
        pass
