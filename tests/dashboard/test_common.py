"""The dashboard's shared pieces: where the store is by default, and how number columns read."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from meta_orchestrator.core.paths import DB_ENV, store_path
from meta_orchestrator.dashboard.common import Settings, formatted, markdown_table, parse_settings


def test_the_default_store_is_the_one_every_command_uses(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv(DB_ENV, raising=False)
    assert parse_settings([]).db == store_path() == Path("results") / "meta_orchestrator.db"
    monkeypatch.setenv(DB_ENV, str(tmp_path / "env.db"))
    assert parse_settings([]).db == store_path() == tmp_path / "env.db"
    given = parse_settings(["--db", "other.db", "--config-dir", "cfg"])
    assert given == Settings(Path("other.db"), Path("cfg"))


def test_number_columns_show_the_shared_formats_and_stay_numbers() -> None:
    frame = pd.DataFrame(
        {"variant": ["a", "b"], "p": [0.0004, None], "share": [0.8124, 1.0], "rel": [-0.05, 0.0123]}
    )
    styled = formatted(frame, p_values=["p"], percents=["share"], signed_percents=["rel"])
    text = styled.to_string()
    for shown in ("<0.001", "—", "81.2%", "100.0%", "-5.0%", "+1.2%"):
        assert shown in text
    assert styled.data["p"].dtype == float and styled.data["share"].tolist() == [0.8124, 1.0]


def test_markdown_table_escapes_names_formats_cells_and_aligns_numbers():
    frame = pd.DataFrame(
        {
            "variant": ["a|b", "<img src=x onerror=alert(1)> & co", "*bold*"],
            "trials": [3, 2, 1],
            "mean score": [0.5, None, 0.25],
            "95% CI": ["[0.1, 0.9]", "n/a (no variance in 2 trials)", "—"],
            "significant": [True, False, True],
        }
    )
    text = markdown_table(frame, {"mean score": lambda v: f"{v:.3f}"}, intervals=["95% CI"])
    assert text.splitlines() == [
        "| variant | trials | mean score | 95% CI | significant |",
        "|---|---:|---:|---|---|",  # numbers right-aligned, a flag is not a number
        "| a\\|b | 3 | 0.500 | \\[0.1,\u00a00.9\\] | yes |",
        "| \\<img src=x onerror=alert(1)\\> &amp; co | 2 | — | n/a (no variance in 2 trials) | no |",
        "| \\*bold\\* | 1 | 0.250 | — | yes |",
    ]  # a missing value is a dash, never passed to its column's format
