"""``/ops/api/v1``: the operations services as JSON, for scripts and the console's live parts.

Authentication is an operator session - ``Authorization: Bearer <token>`` from
``POST /ops/api/v1/login``, or the console's cookie (:data:`SESSION_COOKIE`). Back-office
API keys are refused here (401): they are not sessions. Errors are problem+json.
A BSN is only ever sent in a request body (``POST /messages/search``), never in a URL.
"""

from __future__ import annotations

import dataclasses
import hmac
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from gateway.api.problems import PROBLEM_JSON, Problem
from gateway.ops import actions, alerts, detail, overview, replay, reports, search
from gateway.ops.errors import Forbidden, OpsError
from gateway.ops.login_throttle import TooManyAttempts
from gateway.ops.operators import (
    SESSION_COOKIE,
    OperatorInfo,
    attempt_login,
    csrf_token_for,
    logout,
    resolve_session,
)
from gateway.runtime import Runtime
from gateway.store.database import transaction

router = APIRouter(prefix="/ops/api/v1", tags=["operations"])


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def session_token(request: Request) -> str | None:
    """The session token from ``Authorization: Bearer`` or the console's cookie."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(SESSION_COOKIE)


CSRF_HEADER = "x-csrf-token"


def current_operator(request: Request) -> OperatorInfo:
    """FastAPI dependency: the logged-in operator, or 401 problem+json.

    A browser sends the session cookie on its own, also when another site makes it
    POST: a write authenticated by the cookie must carry ``X-CSRF-Token`` (the
    session's :func:`csrf_token_for`). A Bearer token is never sent by a browser
    unasked, so it needs none.
    """
    runtime = _runtime(request)
    token = session_token(request)
    with transaction(runtime.sessions) as session:
        operator = resolve_session(session, runtime, token)
    by_cookie = token is not None and not request.headers.get("authorization")
    if by_cookie and request.method not in ("GET", "HEAD", "OPTIONS"):
        presented = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(presented, csrf_token_for(token or "", runtime)):
            raise Forbidden("a write with the session cookie needs the X-CSRF-Token header")
    return operator


Operator = Annotated[OperatorInfo, Depends(current_operator)]


def _json(value: Any, status: int = 200) -> JSONResponse:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return JSONResponse(jsonable_encoder(value), status)


def _operator_json(operator: OperatorInfo) -> dict[str, Any]:
    return {
        "name": operator.name,
        "role": operator.role.value,
        "can_act": operator.can_act,
        "can_reveal": operator.can_reveal,
    }


# -- session ----------------------------------------------------------------------


class LoginRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)


class Reason(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)


class OptionalReason(BaseModel):
    reason: str | None = Field(None, max_length=1000)


@router.post("/login", summary="Log in; answers a session token for Authorization: Bearer")
def post_login(body: LoginRequest, request: Request) -> JSONResponse:
    runtime = _runtime(request)
    address = request.client.host if request.client else None
    grant = attempt_login(runtime, body.name, body.password, address)  # audited; throttled (429)
    return _json(
        {
            "token": grant.token,
            "expires_at": grant.expires_at,
            "csrf_token": grant.csrf_token,
            "operator": _operator_json(grant.operator),
        }
    )


@router.post("/logout", status_code=204, summary="End this session")
def post_logout(request: Request, _operator: Operator) -> Response:
    token = session_token(request)
    runtime = _runtime(request)
    if token:
        with transaction(runtime.sessions) as session:
            logout(session, runtime, token)
    return Response(status_code=204)


@router.get("/me", summary="Who is logged in, with what role")
def get_me(operator: Operator) -> JSONResponse:
    return _json(_operator_json(operator))


# -- seeing ----------------------------------------------------------------------


@router.get("/overview", summary="Per party and route: states, throughput, latency, overdue, parked")
def get_overview(request: Request, _operator: Operator) -> JSONResponse:
    runtime = _runtime(request)
    with runtime.sessions() as session:
        return _json(overview.overview(session, runtime))


class SearchRequest(BaseModel):
    bsn: str | None = Field(None, pattern=r"^[0-9]{9}$")
    toewijzingnummer: int | None = None
    beschikkingnummer: str | None = Field(None, max_length=50)
    referentienummer: str | None = Field(None, max_length=100)
    message_type: str | None = Field(None, max_length=30)
    party: str | None = Field(None, max_length=20)
    route: str | None = Field(None, max_length=60)
    state: str | None = None
    created_from: datetime | None = None
    created_until: datetime | None = None
    overdue: bool = False

    def query(self) -> search.SearchQuery:
        return search.SearchQuery(**self.model_dump())


class SearchBody(SearchRequest):
    page: int = Field(1, ge=1)
    page_size: int = Field(50, ge=1, le=search.MAX_PAGE_SIZE)


def _page(page: search.SearchPage) -> JSONResponse:
    return _json(
        {
            "items": [dataclasses.asdict(item) for item in page.items],
            "total": page.total,
            "page": page.page,
            "page_size": page.page_size,
            "pages": page.pages,
        }
    )


@router.post("/messages/search", summary="Search messages (every key, the BSN too: it stays out of URLs)")
def post_search(body: SearchBody, request: Request, _operator: Operator) -> JSONResponse:
    runtime = _runtime(request)
    with runtime.sessions() as session:
        query = SearchRequest(**body.model_dump(exclude={"page", "page_size"})).query()
        return _page(
            search.search_messages(session, runtime, query, page=body.page, page_size=body.page_size)
        )


@router.get("/messages", summary="Search messages by anything but a BSN (use POST /messages/search for that)")
def get_messages(
    request: Request,
    _operator: Operator,
    toewijzingnummer: int | None = None,
    beschikkingnummer: Annotated[str | None, Query(max_length=50)] = None,
    referentienummer: Annotated[str | None, Query(max_length=100)] = None,
    message_type: Annotated[str | None, Query(max_length=30)] = None,
    party: Annotated[str | None, Query(max_length=20)] = None,
    route: Annotated[str | None, Query(max_length=60)] = None,
    state: str | None = None,
    created_from: datetime | None = None,
    created_until: datetime | None = None,
    overdue: bool = False,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=search.MAX_PAGE_SIZE)] = 50,
) -> JSONResponse:
    runtime = _runtime(request)
    query = search.SearchQuery(
        toewijzingnummer=toewijzingnummer,
        beschikkingnummer=beschikkingnummer,
        referentienummer=referentienummer,
        message_type=message_type,
        party=party,
        route=route,
        state=state,
        created_from=created_from,
        created_until=created_until,
        overdue=overdue,
    )
    with runtime.sessions() as session:
        return _page(search.search_messages(session, runtime, query, page=page, page_size=page_size))


@router.get("/messages/{message_id}", summary="One message: timeline, envelope, masked payload, codes, links")
def get_message(message_id: int, request: Request, _operator: Operator) -> JSONResponse:
    runtime = _runtime(request)
    with runtime.sessions() as session:
        return _json(detail.message_detail(session, runtime, message_id))


@router.post("/messages/{message_id}/reveal", summary="BSN and unmasked payload (privacy officer; audited)")
def post_reveal(message_id: int, body: Reason, request: Request, operator: Operator) -> JSONResponse:
    runtime = _runtime(request)
    with transaction(runtime.sessions) as session:
        revealed = detail.reveal_personal_data(session, runtime, operator, message_id, body.reason)
    response = _json(revealed)
    response.headers["Cache-Control"] = "no-store"
    return response


# -- acting ----------------------------------------------------------------------


@router.post("/messages/{message_id}/park", status_code=204, summary="Take a queued message out of the queue")
def post_park(message_id: int, body: Reason, request: Request, operator: Operator) -> Response:
    runtime = _runtime(request)
    with transaction(runtime.sessions) as session:
        actions.park_message(session, runtime, operator, message_id, body.reason)
    return Response(status_code=204)


@router.post(
    "/messages/{message_id}/unpark", status_code=204, summary="Put a parked message back in the queue"
)
def post_unpark(message_id: int, body: Reason, request: Request, operator: Operator) -> Response:
    runtime = _runtime(request)
    with transaction(runtime.sessions) as session:
        actions.unpark_message(session, runtime, operator, message_id, body.reason)
    _wake(request)
    return Response(status_code=204)


def _wake(request: Request) -> None:
    worker = getattr(request.app.state, "worker", None)
    if worker is not None:
        worker.wake()


class ReplayRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)
    message_id: int | None = None
    filter: SearchRequest | None = None


class ConfirmRequest(BaseModel):
    confirmation_token: str = Field(min_length=1, max_length=200)


@router.post("/replay-jobs", status_code=201, summary="Preview a replay: count and a confirmation token")
def post_replay_job(body: ReplayRequest, request: Request, operator: Operator) -> JSONResponse:
    runtime = _runtime(request)
    with transaction(runtime.sessions) as session:
        preview = replay.preview_replay(
            session,
            runtime,
            operator,
            reason=body.reason,
            message_id=body.message_id,
            query=body.filter.query() if body.filter is not None else None,
        )
    return _json(preview, 201)


@router.post("/replay-jobs/{job_id}/confirm", summary="Start a previewed replay")
def post_confirm(job_id: int, body: ConfirmRequest, request: Request, operator: Operator) -> JSONResponse:
    runtime = _runtime(request)
    with transaction(runtime.sessions) as session:
        job = replay.confirm_replay(session, runtime, operator, job_id, body.confirmation_token)
    replay.start_background_replay(runtime, on_batch=lambda: _wake(request))
    return _json(job)


@router.post("/replay-jobs/{job_id}/cancel", summary="Stop a replay job")
def post_cancel(job_id: int, body: Reason, request: Request, operator: Operator) -> JSONResponse:
    runtime = _runtime(request)
    with transaction(runtime.sessions) as session:
        return _json(replay.cancel_replay(session, runtime, operator, job_id, body.reason))


@router.get("/replay-jobs", summary="Replay jobs, newest first")
def get_replay_jobs(request: Request, _operator: Operator) -> JSONResponse:
    with _runtime(request).sessions() as session:
        return _json({"items": [dataclasses.asdict(j) for j in replay.list_replay_jobs(session)]})


@router.get("/replay-jobs/{job_id}", summary="One replay job with its progress")
def get_replay_job(job_id: int, request: Request, _operator: Operator) -> JSONResponse:
    with _runtime(request).sessions() as session:
        job = replay.get_replay_job(session, job_id)
    return _json({**dataclasses.asdict(job), "percent": job.percent})


@router.get("/replay-jobs/{job_id}/items", summary="The messages of a replay job and their replays")
def get_replay_items(
    job_id: int,
    request: Request,
    _operator: Operator,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    with _runtime(request).sessions() as session:
        replay.get_replay_job(session, job_id)
        items = replay.replay_job_items(session, job_id, offset=offset, limit=limit)
    return _json({"items": [dataclasses.asdict(i) for i in items]})


@router.get("/routes", summary="Routes paused or resumed by an operator")
def get_routes(request: Request, _operator: Operator) -> JSONResponse:
    with _runtime(request).sessions() as session:
        return _json({"items": [dataclasses.asdict(r) for r in actions.route_states(session)]})


@router.post("/routes/{route}/pause", summary="Stop delivering on a route")
def post_pause(route: str, body: Reason, request: Request, operator: Operator) -> JSONResponse:
    runtime = _runtime(request)
    with transaction(runtime.sessions) as session:
        return _json(
            actions.set_route_paused(session, runtime, operator, route, paused=True, reason=body.reason)
        )


@router.post("/routes/{route}/resume", summary="Deliver on a route again")
def post_resume(route: str, body: Reason, request: Request, operator: Operator) -> JSONResponse:
    runtime = _runtime(request)
    with transaction(runtime.sessions) as session:
        state = actions.set_route_paused(session, runtime, operator, route, paused=False, reason=body.reason)
    _wake(request)
    return _json(state)


@router.post("/deadlines/{deadline_id}/handled", status_code=204, summary="Mark an overdue item handled")
def post_handled(deadline_id: int, body: Reason, request: Request, operator: Operator) -> Response:
    runtime = _runtime(request)
    with transaction(runtime.sessions) as session:
        actions.mark_overdue_handled(session, runtime, operator, deadline_id, body.reason)
    return Response(status_code=204)


@router.get("/alerts", summary="Alerts, newest first")
def get_alerts(
    request: Request, _operator: Operator, status: str | None = None, kind: str | None = None
) -> JSONResponse:
    with _runtime(request).sessions() as session:
        return _json(
            {"items": [dataclasses.asdict(a) for a in alerts.list_alerts(session, status=status, kind=kind)]}
        )


@router.post("/alerts/{alert_id}/acknowledge", summary="Someone is on it")
def post_acknowledge(
    alert_id: int, body: OptionalReason, request: Request, operator: Operator
) -> JSONResponse:
    runtime = _runtime(request)
    with transaction(runtime.sessions) as session:
        return _json(alerts.acknowledge_alert(session, runtime, operator, alert_id, body.reason))


# -- reports ---------------------------------------------------------------------


Dimension = Annotated[str, Query(description=", ".join(reports.DIMENSIONS))]
Law = Annotated[str | None, Query(pattern="^(jeugdwet|wmo)$")]


def _report_query(
    dimension: Dimension = "product",
    date_from: date | None = None,
    date_until: date | None = None,
    law: Law = None,
) -> reports.ReportQuery:
    """FastAPI dependency: the query parameters both report routes (JSON and CSV) take."""
    return reports.ReportQuery(dimension=dimension, date_from=date_from, date_until=date_until, law=law)


ReportParams = Annotated[reports.ReportQuery, Depends(_report_query)]


def _report(request: Request, query: reports.ReportQuery) -> reports.Report:
    runtime = _runtime(request)
    with runtime.sessions() as session:
        return reports.build_report(session, runtime, query)


@router.get("/reports", summary="Counts, waiting and lead times per product, provider, gebiedsteam, law ...")
def get_report(request: Request, _operator: Operator, query: ReportParams) -> JSONResponse:
    report = _report(request, query)
    return _json({**dataclasses.asdict(report), "chart": dataclasses.asdict(reports.chart_series(report))})


@router.get("/reports.csv", summary="The same report as CSV (no BSNs)")
def get_report_csv(request: Request, _operator: Operator, query: ReportParams) -> Response:
    report = _report(request, query)
    return Response(
        reports.report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="report-{query.dimension}.csv"'},
    )


def install_ops(app: FastAPI) -> None:
    """Add the ops API, ``/metrics`` and ``/health/live|ready`` to the gateway's app."""
    from gateway.ops.health import router as health_router
    from gateway.ops.metrics import router as metrics_router

    async def _ops_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, OpsError)
        problem = Problem(exc.status, exc.kind, str(exc) or type(exc).__name__)
        headers = {"WWW-Authenticate": 'Bearer realm="gateway-ops"'} if exc.status == 401 else None
        if isinstance(exc, TooManyAttempts):
            headers = {"Retry-After": str(exc.retry_after_s)}
        return JSONResponse(
            problem.body(request.url.path), status_code=exc.status, media_type=PROBLEM_JSON, headers=headers
        )

    app.add_exception_handler(OpsError, _ops_problem)
    app.include_router(router)
    app.include_router(metrics_router)
    app.include_router(health_router)
