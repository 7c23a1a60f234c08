"""The console's browser security: session cookie, CSRF tokens, response headers.

The console is used from a browser with a session cookie, so every state-changing POST
must prove it came from a page the console rendered (cross-site request forgery). Every
form after login carries a *synchroniser token bound to the session*
(:func:`gateway.ops.operators.csrf_token_for`: an HMAC of the session token under the
installation key, so nothing is stored and a token from one session is worthless in
another), compared in constant time. The login form, before there is a session, uses a
double-submit token: one random value in a cookie and in the form.

The headers forbid framing (clickjacking), inline scripts (XSS that slips past the
templates' autoescaping cannot run), MIME sniffing and leaking console URLs as referrers.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Response

from gateway.ops.operators import SESSION_COOKIE as OPS_SESSION_COOKIE
from gateway.settings import Mode, Settings

#: The session cookie (its name is the ops side's); its path limits it to the console.
SESSION_COOKIE = OPS_SESSION_COOKIE
#: The login form's double-submit cookie.
LOGIN_COOKIE = "gw_console_login"
COOKIE_PATH = "/console"
#: The form field every console POST carries.
CSRF_FIELD = "csrf_token"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    # Pages show personal data: no copy in shared or browser caches.
    "Cache-Control": "no-store",
}


def apply_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def login_token_valid(cookie: str | None, presented: str | None) -> bool:
    """The double-submit check of the login form: cookie and field carry the same random value."""
    if not cookie or not presented:
        return False
    return hmac.compare_digest(cookie.encode(), presented.encode())


def set_cookie(response: Response, name: str, value: str, settings: Settings, max_age_s: int) -> None:
    """``HttpOnly`` (no script reads it), ``SameSite=Strict`` (never sent cross-site),
    ``Secure`` in production (only over TLS)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age_s,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=settings.mode is Mode.PRODUCTION,
    )


def clear_cookie(response: Response, name: str, settings: Settings) -> None:
    response.delete_cookie(
        name,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=settings.mode is Mode.PRODUCTION,
    )
