"""``docs/delivery-guarantees.md`` quotes the retry schedule; it must be the code's."""

from __future__ import annotations

from gateway.delivery.retry_table import tables
from gateway.settings import Settings
from tests.conftest import PROJECT_ROOT

DOC = PROJECT_ROOT / "docs" / "delivery-guarantees.md"


def test_the_documented_retry_table_is_what_the_policies_print() -> None:
    text = DOC.read_text()
    start, end = "<!-- retry-table:start -->\n", "\n<!-- retry-table:end -->"
    documented = text[text.index(start) + len(start) : text.index(end)]
    printed = "\n".join(tables(Settings(_env_file=None)))
    assert documented == printed, "regenerate with: python -m gateway.delivery.retry_table"


def test_the_table_follows_the_policies() -> None:
    lines = list(tables(Settings(_env_file=None)))
    assert "| 1 | 10 s | 10 s |" in lines  # the first GGk wait: initial_delay_s
    assert "| 1-16 | 3 h each | 3 h - 2 d |" in lines  # CORV: 16 re-sends every 3 hours
    assert "| 17 | - (no further try: the message expires) | |" in lines
