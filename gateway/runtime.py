"""The long-lived objects one gateway process shares: settings, database, clock."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gateway.clock import Clock, SystemClock
from gateway.encryption import key_ring_from_settings
from gateway.settings import Settings
from gateway.store.database import create_db_engine, session_factory
from gateway.store.encrypted_types import install_key_ring


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def create(cls, settings: Settings, clock: Clock | None = None) -> Runtime:
        engine = create_db_engine(
            settings.effective_database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )
        install_key_ring(engine, key_ring_from_settings(settings))  # encryption at rest
        return cls(settings, engine, session_factory(engine), clock or SystemClock())

    @functools.cached_property
    def autocommit_engine(self) -> Engine | None:
        """PostgreSQL: the same pool, each connection in autocommit while checked out; None on SQLite.

        For a write that is one statement (data-modifying CTEs): a statement is atomic on
        its own, so it needs no BEGIN and COMMIT round trips around it. SQLite has none: its
        writes take the process's writer turn inside a transaction.
        """
        if self.engine.dialect.name != "postgresql":
            return None
        return self.engine.execution_options(isolation_level="AUTOCOMMIT")

    def close(self) -> None:
        self.engine.dispose()
