"""Operator actions: each a confirmation page with a required reason, then a POST.

Replay goes in two steps, as :mod:`gateway.ops.replay` is built: the reason and the
selection make a *preview* (how many messages, which ones are skipped, a sample), and
only the confirmation starts the job; the job page then shows its progress live.
Park/unpark, pause/resume a route, mark an overdue deadline handled and acknowledge an
alert each confirm with a reason on one page. The services check the role again
(a viewer who posts anyway gets 403) and audit who, when and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from gateway.console.message_pages import query_from
from gateway.console.web import ConsoleRoute, ConsoleUser, User, render, runtime_of
from gateway.ops.actions import mark_overdue_handled, park_message, set_route_paused, unpark_message
from gateway.ops.alerts import acknowledge_alert
from gateway.ops.detail import message_detail
from gateway.ops.errors import InvalidInput, NotFound
from gateway.ops.operators import Role, require_role
from gateway.ops.replay import (
    confirm_replay,
    get_replay_job,
    list_replay_jobs,
    preview_replay,
    replay_job_items,
    start_background_replay,
)
from gateway.store.database import transaction

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

Reason = Annotated[str, Form(max_length=1000)]
JOB_REFRESH_SECONDS = 1


@dataclass(frozen=True)
class Confirmation:
    """What the generic confirmation page asks."""

    title: str
    question: str
    action: str
    button: str
    cancel: str
    danger: bool = False
    hidden: tuple[tuple[str, str], ...] = ()
    reason_required: bool = True


def _confirm(request: Request, user: ConsoleUser, confirmation: Confirmation, section: str) -> Response:
    require_role(user.operator, Role.OPERATOR)  # a viewer never sees the form either
    return render(request, user, "confirm.html", section=section, c=confirmation)


# -- single messages ----------------------------------------------------------------

_MESSAGE_ACTIONS = {
    "park": (
        "Park message {id}",
        "Take it out of the queue: it is not sent until someone unparks or replays it.",
    ),
    "unpark": (
        "Unpark message {id}",
        "Put it back in the queue, due now, with its original envelope and ids.",
    ),
}


@router.get("/console/berichten/{message_id}/confirm/{action}")
def confirm_message_action(request: Request, user: User, message_id: int, action: str) -> Response:
    if action not in _MESSAGE_ACTIONS:
        raise NotFound(f"no action {action!r}")
    title, question = _MESSAGE_ACTIONS[action]
    return _confirm(
        request,
        user,
        Confirmation(
            title=title.format(id=message_id),
            question=question,
            action=f"/console/berichten/{message_id}/{action}",
            button=action.capitalize(),
            cancel=f"/console/berichten/{message_id}",
        ),
        "search",
    )


@router.post("/console/berichten/{message_id}/park")
def park(request: Request, user: User, message_id: int, reason: Reason = "") -> Response:
    runtime = runtime_of(request)
    with transaction(runtime.sessions) as session:
        park_message(session, runtime, user.operator, message_id, reason)
    return RedirectResponse(f"/console/berichten/{message_id}?done=parked", status_code=303)


@router.post("/console/berichten/{message_id}/unpark")
def unpark(request: Request, user: User, message_id: int, reason: Reason = "") -> Response:
    runtime = runtime_of(request)
    with transaction(runtime.sessions) as session:
        unpark_message(session, runtime, user.operator, message_id, reason)
    _wake_worker(request)
    return RedirectResponse(f"/console/berichten/{message_id}?done=unparked", status_code=303)


def _wake_worker(request: Request) -> None:
    worker = getattr(request.app.state, "worker", None)
    if worker is not None:
        worker.wake()


# -- replay -------------------------------------------------------------------------


@router.get("/console/berichten/{message_id}/replay")
def replay_one_form(request: Request, user: User, message_id: int) -> Response:
    require_role(user.operator, Role.OPERATOR)
    runtime = runtime_of(request)
    with runtime.sessions() as session:
        detail = message_detail(session, runtime, message_id)
    return render(
        request, user, "replay_form.html", section="search", message=detail.message, filters={}, count=None
    )


@router.post("/console/replay/new")
async def replay_set_form(request: Request, user: User) -> Response:
    """From the search results: the same filters, now asking for a reason."""
    require_role(user.operator, Role.OPERATOR)
    form = await request.form()
    _query, raw = query_from(form, allow_bsn=True)
    filters = {name: value for name, value in raw.items() if value}
    if not filters:
        raise InvalidInput("a replay of a set needs at least one search filter")
    return render(request, user, "replay_form.html", section="search", message=None, filters=filters)


@router.post("/console/replay/preview")
async def replay_preview(request: Request, user: User) -> Response:
    form = await request.form()
    reason = str(form.get("reason") or "")
    message_id = str(form.get("message_id") or "")
    runtime = runtime_of(request)
    with transaction(runtime.sessions) as session:
        if message_id:
            if not message_id.isdigit():
                raise InvalidInput("message_id: digits only")
            preview = preview_replay(
                session, runtime, user.operator, reason=reason, message_id=int(message_id)
            )
        else:
            query, _raw = query_from(form, allow_bsn=True)
            preview = preview_replay(session, runtime, user.operator, reason=reason, query=query)
    return render(request, user, "replay_preview.html", section="jobs", p=preview)


@router.post("/console/replay/{job_id}/confirm")
def replay_confirm(
    request: Request, user: User, job_id: int, confirmation: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    runtime = runtime_of(request)
    with transaction(runtime.sessions) as session:
        confirm_replay(session, runtime, user.operator, job_id, confirmation)
    worker = getattr(request.app.state, "worker", None)
    start_background_replay(runtime, on_batch=worker.wake if worker is not None else None)
    return RedirectResponse(f"/console/jobs/{job_id}", status_code=303)


@router.get("/console/jobs")
def jobs_page(request: Request, user: User) -> Response:
    runtime = runtime_of(request)
    with runtime.sessions() as session:
        jobs = list_replay_jobs(session, limit=100)
    return render(request, user, "jobs.html", section="jobs", jobs=jobs)


def _job_context(request: Request, job_id: int) -> dict[str, Any]:
    runtime = runtime_of(request)
    with runtime.sessions() as session:
        job = get_replay_job(session, job_id)
        items = replay_job_items(session, job_id, limit=100)
    return {"job": job, "items": items, "refresh_seconds": JOB_REFRESH_SECONDS}


@router.get("/console/jobs/{job_id}")
def job_page(request: Request, user: User, job_id: int) -> Response:
    return render(request, user, "job.html", section="jobs", **_job_context(request, job_id))


@router.get("/console/fragments/jobs/{job_id}")
def job_fragment(request: Request, user: User, job_id: int) -> Response:
    return render(request, user, "_job_body.html", **_job_context(request, job_id))


# -- routes, deadlines, alerts ---------------------------------------------------------


@router.get("/console/routes/confirm")
def confirm_route(request: Request, user: User, route: str, action: str) -> Response:
    if action not in ("pause", "resume"):
        raise NotFound(f"no action {action!r}")
    pause = action == "pause"
    return _confirm(
        request,
        user,
        Confirmation(
            title=f"{'Pause' if pause else 'Resume'} route {route}",
            question=(
                "The delivery worker sends nothing on this route until it is resumed; messages wait queued."
                if pause
                else "The route's queued messages leave at once."
            ),
            action=f"/console/routes/{action}",
            button=action.capitalize(),
            cancel="/console/",
            danger=pause,
            hidden=(("route", route),),
        ),
        "overview",
    )


@router.post("/console/routes/{action}")
def route_action(
    request: Request, user: User, action: str, route: Annotated[str, Form(max_length=60)], reason: Reason = ""
) -> Response:
    if action not in ("pause", "resume"):
        raise NotFound(f"no action {action!r}")
    runtime = runtime_of(request)
    with transaction(runtime.sessions) as session:
        set_route_paused(session, runtime, user.operator, route, paused=action == "pause", reason=reason)
    if action == "resume":
        _wake_worker(request)
    return RedirectResponse(f"/console/?done={'paused' if action == 'pause' else 'resumed'}", status_code=303)


@router.get("/console/deadlines/{deadline_id}/confirm")
def confirm_handled(
    request: Request, user: User, deadline_id: int, message_id: int | None = None
) -> Response:
    back = f"/console/berichten/{message_id}" if message_id else "/console/alerts"
    return _confirm(
        request,
        user,
        Confirmation(
            title="Mark the overdue answer handled",
            question=(
                "Someone has dealt with it (called the aanbieder, asked for a retour): "
                "it leaves the overdue lists."
            ),
            action=f"/console/deadlines/{deadline_id}/handled",
            button="Mark handled",
            cancel=back,
            hidden=(("message_id", str(message_id)),) if message_id else (),
        ),
        "alerts",
    )


@router.post("/console/deadlines/{deadline_id}/handled")
def handled(
    request: Request,
    user: User,
    deadline_id: int,
    reason: Reason = "",
    message_id: Annotated[str, Form()] = "",
) -> Response:
    runtime = runtime_of(request)
    with transaction(runtime.sessions) as session:
        mark_overdue_handled(session, runtime, user.operator, deadline_id, reason)
    target = (
        f"/console/berichten/{quote(message_id)}?done=handled" if message_id.isdigit() else "/console/alerts"
    )
    return RedirectResponse(target, status_code=303)


@router.get("/console/alerts/{alert_id}/confirm")
def confirm_acknowledge(request: Request, user: User, alert_id: int) -> Response:
    return _confirm(
        request,
        user,
        Confirmation(
            title=f"Acknowledge alert {alert_id}",
            question="Tell your colleagues someone is on it; the alert leaves the open list.",
            action=f"/console/alerts/{alert_id}/acknowledge",
            button="Acknowledge",
            cancel="/console/alerts",
        ),
        "alerts",
    )


@router.post("/console/alerts/{alert_id}/acknowledge")
def acknowledge(request: Request, user: User, alert_id: int, reason: Reason = "") -> Response:
    runtime = runtime_of(request)
    if len(reason.strip()) < 3:
        raise InvalidInput("reason: say why (at least 3 characters)")
    with transaction(runtime.sessions) as session:
        acknowledge_alert(session, runtime, user.operator, alert_id, reason)
    return RedirectResponse("/console/alerts?done=acknowledged", status_code=303)
