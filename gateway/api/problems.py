"""RFC 9457 problem details (``application/problem+json``) for every API error.

Each error names the field and the rule it broke, so a back-office developer can fix
the request without reading our code. Input values are never echoed: they may hold a
BSN.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.bsn import mask_in_text

log = structlog.get_logger("gateway.api")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:gateway:problem:"


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


@dataclass
class Problem(Exception):  # noqa: N818 - it is answered, not "raised as an error", and reads as a noun
    """An error answered as problem+json; raise it anywhere below a route."""

    status: int
    kind: str
    title: str
    detail: str = ""
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] | None = None

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.kind,
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = [e.as_dict() for e in self.errors]
        return body


def validation_problem(errors: list[FieldError]) -> Problem:
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
    return Problem(422, "validation", "The request does not meet the rules", detail, errors)


#: Where gateway.api.correlation leaves the request id in the ASGI scope.
REQUEST_ID_SCOPE_KEY = "gateway.request_id"

UNEXPECTED = Problem(
    500,
    "internal-error",
    "The gateway failed to handle the request",
    "nothing was stored; the error is logged - retry later or contact the operators",
)


def _problem_response(problem: Problem, request: Request) -> JSONResponse:
    return JSONResponse(
        problem.body(request.url.path),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def _field_path(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    path = ""
    for part in parts:
        path += f"[{part}]" if part.isdigit() else (f".{part}" if path else part)
    # An unknown key is client data too (a back-office may key a mapping by BSN).
    return mask_in_text(path) or "body"


_RULE_NAMES = {
    "missing": "required",
    "extra_forbidden": "unknown-field",
    "json_invalid": "malformed-json",
    "model_attributes_type": "object-expected",
}


def _rule(error_type: str) -> str:
    return _RULE_NAMES.get(error_type, error_type.replace("_", "-"))


def field_error(err: Mapping[str, Any]) -> FieldError:
    """One pydantic error as a :class:`FieldError` (``ctx``/``input`` dropped: they echo client data)."""
    message = str(err.get("msg", "invalid"))
    return FieldError(_field_path(tuple(err.get("loc", ()))), _rule(str(err.get("type"))), message)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return _problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                errors.append(FieldError("body", "malformed-json", "the body is not valid JSON"))
                continue
            errors.append(field_error(err))
        if errors and all(e.rule == "malformed-json" for e in errors):
            problem = Problem(400, "malformed-json", "The body is not valid JSON", errors[0].message, errors)
        else:
            problem = validation_problem(errors)
        return _problem_response(problem, request)

    @app.exception_handler(OverflowError)
    async def _out_of_range(request: Request, exc: OverflowError) -> JSONResponse:
        # An id or number beyond the database's 64-bit integers (SQLite refuses to bind it):
        # no such row can exist, and it is the request's fault, not ours (found by schemathesis).
        log.info("api_number_out_of_range", path=request.url.path)
        problem = Problem(
            422,
            "number-out-of-range",
            "A number in the request is out of range",
            "identifiers and numbers must fit in a signed 64-bit integer",
        )
        return _problem_response(problem, request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Errors raised outside gateway.api.correlation (which answers those inside itself).
        # The text of an unexpected error is not shown: it may hold personal data. The
        # request id lets an operator find the logged error.
        rid = request.scope.get(REQUEST_ID_SCOPE_KEY)
        log.exception(
            "api_unhandled_error", path=request.url.path, error_type=type(exc).__name__, request_id=rid
        )
        response = _problem_response(UNEXPECTED, request)
        if isinstance(rid, str):
            response.headers["X-Request-ID"] = rid
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kinds = {404: "not-found", 405: "method-not-allowed", 401: "unauthorized", 403: "forbidden"}
        problem = Problem(exc.status_code, kinds.get(exc.status_code, "http-error"), str(exc.detail))
        return _problem_response(problem, request)
