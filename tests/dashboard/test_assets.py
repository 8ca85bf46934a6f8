"""``StaticAssets``: Streamlit's hashed files from memory, everything else passed on untouched."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from meta_orchestrator.dashboard.assets import CACHE_CONTROL, StaticAssets


class Downstream:
    """The app behind the middleware: records what reached it and answers 404."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.paths.append(scope["path"])
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"downstream"})


def _request(
    app: StaticAssets, path: str, method: str = "GET"
) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": []}
    asyncio.run(app(scope, receive, send))
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], dict(start["headers"]), body


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "index.abc123.js").write_text("export const x = 1;\n", encoding="utf-8")
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "font.ff00.woff2").write_bytes(b"\x00woff2")
    (tmp_path.parent / "secret.txt").write_text("not served", encoding="utf-8")
    return tmp_path


def test_a_static_file_is_served_whole_with_its_type_and_cache_header(folder: Path) -> None:
    downstream = Downstream()
    app = StaticAssets(downstream, folder=folder)
    status, headers, body = _request(app, "/static/js/index.abc123.js")
    assert (status, body) == (200, b"export const x = 1;\n")
    assert headers[b"content-type"] == b"text/javascript; charset=utf-8"
    assert headers[b"content-length"] == str(len(body)).encode()
    assert headers[b"cache-control"] == CACHE_CONTROL
    status, headers, body = _request(app, "/static/media/font.ff00.woff2")
    assert (status, headers[b"content-type"], body) == (200, b"font/woff2", b"\x00woff2")
    assert downstream.paths == []


def test_the_file_is_read_once_and_kept(folder: Path) -> None:
    app = StaticAssets(Downstream(), folder=folder)
    assert _request(app, "/static/js/index.abc123.js")[2] == b"export const x = 1;\n"
    (folder / "js" / "index.abc123.js").write_text("changed", encoding="utf-8")
    assert _request(app, "/static/js/index.abc123.js")[2] == b"export const x = 1;\n"


def test_head_has_the_length_but_no_body(folder: Path) -> None:
    status, headers, body = _request(
        StaticAssets(Downstream(), folder=folder), "/static/js/index.abc123.js", "HEAD"
    )
    assert (status, body, headers[b"content-length"]) == (200, b"", b"20")


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/", "GET"),  # index.html is Streamlit's
        ("/static/js/missing.js", "GET"),
        ("/static/../secret.txt", "GET"),
        ("/static/js/../../secret.txt", "GET"),
        ("/static//js/index.abc123.js", "GET"),
        ("/static/js/index.abc123.js", "POST"),
        ("/_stcore/health", "GET"),
    ],
)
def test_anything_else_goes_to_streamlit(folder: Path, path: str, method: str) -> None:
    downstream = Downstream()
    status, _, body = _request(StaticAssets(downstream, folder=folder), path, method)
    assert (status, body, downstream.paths) == (404, b"downstream", [path])


def test_websockets_pass_through(folder: Path) -> None:
    downstream = Downstream()
    app = StaticAssets(downstream, folder=folder)
    scope = {"type": "websocket", "path": "/static/js/index.abc123.js", "headers": []}

    async def nothing(*_: Any) -> Any:
        return {}

    asyncio.run(app(scope, nothing, nothing))
    assert downstream.paths == ["/static/js/index.abc123.js"]
