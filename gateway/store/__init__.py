"""Persistence: tables, engine and sessions. Alembic migrations live in ``gateway/migrations``."""
