"""Who can reach the dashboard, tested over real HTTP and websockets against the real server.

A foreign ``Host`` (DNS rebinding) gets neither the page nor the websocket, even with the token and
a matching ``Origin``; without the token nothing but the health check answers; a bind beyond
loopback needs ``--allow-remote`` and prints a warning.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from meta_orchestrator import cli
from meta_orchestrator.dashboard import TOKEN_ENV
from meta_orchestrator.dashboard.assets import streamlit_static_folder
from meta_orchestrator.dashboard.guard import cookie_name, host_name, is_loopback


@dataclass(frozen=True)
class Served:
    port: int
    token: str
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(
    tmp_path: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    log = tmp_path / "dashboard.log"
    command = [
        sys.executable, "-m", "meta_orchestrator.cli", "dashboard", "--port", str(port),
        "--db", str(tmp_path / "runs.db"), "--config-dir", str(tmp_path), *extra,
    ]  # fmt: skip
    environment = {k: v for k, v in os.environ.items() if k != TOKEN_ENV} | (env or {})
    with open(log, "wb") as out:
        server = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=environment
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the dashboard exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return server, port
        except OSError:
            time.sleep(0.2)
    _stop(server)
    raise AssertionError(f"the dashboard did not answer within 60 s:\n{log.read_text()}")


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The real ``meta-orchestrator dashboard``, with the random token it prints."""
    tmp_path = tmp_path_factory.mktemp("served")
    server, port = _serve(tmp_path)
    try:
        log = tmp_path / "dashboard.log"
        found = re.search(rf"http://127\.0\.0\.1:{port}/\?token=([\w-]+)", log.read_text())
        assert found, log.read_text()
        yield Served(port, found.group(1), log)
    finally:
        _stop(server)


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def _websocket(served: Served, host: str, *, cookie: bool = True, origin: str | None = None) -> int:
    """Open the page's websocket through a socket to 127.0.0.1 with ``Host: host``; the status."""
    headers = {"Cookie": f"{cookie_name(served.port)}={served.token}"} if cookie else {}
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    try:
        with connect(
            f"ws://{host}:{served.port}/_stcore/stream",
            sock=sock,
            additional_headers=headers,
            origin=origin or f"http://{host}:{served.port}",  # type: ignore[arg-type]
            subprotocols=["streamlit"],  # type: ignore[list-item]
            open_timeout=10,
        ):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code
    finally:
        sock.close()


def test_the_token_is_random_long_and_printed_in_the_url(served: Served) -> None:
    assert len(served.token) >= 32
    assert served.token not in " ".join(_ps_lines()), "the token must not be on a command line"


def _ps_lines() -> list[str]:
    done = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def test_the_page_needs_the_token_then_its_cookie(served: Served) -> None:
    status, _, body = _get(f"{served.base}/")
    assert status == 403 and "missing or wrong token" in body
    assert _get(f"{served.base}/?token=wrong")[0] == 403
    status, headers, body = _get(f"{served.base}/?token={served.token}")
    assert status == 200 and "<html" in body.lower()
    cookie = headers.get("set-cookie", "")
    assert cookie.startswith(f"{cookie_name(served.port)}={served.token};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    with_cookie = {"Cookie": f"{cookie_name(served.port)}={served.token}"}
    assert _get(f"{served.base}/", with_cookie)[0] == 200
    assert _get(f"{served.base}/_stcore/health")[0] == 200  # the only open path: says "ok"


def test_streamlits_scripts_are_served_only_with_the_token(served: Served) -> None:
    """Served from memory by ``StaticAssets``, which sits behind the guard."""
    page = _get(f"{served.base}/?token={served.token}")[2]
    found = re.search(r'src="\.?(/static/js/index\.[\w-]+\.js)"', page)
    assert found, page
    script = found.group(1)
    assert _get(f"{served.base}{script}")[0] == 403
    with_cookie = {"Cookie": f"{cookie_name(served.port)}={served.token}"}
    status, headers, body = _get(f"{served.base}{script}", with_cookie)
    on_disk = (streamlit_static_folder() / script.removeprefix("/static/")).read_text("utf-8")
    assert (status, body) == (200, on_disk)
    kind = headers["content-type"].partition(";")[0]
    assert kind in ("text/javascript", "application/javascript")  # as the system's mime.types says
    assert "immutable" in headers["cache-control"]


def test_a_foreign_host_gets_neither_the_page_nor_the_websocket(served: Served) -> None:
    """DNS rebinding: evil.example resolves to 127.0.0.1, and the browser sends its own name as
    Host and Origin, and would send the cookie too. Refused on both channels."""
    foreign = {
        "Host": f"evil.example:{served.port}",
        "Origin": f"http://evil.example:{served.port}",
        "Cookie": f"{cookie_name(served.port)}={served.token}",
    }
    status, _, body = _get(f"{served.base}/?token={served.token}", foreign)
    assert status == 403 and "host 'evil.example' is not allowed" in body
    assert _websocket(served, "evil.example") == 403
    assert _websocket(served, "127.0.0.1", origin="http://evil.example") == 403
    assert _websocket(served, "localhost", cookie=False) == 403
    assert _websocket(served, "localhost") == 101  # the page's own websocket still works


def test_binding_beyond_loopback_needs_allow_remote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _free_port()
    code = cli.main(
        ["dashboard", "--host", "0.0.0.0", "--port", str(port), "--db", str(tmp_path / "x.db")]
    )
    assert code == 2
    assert "pass --allow-remote" in capsys.readouterr().err
    with socket.socket() as probe:  # nothing was started
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    assert not (tmp_path / "x.db").exists()


def test_allow_remote_warns_and_only_allowed_host_names_are_answered(tmp_path: Path) -> None:
    server, port = _serve(
        tmp_path, "--host", "0.0.0.0", "--allow-remote", "--allow-host", "dash.example",
        env={TOKEN_ENV: "a-token-for-this-test-only"},
    )  # fmt: skip
    try:
        text = (tmp_path / "dashboard.log").read_text()
        assert "warning: serving on 0.0.0.0" in text
        url = f"http://127.0.0.1:{port}/?token=a-token-for-this-test-only"
        assert _get(url, {"Host": f"dash.example:{port}"})[0] == 200
        assert _get(url, {"Host": f"other.example:{port}"})[0] == 403
    finally:
        _stop(server)


@pytest.mark.parametrize(
    ("value", "name"),
    [("127.0.0.1:8501", "127.0.0.1"), ("[::1]:8501", "::1"), ("LocalHost", "localhost"),
     ("::1", "::1"), ("evil.example:80", "evil.example")],
)  # fmt: skip
def test_host_name(value: str, name: str) -> None:
    assert host_name(value) == name


def test_loopback_addresses() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "192.168.1.4", "dash.example"]))
