"""The long-lived objects one gateway process shares: settings, database, clock."""

from __future__ import annotations

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
        engine = create_db_engine(settings.effective_database_url)
        install_key_ring(engine, key_ring_from_settings(settings))  # encryption at rest
        return cls(settings, engine, session_factory(engine), clock or SystemClock())

    def close(self) -> None:
        self.engine.dispose()
