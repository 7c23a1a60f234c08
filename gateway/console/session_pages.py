"""Logging in and out of the console, and its two static files.

Login uses the operator accounts of :mod:`gateway.ops.operators` (Argon2id passwords,
server-side sessions). The session token goes into an ``HttpOnly; SameSite=Strict``
cookie (``Secure`` in production) scoped to ``/console``; the server decides when it
expires, and the next request after that lands on this login page again.
"""

from __future__ import annotations

import math
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from gateway.console import security
from gateway.console.web import ConsoleRoute, User, render, runtime_of, safe_next
from gateway.ops.errors import NotAuthenticated
from gateway.ops.login_throttle import TooManyAttempts
from gateway.ops.operators import attempt_login, logout
from gateway.store.database import transaction

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

_STATIC = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}
_LOGIN_FORM_S = 30 * 60


def _login_page(
    request: Request,
    *,
    next_path: str,
    error: str = "",
    info: str = "",
    username: str = "",
    status: int = 200,
) -> Response:
    token = security.new_login_token()
    response = render(
        request,
        None,
        "login.html",
        status_code=status,
        csrf_token=token,
        next=safe_next(next_path),
        error=error,
        info=info,
        username=username,
    )
    security.set_cookie(response, security.LOGIN_COOKIE, token, runtime_of(request).settings, _LOGIN_FORM_S)
    return response


@router.get("/console/login")
def login_form(request: Request, next: str = "/console/", expired: str = "", out: str = "") -> Response:
    info = ""
    if expired:
        info = "Your session has ended. Log in again to continue."
    elif out:
        info = "You are logged out."
    return _login_page(request, next_path=next, info=info)


@router.post("/console/login")
def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/console/",
) -> Response:
    if not security.login_token_valid(request.cookies.get(security.LOGIN_COOKIE), csrf_token):
        return _login_page(
            request,
            next_path=next,
            error="The login form expired. Please try again.",
            username=username,
            status=403,
        )
    runtime = runtime_of(request)
    try:
        address = request.client.host if request.client else None
        grant = attempt_login(runtime, username, password, address)  # a refusal is audited
    except NotAuthenticated:
        return _login_page(
            request, next_path=next, error="Wrong name or password.", username=username, status=401
        )
    except TooManyAttempts as locked:
        minutes = math.ceil(locked.retry_after_s / 60)
        response = _login_page(
            request,
            next_path=next,
            error=f"Too many failed log-ins. Please wait {minutes} minute(s) before trying again.",
            username=username,
            status=429,
        )
        response.headers["Retry-After"] = str(locked.retry_after_s)
        return response
    response = RedirectResponse(safe_next(next), status_code=303)
    max_age = runtime.settings.ops.session_absolute_hours * 3600
    security.set_cookie(response, security.SESSION_COOKIE, grant.token, runtime.settings, max_age)
    security.clear_cookie(response, security.LOGIN_COOKIE, runtime.settings)
    return response


@router.post("/console/logout")
def logout_submit(request: Request, user: User) -> Response:
    runtime = runtime_of(request)
    with transaction(runtime.sessions) as session:
        logout(session, runtime, user.session_token)
    response = RedirectResponse("/console/login?out=1", status_code=303)
    security.clear_cookie(response, security.SESSION_COOKIE, runtime.settings)
    return response


@router.get("/console/static/{name}")
def static_file(name: str) -> Response:
    """The stylesheet and the refresh script (``'self'`` in the Content-Security-Policy)."""
    media_type = _STATIC.get(name)
    if media_type is None:
        return Response("not found", status_code=404, media_type="text/plain")
    content = resources.files("gateway.console").joinpath("static", name).read_bytes()
    return Response(content, media_type=media_type, headers={"Cache-Control": "public, max-age=300"})


@router.get("/console")
def console_root() -> Response:
    return RedirectResponse("/console/", status_code=307)
