"""``POST /api/v1/beschikkingen``: the back-office hands over a decision."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from connectors.istandaard import Law
from gateway.api import idempotency
from gateway.api.auth import require_law, require_scope
from gateway.api.beschikking_models import BeschikkingIn, BeschikkingOut
from gateway.api.problems import PROBLEM_JSON, Problem
from gateway.api_keys import SCOPE_BERICHTEN_READ, SCOPE_BESCHIKKINGEN_WRITE
from gateway.audit_recorders import mark_api_write_recorded, record_api_write
from gateway.intake import accept_beschikking, bericht_ref, toewijzing_out
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.tables import ApiClient, Beschikking, Message, Toewijzing

router = APIRouter(prefix="/api/v1", tags=["beschikkingen"])

_PROBLEM = {"content": {PROBLEM_JSON: {}}, "description": "problem+json"}


@router.post(
    "/beschikkingen",
    status_code=201,
    response_model=BeschikkingOut,
    responses={400: _PROBLEM, 401: _PROBLEM, 403: _PROBLEM, 409: _PROBLEM, 422: _PROBLEM},
    summary="Accept a beschikking and send its toewijzingen",
)
def post_beschikking(
    body: BeschikkingIn,
    request: Request,
    client: Annotated[ApiClient, Depends(require_scope(SCOPE_BESCHIKKINGEN_WRITE))],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    """Store the decision and its toewijzingen and queue one 301 per aanbieder (OP087).

    With an ``Idempotency-Key`` a retry of the same request returns the first answer
    (header ``Idempotent-Replayed: true``); the same key with another body is a 409.
    """
    require_law(client, body.wet.value, "write")  # scopes per law: jeugdwet:write / wmo:write
    runtime: Runtime = request.app.state.runtime
    fingerprint = ""  # only a request with a key is fingerprinted (a serialisation of the body)
    if idempotency_key is not None:
        idempotency.check_key(idempotency_key)
        fingerprint = idempotency.request_fingerprint(body.model_dump_json())
    try:
        with transaction(runtime.sessions) as session:
            if idempotency_key is not None:
                stored = idempotency.replay(session, client.id, idempotency_key, fingerprint)
                if stored is not None:
                    return JSONResponse(
                        stored.body, stored.status_code, headers={"Idempotent-Replayed": "true"}
                    )
            result = accept_beschikking(session, runtime, body, client.id)
            if idempotency_key is not None:
                response = idempotency.StoredResponse(201, result.model_dump(mode="json"))
                idempotency.remember(session, runtime, client.id, idempotency_key, fingerprint, response)
            # The api.write entry commits with the decision: one commit per request, not two.
            record_api_write(session, runtime, request, client.name, 201)
        mark_api_write_recorded(request)
    except IntegrityError:
        # A concurrent request with the same key or beschikkingnummer won the race.
        if idempotency_key is not None:
            with runtime.sessions() as session:
                stored = idempotency.replay(session, client.id, idempotency_key, fingerprint)
            if stored is not None:
                return JSONResponse(stored.body, stored.status_code, headers={"Idempotent-Replayed": "true"})
        raise Problem(
            409, "conflict", "A concurrent request changed the same data; retry the request"
        ) from None
    return Response(
        answer_json(result),
        201,
        headers={"Location": f"/api/v1/beschikkingen/{result.id}"},
        media_type="application/json",
    )


def answer_json(result: BeschikkingOut) -> bytes:
    """The 201 body: the bytes ``JSONResponse(result.model_dump(mode="json"))`` would send.

    Why not that: a dict built only to be serialised again costs twice pydantic's own
    serialiser, on every request. The output is the same: compact separators, UTF-8 text
    unescaped, dates as ISO strings (a test compares both ways, tricky strings included).
    """
    return result.model_dump_json().encode()


@router.get(
    "/beschikkingen/{beschikking_id}",
    response_model=BeschikkingOut,
    responses={401: _PROBLEM, 403: _PROBLEM, 404: _PROBLEM},
    summary="A beschikking with its toewijzingen and the messages sent for it",
)
def get_beschikking(
    beschikking_id: int,
    request: Request,
    client: Annotated[ApiClient, Depends(require_scope(SCOPE_BERICHTEN_READ))],
) -> BeschikkingOut:
    runtime: Runtime = request.app.state.runtime
    with runtime.sessions() as session:
        beschikking = session.get(Beschikking, beschikking_id)
        if beschikking is None:
            detail = f"beschikking {beschikking_id} does not exist"
            raise Problem(404, "not-found", "No such beschikking", detail)
        require_law(client, beschikking.law, "read")
        rows = session.scalars(
            select(Toewijzing).where(Toewijzing.beschikking_id == beschikking_id).order_by(Toewijzing.id)
        ).all()
        messages = session.scalars(
            select(Message).where(Message.beschikking_id == beschikking_id).order_by(Message.id)
        ).all()
        return BeschikkingOut(
            id=beschikking.id,
            beschikkingnummer=beschikking.beschikkingnummer,
            wet=Law(beschikking.law),
            toewijzingen=[toewijzing_out(r) for r in rows],
            berichten=[bericht_ref(m) for m in messages],
        )
