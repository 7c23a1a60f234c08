"""Shared by the security tests: running ``gateway`` commands in-process against a test database."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import structlog


@contextmanager
def cli_environment(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[None]:
    """Only ``GATEWAY_DATABASE_URL`` set; the logging the CLI configures is undone afterwards
    (it binds the runner's temporary stderr, which later tests must not write to)."""
    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", database_url)
    monkeypatch.setenv("GATEWAY_SETTINGS_FILE", "/nonexistent/gateway.env")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        structlog.reset_defaults()
        root.handlers, root.level = handlers, level
