"""Liveness and readiness for orchestrators (no authentication, no personal data).

- ``GET /health/live``: the process answers HTTP (restart it if not).
- ``GET /health/ready``: it can do its work - the database answers, the schema is at
  the newest migration, and the background threads this process runs (delivery
  worker, overdue scanner) are alive. 503 with the failing checks otherwise, so a load
  balancer sends traffic elsewhere.
"""

from __future__ import annotations

import threading
from typing import Any

from alembic.runtime.migration import MigrationContext
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway import __version__
from gateway.runtime import Runtime
from gateway.store.migrate import current_head

router = APIRouter(tags=["health"])


def readiness(runtime: Runtime, threads: list[threading.Thread] | None) -> dict[str, Any]:
    """The checks and their results; ``ready`` is True when all pass."""
    checks: dict[str, str] = {}
    try:
        with runtime.engine.connect() as connection:
            revision = MigrationContext.configure(connection).get_current_revision()
        checks["database"] = "ok"
        head = current_head()
        checks["migrations"] = "ok" if revision == head else f"at {revision}, expected {head}"
    except Exception:
        checks["database"] = "unreachable"
        checks["migrations"] = "unknown"
    for thread in threads or []:
        checks[thread.name] = "ok" if thread.is_alive() else "stopped"
    return {"ready": all(v == "ok" for v in checks.values()), "checks": checks, "version": __version__}


@router.get("/health/live", summary="Liveness: the process answers")
def live() -> JSONResponse:
    return JSONResponse({"status": "ok", "version": __version__})


@router.get("/health/ready", summary="Readiness: database, migrations at head, background threads alive")
def ready(request: Request) -> JSONResponse:
    threads = getattr(request.app.state, "background_threads", None)
    result = readiness(request.app.state.runtime, threads)
    return JSONResponse(result, 200 if result["ready"] else 503)
