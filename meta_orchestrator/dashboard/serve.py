"""The dashboard's server process: Streamlit's ASGI ``App`` on ``app.py``, behind ``AccessGuard``.

``python -m meta_orchestrator.dashboard.serve --host H --port P --db D --config-dir C
[--allow-host NAME ...]``, started by ``dashboard.launch``; the token comes in the environment
(``TOKEN_ENV``), never on the command line, where any user of the machine could read it in ``ps``.
``app.py`` reads ``--db`` and ``--config-dir`` from this process's ``sys.argv``.
"""

from __future__ import annotations

import argparse
import os
import sys

from meta_orchestrator.dashboard.guard import TOKEN_ENV


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="meta_orchestrator.dashboard.serve")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--config-dir", required=True)
    parser.add_argument("--allow-host", action="append", default=[])
    args = parser.parse_args(argv)
    token = os.environ.pop(TOKEN_ENV, "")
    if not token:
        parser.error(f"{TOKEN_ENV} must hold the access token")
    os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
    os.environ.setdefault("STREAMLIT_SERVER_HEADLESS", "true")

    import uvicorn
    from starlette.middleware import Middleware
    from streamlit.starlette import App

    from meta_orchestrator.dashboard import APP
    from meta_orchestrator.dashboard.guard import AccessGuard

    hosts = [*args.allow_host, args.host]
    guard = Middleware(AccessGuard, token=token, allowed_hosts=hosts, port=args.port)
    app = App(str(APP), middleware=[guard])
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
