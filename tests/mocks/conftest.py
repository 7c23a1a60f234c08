"""Fixtures of the mock tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.mocks.aanbieder_stand_in import Setup, serve_mock


@pytest.fixture
def mock() -> Iterator[Setup]:
    """The mock GGk and aanbieders, posting to a recording stand-in for the gateway."""
    with serve_mock() as setup:
        yield setup
