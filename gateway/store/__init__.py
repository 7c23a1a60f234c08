"""Persistence: tables, engine and sessions. Alembic migrations live in ``gateway/migrations``.

Every table module is imported here, so that ``Base.metadata`` - used by Alembic and
the tests - always knows all tables, whichever module was imported first.
"""

from gateway.store import (  # noqa: F401 - imported for their table definitions
    access_tables,
    cak_tables,
    corv_tables,
    declaratie_tables,
    ops_tables,
    security_tables,
    svb_tables,
    tables,
    tracking_tables,
    zorglevering_tables,
)
