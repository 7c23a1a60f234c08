"""The console's plumbing: templates, the signed-in operator, and one route class.

Every console route goes through :class:`ConsoleRoute`, which

- refuses a POST without the session's CSRF token (403) before the handler runs;
- turns "no valid session" into a redirect to the login page (a page) or a 401 (a
  live-refresh fragment, whose script then reloads the page);
- shows an :class:`~gateway.ops.errors.OpsError` (wrong role, wrong state, bad input) as a
  page with the error's status and text - the ops services never put personal data in it;
- puts the security headers on every response, errors and redirects included.

Templates are Jinja2 with autoescaping on for everything, so nothing from the database
or a form reaches the page unescaped.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import structlog
from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, StrictUndefined

from gateway.console import security
from gateway.console.charts import bar_chart
from gateway.ops.errors import NotAuthenticated, OpsError
from gateway.ops.operators import OperatorInfo, csrf_token_for, resolve_session
from gateway.runtime import Runtime
from gateway.store.database import transaction

log = structlog.get_logger("gateway.console")

LOCAL_TIME = ZoneInfo("Europe/Amsterdam")
LOGIN_PATH = "/console/login"
NAV = [
    ("/console/", "Overview", "overview"),
    ("/console/berichten", "Search", "search"),
    ("/console/jobs", "Replay jobs", "jobs"),
    ("/console/alerts", "Alerts", "alerts"),
    ("/console/reports", "Reports", "reports"),
]
ROLE_LABELS = {"viewer": "Viewer", "operator": "Operator", "privacy_officer": "Privacy officer"}


def _local(moment: datetime | None) -> str:
    """Times as the gemeente reads them: Dutch local time, to the second."""
    if moment is None:
        return "—"
    return moment.astimezone(LOCAL_TIME).strftime("%Y-%m-%d %H:%M:%S")


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.0f} min"
    return f"{value / 3600:.1f} h"


def _hours(value: float | None) -> str:
    """Reports give hours to two decimals: below that, say so rather than "0 ms"."""
    if value is not None and value < 0.01:
        return "< 1 min"
    return _seconds(None if value is None else value * 3600)


def _number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}" if value != int(value) else f"{int(value)}"


templates = Environment(
    loader=PackageLoader("gateway.console", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters["local"] = _local
templates.filters["seconds"] = _seconds
templates.filters["number"] = _number
templates.filters["hours"] = _hours
templates.globals["bar_chart"] = bar_chart
templates.globals["role_labels"] = ROLE_LABELS


class LoginRequiredError(Exception):
    """No valid session; ``expired`` when there was a cookie that no longer works."""

    def __init__(self, expired: bool) -> None:
        super().__init__("login required")
        self.expired = expired


class CsrfRefusedError(Exception):
    pass


@dataclass(frozen=True)
class ConsoleUser:
    """The signed-in operator, with what every page needs about the session."""

    operator: OperatorInfo
    session_token: str
    csrf_token: str

    @property
    def can_act(self) -> bool:
        return self.operator.can_act

    @property
    def can_reveal(self) -> bool:
        return self.operator.can_reveal


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def current_user(request: Request) -> ConsoleUser:
    """The operator behind the session cookie; :class:`LoginRequiredError` otherwise.

    Only the console's session cookie counts: a back-office API key (``X-API-Key`` or a
    Bearer token) is a different credential and never opens the console.
    """
    token = request.cookies.get(security.SESSION_COOKIE)
    if not token:
        raise LoginRequiredError(expired=False)
    runtime = runtime_of(request)
    try:
        with transaction(runtime.sessions) as session:
            operator = resolve_session(session, runtime, token)
    except NotAuthenticated:
        raise LoginRequiredError(expired=True) from None
    return ConsoleUser(operator, token, csrf_token_for(token, runtime))


User = Annotated[ConsoleUser, Depends(current_user)]


def render(
    request: Request,
    user: ConsoleUser | None,
    template: str,
    *,
    status_code: int = 200,
    section: str = "",
    **context: Any,
) -> HTMLResponse:
    runtime = runtime_of(request)
    values: dict[str, Any] = {
        "gemeente": runtime.settings.gemeente_naam,
        "nav": NAV,
        "section": section,
        "notice": None,
        "notice_kind": "ok",
        "user": user,
        "operator": user.operator if user else None,
        "role_label": ROLE_LABELS.get(user.operator.role.value, "") if user else "",
        "csrf_token": user.csrf_token if user else "",
    }
    values.update(context)
    html = templates.get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code)


def safe_next(path: str | None) -> str:
    """Where to go after login: only a console path on this site (no open redirect)."""
    if path and path.startswith("/console/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/console/"


def _login_redirect(request: Request, expired: bool) -> Response:
    target = request.url.path
    if request.url.query and request.method == "GET":
        target += "?" + request.url.query
    location = f"{LOGIN_PATH}?next={quote(safe_next(target))}"
    if expired:
        location += "&expired=1"
    response = RedirectResponse(location, status_code=303)
    if expired:
        security.clear_cookie(response, security.SESSION_COOKIE, runtime_of(request).settings)
    return response


async def _check_csrf(request: Request) -> None:
    token = request.cookies.get(security.SESSION_COOKIE)
    if not token:
        raise LoginRequiredError(expired=False)
    form = await request.form()  # cached by Starlette: the handler reads the same form
    presented = form.get(security.CSRF_FIELD)
    expected = csrf_token_for(token, runtime_of(request))
    if not isinstance(presented, str) or not hmac.compare_digest(expected, presented):
        raise CsrfRefusedError()


def _error_page(request: Request, status_code: int, title: str, message: str) -> Response:
    user: ConsoleUser | None = None
    try:
        user = current_user(request)
    except LoginRequiredError:
        user = None
    return render(
        request, user, "error.html", status_code=status_code, title=title, message=message, section=""
    )


class ConsoleRoute(APIRoute):
    """Security headers, CSRF, login redirects and error pages for every console route."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        exempt = self.path in (LOGIN_PATH,)
        fragment = "/fragments/" in self.path

        async def console_handler(request: Request) -> Response:
            try:
                if request.method == "POST" and not exempt:
                    await _check_csrf(request)
                response = await handler(request)
            except LoginRequiredError as exc:
                if fragment:
                    response = Response("login required", status_code=401, media_type="text/plain")
                else:
                    response = _login_redirect(request, exc.expired)
            except CsrfRefusedError:
                log.info("console_csrf_refused", path=request.url.path)
                response = _error_page(
                    request,
                    403,
                    "Form expired or forged",
                    "This form did not carry a valid security token. Go back, reload the page and try again.",
                )
            except OpsError as exc:
                response = _error_page(request, exc.status, _TITLES.get(exc.status, "Not possible"), str(exc))
            except RequestValidationError as exc:
                fields = sorted({".".join(str(p) for p in e["loc"][1:]) for e in exc.errors()})
                response = _error_page(
                    request, 422, "Check the form", f"Not valid: {', '.join(fields) or 'the request'}."
                )
            return security.apply_security_headers(response)

        return console_handler


_TITLES = {
    401: "Log in again",
    403: "Not allowed for your role",
    404: "Not found",
    409: "Not possible in this state",
    422: "Check the form",
}
