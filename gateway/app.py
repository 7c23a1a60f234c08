"""The FastAPI application: back-office API, chain endpoints, health, OpenAPI."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy import text

from gateway import __version__
from gateway.api import berichten, beschikkingen, events_feed, inbound_ggk, pgb, toewijzingen, verzoeken
from gateway.api import bulk as bulk_api
from gateway.api.correlation import CorrelationMiddleware
from gateway.api.eigen_bijdrage import router as eigen_bijdrage_router
from gateway.api.limits import ApiLimitsMiddleware
from gateway.api.problems import install_problem_handlers
from gateway.audit_recorders import install_api_write_audit
from gateway.console import router as console_router
from gateway.corv import api as corv_api
from gateway.corv import endpoint as corv_endpoint
from gateway.deadlines import OverdueScanner
from gateway.delivery.wakeups import Wakeable, WakeupChannel
from gateway.delivery.wakeups import enabled as wakeups_enabled
from gateway.delivery.worker import DeliveryWorker
from gateway.eigen_bijdrage import sweep_ended
from gateway.ops.alerts import evaluate_alerts
from gateway.ops.api import install_ops
from gateway.ops.replay import process_replay_jobs
from gateway.retention import prune_when_due
from gateway.runtime import Runtime
from gateway.tls.access import ChainAccessMiddleware
from gateway.tls.server import AsgiApp, Receive, Scope, Send
from gateway.tracing import TracingMiddleware

#: What the overdue scanner runs on its beat besides the deadlines, in ``serve`` and ``worker`` alike.
SCANNER_JOBS = (sweep_ended, evaluate_alerts, process_replay_jobs, prune_when_due)


class GatewayApp(FastAPI):
    """The gateway's FastAPI app, with a lean lane for ``POST /ggk/soap`` in front.

    Why: every retour from the GGk is such a request, hundreds a second in the round-trip
    bench, and the generic stack around the route (FastAPI's error, telemetry, body-limit,
    exception and exit-stack middlewares, the API limits and the write audit - both of which
    let every path outside ``/api/`` through untouched -, the router's match over all routes,
    the endpoint's dependency solving) cost a fixed slice of CPU per retour without doing
    anything for it. The lane keeps what does act on this request, in the same order:
    tracing (when enabled), the request id and log context (:class:`CorrelationMiddleware`,
    which also answers an unexpected error), the chain-access check
    (:class:`ChainAccessMiddleware`), then :func:`gateway.api.inbound_ggk.serve_ggk_soap`
    with the same body cap, processing and answers as the route. The mock GGk does the same
    for its own SOAP endpoint (``mocks/ggk/app.py``).

    Only an exact ``POST /ggk/soap`` without a ``root_path`` takes the lane: another method
    (405), a trailing slash (redirect) and a mounted app keep the full stack and its answers.
    """

    #: Set by :func:`create_app` once the middleware settings are known; None: no lane.
    ggk_soap_lane: AsgiApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = self.ggk_soap_lane
        if (
            lane is not None
            and scope["type"] == "http"
            and scope["path"] == inbound_ggk.SOAP_PATH
            and scope["method"] == "POST"
            and not scope.get("root_path")
        ):
            scope["app"] = self  # as Starlette sets it: the endpoint finds the runtime there
            await lane(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _ggk_soap_lane(runtime: Runtime, worker: DeliveryWorker | None) -> AsgiApp:
    """The middlewares of the full stack that act on ``POST /ggk/soap``, around its raw endpoint."""
    # The router's own route object: what the full stack leaves in scope["route"] on a match.
    route = next(
        r
        for r in inbound_ggk.router.routes
        if isinstance(r, APIRoute) and r.path == inbound_ggk.SOAP_PATH and "POST" in (r.methods or ())
    )

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        # What the router leaves in the scope on a match: the tracing span is named after it.
        scope["route"] = route
        await inbound_ggk.serve_ggk_soap(scope, receive, send)

    lane: AsgiApp = ChainAccessMiddleware(endpoint, settings=runtime.settings)
    # Only this process's worker: a retour queues work at most for webhooks (the others'
    # workers see that at their next poll), and a NOTIFY per retour would cost more.
    lane = CorrelationMiddleware(lane, worker=worker)
    if runtime.settings.otel.enabled:
        lane = TracingMiddleware(lane)
    return lane


def create_app(runtime: Runtime, worker: DeliveryWorker | None = None) -> FastAPI:
    """Build the app; with a ``worker`` the delivery loop runs inside the app's lifespan."""

    # What an accepted POST wakes: this process's worker and, on PostgreSQL, every other's.
    channel = WakeupChannel(runtime.engine, worker) if wakeups_enabled(runtime) else None
    wakeups: Wakeable | None = channel or worker

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        threads: list[threading.Thread] = []
        if worker is not None:
            threads.append(
                threading.Thread(target=worker.run, args=(stop,), name="delivery-worker", daemon=True)
            )
            scanner = OverdueScanner(runtime, jobs=list(SCANNER_JOBS))
            threads.append(
                threading.Thread(target=scanner.run, args=(stop,), name="overdue-scanner", daemon=True)
            )
        _app.state.background_threads = threads  # for /health/ready
        # Best effort, not part of readiness: without them each worker polls, as before.
        wakeup_threads = channel.threads(stop) if channel is not None else []
        for thread in (*threads, *wakeup_threads):
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                worker.wake()
            for thread in (*threads, *wakeup_threads):
                thread.join(timeout=runtime.settings.delivery.send_timeout_s + 5)

    app = GatewayApp(
        title="Gemeente-gateway",
        version=__version__,
        summary="Beschikkingen in, iJw/iWmo 3.2 berichten via het GGk uit - en de retouren terug.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.worker = wakeups  # what the endpoints that queue work wake
    install_problem_handlers(app)
    app.add_middleware(ChainAccessMiddleware, settings=runtime.settings)  # mTLS parties only
    app.add_middleware(ApiLimitsMiddleware, runtime=runtime)  # per-client rate and size limits
    install_api_write_audit(app, runtime)  # every back-office write -> the audit log
    app.include_router(bulk_api.router)  # NDJSON bulk intake (before /beschikkingen/{id})
    app.include_router(beschikkingen.router)
    app.include_router(berichten.router)
    app.include_router(toewijzingen.router)
    app.include_router(pgb.router)
    app.include_router(verzoeken.router)
    app.include_router(events_feed.router)
    app.include_router(inbound_ggk.router)
    app.include_router(corv_api.router)  # CORV: VTO, notificaties, zorgmeldingen
    app.include_router(corv_endpoint.router)  # CORV: the hub's ebMS endpoint /corv/ebms
    install_ops(app)  # /ops/api/v1, /metrics, /health/live, /health/ready (gateway.ops)
    app.include_router(console_router)  # the operations console, /console (gateway.console)
    app.include_router(eigen_bijdrage_router)  # CAK: herstel tasks and the picture per client

    # Request ids in logs and X-Request-ID; wakes the workers after an accepted POST.
    app.add_middleware(CorrelationMiddleware, worker=wakeups)

    if runtime.settings.otel.enabled:
        app.add_middleware(TracingMiddleware)  # outermost: one span per request (gateway.tracing)

    # POST /ggk/soap: the same middlewares as above that act on it, without the rest (GatewayApp).
    app.ggk_soap_lane = _ggk_soap_lane(runtime, worker)

    @app.get("/health", tags=["health"], summary="Liveness and database reachability (no authentication)")
    def health() -> JSONResponse:
        try:
            with runtime.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            database = "ok"
        except Exception:
            database = "unreachable"
        status = 200 if database == "ok" else 503
        return JSONResponse(
            {"status": "ok" if status == 200 else "degraded", "database": database, "version": __version__},
            status,
        )

    return app
