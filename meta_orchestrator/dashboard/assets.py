"""Streamlit's own scripts, styles and fonts served from memory, in front of its ASGI app.

Why: opening a run loads about 130 of Streamlit's hashed files, the page's bundle first and then
each element's lazily loaded chunk when its first delta arrives. Streamlit serves each through
Starlette's ``StaticFiles``, which looks the file up and reads it in 64 KB pieces on worker
threads: every hop waits for the GIL, and while a run's page is computed the script thread holds
it, so the chunks queued behind the script run (the browser shows the page only once all have
arrived). Here a file is read once, on its first request, and later sent in one message.

Only the files under Streamlit's ``static/static`` folder (``/static/...``, names that carry a
content hash, so they never change while the server runs) are served here; ``index.html`` and
every other path go to Streamlit. Whatever the request path says, only a file found in that folder
when the server started can be answered, so no path escapes it.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PREFIX = "/static/"
CACHE_CONTROL = b"public, immutable, max-age=31536000"  # what Streamlit sends for these files

__all__ = ["StaticAssets", "streamlit_static_folder"]


def streamlit_static_folder() -> Path:
    """The folder Streamlit serves at ``/static/`` (inside the installed package)."""
    import streamlit

    return Path(streamlit.__file__).parent / "static" / "static"


class StaticAssets:
    """Answer ``GET``/``HEAD`` ``/static/<file>`` from memory; pass everything else on.

    ``folder`` is walked once at start; each file is read on its first request and kept (the
    files a page uses are a few MB of the folder's 26).
    """

    def __init__(self, app: ASGIApp, *, folder: Path) -> None:
        self.app = app
        self._paths = {
            PREFIX + path.relative_to(folder).as_posix(): path
            for path in folder.rglob("*")
            if path.is_file()
        }
        self._bodies: dict[str, tuple[bytes, bytes]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope.get("method") not in ("GET", "HEAD")
            or path not in self._paths
        ):
            await self.app(scope, receive, send)
            return
        body, content_type = self._body(path)
        headers = [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", CACHE_CONTROL),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        head = scope["method"] == "HEAD"
        await send({"type": "http.response.body", "body": b"" if head else body})

    def _body(self, path: str) -> tuple[bytes, bytes]:
        cached = self._bodies.get(path)
        if cached is None:
            file = self._paths[path]
            kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind == "application/javascript":
                kind += "; charset=utf-8"
            cached = self._bodies[path] = (file.read_bytes(), kind.encode())
        return cached
