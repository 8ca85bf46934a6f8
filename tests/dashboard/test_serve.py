"""The server process's Streamlit options hold although ``App`` reads no environment variables."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import import_or_skip

import_or_skip("streamlit", "the dashboard needs 'streamlit': pip install '.[dashboard]'")

from streamlit import config  # noqa: E402

from meta_orchestrator.dashboard.serve import STREAMLIT_OPTIONS, configure_streamlit  # noqa: E402


@pytest.fixture
def fresh_config() -> Iterator[None]:
    config.get_config_options(force_reparse=True)
    yield
    config.get_config_options(force_reparse=True)


def test_usage_statistics_and_the_file_watcher_are_off(fresh_config: None) -> None:
    assert config.get_option("browser.gatherUsageStats") is True  # Streamlit's default
    configure_streamlit()
    assert config.get_option("browser.gatherUsageStats") is False
    assert config.get_option("server.fileWatcherType") == "none"
    assert {key: config.get_option(key) for key in STREAMLIT_OPTIONS} == STREAMLIT_OPTIONS
