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

# Streamlit's options for this server. ``App`` reads no ``STREAMLIT_*`` environment variables
# (``streamlit run`` does), so they are set as flags, which nothing overrides:
# * no usage statistics: with them Streamlit times every ``st.*`` call, sends the browser a
#   profile of each script run and has the page report to Streamlit's servers;
# * no file watcher: it watches the source of every imported module for a "rerun on save" that a
#   served dashboard never uses, and walks all of ``sys.modules`` (about 2,000 modules, 0.3-0.8 s
#   of the event loop, when no page can load) at the first script run of every browser session.
STREAMLIT_OPTIONS = {
    "browser.gatherUsageStats": False,
    "server.headless": True,
    "server.fileWatcherType": "none",
}


def configure_streamlit() -> None:
    """Apply ``STREAMLIT_OPTIONS`` to Streamlit's configuration (before the ``App`` is built)."""
    from streamlit import config

    config.get_config_options(force_reparse=True, options_from_flags=STREAMLIT_OPTIONS)


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

    import uvicorn
    from starlette.middleware import Middleware
    from streamlit.starlette import App

    from meta_orchestrator.dashboard import APP
    from meta_orchestrator.dashboard.assets import StaticAssets, streamlit_static_folder
    from meta_orchestrator.dashboard.guard import AccessGuard

    configure_streamlit()
    hosts = [*args.allow_host, args.host]
    guard = Middleware(AccessGuard, token=token, allowed_hosts=hosts, port=args.port)
    assets = Middleware(StaticAssets, folder=streamlit_static_folder())  # behind the guard
    app = App(str(APP), middleware=[guard, assets])
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
