"""The Alembic migrations build exactly the schema the models describe, on both databases.

A model changed without a migration (or the other way round) shows up here as a
difference found by Alembic's own autogenerate comparison.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Connection, Integer, MetaData, Table, inspect, text

from gateway.store.database import create_db_engine
from gateway.store.migrate import alembic_config, current_head, upgrade
from gateway.store.tables import Base


def _differences(database_url: str) -> list[Any]:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": False}
            )
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def _revision(database_url: str) -> str | None:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def _tables(database_url: str) -> set[str]:
    engine = create_db_engine(database_url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_migrated_schema_matches_the_models(database_url: str) -> None:
    assert _revision(database_url) == current_head()
    differences = _differences(database_url)
    assert differences == [], "models and migrations disagree:\n" + "\n".join(map(str, differences))


def _index_definitions(connection: Connection, schema: str) -> dict[str, str]:
    """Every index's definition as the database states it (its condition included), by name."""
    tables = {table.name for table in Base.metadata.sorted_tables}  # not alembic_version
    if connection.dialect.name == "postgresql":
        rows = connection.execute(
            text("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = :schema"),
            {"schema": schema},
        )
        return {name: sql.replace(f" ON {schema}.", " ON ") for table, name, sql in rows if table in tables}
    rows = connection.execute(
        text(f"SELECT tbl_name, name, sql FROM {schema}.sqlite_master WHERE type = 'index'")  # noqa: S608
    )
    # SQLite keeps the statement as written; the unique constraints' own indexes have none.
    return {
        name: " ".join((sql or "").replace('"', "").split()) for table, name, sql in rows if table in tables
    }


def test_the_migrated_indexes_are_the_models_conditions_included(database_url: str, tmp_path: Path) -> None:
    """Alembic's comparison above does not compare an index's WHERE: the databases' own
    definitions of the migrated indexes and of those the models create must be the same."""
    engine = create_db_engine(database_url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("DROP SCHEMA IF EXISTS from_models CASCADE; CREATE SCHEMA from_models")
                )
            else:
                connection.execute(text(f"ATTACH DATABASE '{tmp_path / 'models.db'}' AS from_models"))
            Base.metadata.create_all(connection.execution_options(schema_translate_map={None: "from_models"}))
            migrated = _index_definitions(
                connection, "public" if connection.dialect.name == "postgresql" else "main"
            )
            modelled = _index_definitions(connection, "from_models")
            if connection.dialect.name == "postgresql":
                connection.execute(text("DROP SCHEMA from_models CASCADE"))
    finally:
        engine.dispose()
    assert "ix_deadlines_open" in modelled  # the comparison compares something
    assert migrated == modelled


def test_the_comparison_would_notice_a_missing_table(database_url: str) -> None:
    # Guards the test above against comparing nothing with nothing.
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            extra = MetaData()
            for table in Base.metadata.sorted_tables:
                table.to_metadata(extra)
            Table("not_migrated", extra, Column("id", Integer, primary_key=True))
            found = compare_metadata(context, extra)
    finally:
        engine.dispose()
    assert [d[0] for d in found if isinstance(d, tuple)] == ["add_table"]


def test_upgrade_is_idempotent(database_url: str) -> None:
    before = _tables(database_url)
    upgrade(database_url)
    upgrade(database_url)
    assert _revision(database_url) == current_head()
    assert _tables(database_url) == before
    assert _differences(database_url) == []


def test_downgrade_to_base_and_upgrade_again_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    upgrade(url)
    model_tables = {t.name for t in Base.metadata.sorted_tables}
    assert model_tables <= _tables(url)

    command.downgrade(alembic_config(url), "base")
    assert _revision(url) is None
    assert not (model_tables & _tables(url))

    upgrade(url)
    assert _revision(url) == current_head()
    assert model_tables <= _tables(url)
    assert _differences(url) == []


def test_offline_sql_can_be_generated_for_postgresql(capsys: pytest.CaptureFixture[str]) -> None:
    # DBAs who apply migrations by hand ask for the SQL (``alembic upgrade --sql``).
    command.upgrade(alembic_config("postgresql+psycopg://dba@db.example/gateway"), "head", sql=True)
    sql = capsys.readouterr().out
    for table in Base.metadata.sorted_tables:
        assert f"CREATE TABLE {table.name}" in sql


def test_the_queue_tables_are_analysed_after_one_percent_changed(database_url: str) -> None:
    """PostgreSQL: the planner's statistics of messages and deadlines follow a peak (migration 0008)."""
    engine = create_db_engine(database_url)
    try:
        if engine.dialect.name != "postgresql":
            pytest.skip("autovacuum settings are PostgreSQL's")
        with engine.connect() as connection:
            options = dict(
                connection.execute(
                    text(
                        "SELECT relname, reloptions FROM pg_class WHERE relname IN ('messages', 'deadlines')"
                    )
                ).all()
            )
    finally:
        engine.dispose()
    for table in ("messages", "deadlines"):
        assert set(options[table]) == {
            "autovacuum_analyze_scale_factor=0.01",
            "autovacuum_vacuum_scale_factor=0.02",
        }
