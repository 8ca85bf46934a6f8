"""Who may use the dashboard: an ASGI middleware in front of Streamlit, as Jupyter guards a notebook.

The Launch form runs any config, so a command variant runs as the dashboard's user: whoever can
reach the page can run programs. Every HTTP request and websocket must therefore pass two checks:

* **Host allowlist.** The ``Host`` header (and a websocket's ``Origin``) must name an allowed host:
  the loopback names by default, plus the bound address and ``--allow-host`` names. A DNS-rebinding
  page (``evil.example`` resolving to 127.0.0.1) sends its own name and is refused with 403.
* **Token.** A random token, printed in the URL at start (``/?token=...``), must come with the
  request, as that query parameter or as the cookie the first good request sets (HttpOnly,
  SameSite=Strict, so another site's page cannot send it). Only ``/_stcore/health`` answers without
  it (it says "ok" and nothing else), so scripts can wait for the server.

Pure ASGI, no Streamlit import: ``serve`` puts it in front of ``streamlit.starlette.App``.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
OPEN_PATHS = frozenset({"/_stcore/health"})
TOKEN_PARAM = "token"
TOKEN_ENV = "META_ORCHESTRATOR_DASHBOARD_TOKEN"  # how ``launch`` hands the token to ``serve``

__all__ = ["LOOPBACK_NAMES", "TOKEN_ENV", "AccessGuard", "cookie_name", "host_name", "is_loopback"]


def is_loopback(address: str) -> bool:
    """Whether binding ``address`` keeps the server on this machine (``0.0.0.0`` does not)."""
    if address.strip("[]").lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(value: str) -> str:
    """``Host`` header or URL authority without its port: ``[::1]:8501`` -> ``::1``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    return value.rpartition(":")[0] if value.count(":") == 1 else value


def cookie_name(port: int) -> str:
    """One cookie per port: browsers share cookies between ports of one host."""
    return f"meta_orchestrator_token_{port}"


class AccessGuard:
    """Refuse (403) any request whose host is not allowed or that lacks the token."""

    def __init__(
        self, app: ASGIApp, *, token: str, allowed_hosts: Collection[str], port: int
    ) -> None:
        self.app = app
        self.token = token
        self.any_host = "*" in allowed_hosts
        self.allowed_hosts = {host_name(h) for h in allowed_hosts} | LOOPBACK_NAMES
        self.cookie = cookie_name(port)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._host_refusal(headers)
        from_query = self._good(self._query_token(scope))
        if refusal is None and scope["path"] not in OPEN_PATHS:
            if not (from_query or self._good(self._cookie(headers))):
                refusal = "missing or wrong token: open the URL the dashboard printed at start"
        if refusal is not None:
            await _refuse(scope, receive, send, refusal)
        elif scope["type"] == "http" and from_query:
            await self.app(scope, receive, self._setting_cookie(send))
        else:
            await self.app(scope, receive, send)

    def _host_refusal(self, headers: dict[str, str]) -> str | None:
        if self.any_host:
            return None
        host = host_name(headers.get("host", ""))
        if host not in self.allowed_hosts:
            return f"host {host!r} is not allowed (start the dashboard with --allow-host {host})"
        origin = headers.get("origin")
        if (
            origin
            and origin != "null"
            and host_name(urlsplit(origin).netloc) not in self.allowed_hosts
        ):
            return f"origin {origin!r} is not allowed"
        return None

    def _good(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self.token.encode())

    @staticmethod
    def _query_token(scope: Scope) -> str | None:
        values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(TOKEN_PARAM)
        return values[0] if values else None

    def _cookie(self, headers: dict[str, str]) -> str | None:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header is no token
            return None
        morsel = jar.get(self.cookie)
        return morsel.value if morsel is not None else None

    def _setting_cookie(self, send: Send) -> Send:
        value = f"{self.cookie}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode()

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"set-cookie", value)]
            await send(message)

        return send_with_cookie


async def _refuse(scope: Scope, receive: Receive, send: Send, reason: str) -> None:
    if scope["type"] == "websocket":
        await receive()  # websocket.connect; closing before accepting answers 403
        await send({"type": "websocket.close", "code": 1008, "reason": reason[:120]})
        return
    body = f"403 Forbidden: {reason}\n".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
