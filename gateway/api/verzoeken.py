"""``/api/v1/verzoeken``: an aanbieder's requests (VOT/VOW) as tasks for the back-office.

Answer within 5 werkdagen: ``toekennen`` (a 301 with the ReferentieAanbieder),
``afwijzen`` (a 319 with a reden) or ``in-onderzoek`` (a 319 now, the final answer later).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from gateway.api.auth import require_law, require_scope
from gateway.api.beschikking_models import BerichtRef, BeschikkingIn, BeschikkingOut
from gateway.api.problems import PROBLEM_JSON, FieldError, Problem, validation_problem
from gateway.api.xml_safe import XmlSafeModel
from gateway.api_keys import SCOPE_BERICHTEN_READ, SCOPE_BESCHIKKINGEN_WRITE, readable_laws
from gateway.bsn import keyed_hash
from gateway.deadlines import DeadlineKind, meet_deadline
from gateway.intake import accept_beschikking, bericht_ref
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.tables import ApiClient, Message, Verzoek
from gateway.verzoeken import AFGEWEZEN, IN_ONDERZOEK, answer_319, honour_vow

router = APIRouter(prefix="/api/v1", tags=["verzoeken"])
_PROBLEM = {"content": {PROBLEM_JSON: {}}, "description": "problem+json"}
Reader = Annotated[ApiClient, Depends(require_scope(SCOPE_BERICHTEN_READ))]
Writer = Annotated[ApiClient, Depends(require_scope(SCOPE_BESCHIKKINGEN_WRITE))]


class VerzoekOut(BaseModel):
    id: int
    soort: str
    wet: str
    status: str
    aanbieder_agb: str
    referentie_aanbieder: str
    received_at: datetime
    answered_at: datetime | None
    inhoud: dict[str, Any]
    antwoord: BerichtRef | None


class VerzoekList(BaseModel):
    items: list[VerzoekOut]


class AfwijzingIn(XmlSafeModel):
    model_config = ConfigDict(extra="forbid")
    reden_afwijzing: str = Field(
        description="RedenAfwijzingVerzoek 1-9, e.g. 3 geen contract, 7 zorginhoudelijk."
    )


class ToekenningIn(XmlSafeModel):
    """For a VOT: the beschikking that grants it. For a VOW: nothing (what it asks is applied)."""

    model_config = ConfigDict(extra="forbid")
    beschikking: BeschikkingIn | None = None


class ToekenningOut(BaseModel):
    verzoek: VerzoekOut
    beschikking: BeschikkingOut | None
    berichten: list[BerichtRef]


def _out(verzoek: Verzoek, answer: Message | None) -> VerzoekOut:
    return VerzoekOut(
        id=verzoek.id,
        soort=verzoek.soort,
        wet=verzoek.law,
        status=verzoek.status,
        aanbieder_agb=verzoek.aanbieder_agb,
        referentie_aanbieder=verzoek.referentie_aanbieder,
        received_at=verzoek.received_at,
        answered_at=verzoek.answered_at,
        inhoud=verzoek.inhoud,
        antwoord=bericht_ref(answer) if answer is not None else None,
    )


def _answer(session: Any, verzoek: Verzoek) -> Message | None:
    return session.get(Message, verzoek.answer_message_id) if verzoek.answer_message_id else None


@router.get("/verzoeken", response_model=VerzoekList)
def list_verzoeken(
    request: Request,
    client: Reader,
    status: Annotated[str | None, Query(description="open, in_onderzoek, toegekend, afgewezen")] = None,
    soort: Annotated[str | None, Query(pattern="^(vot|vow)$")] = None,
    aanbieder: Annotated[str | None, Query(pattern=r"^[0-9]{8}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> VerzoekList:
    runtime: Runtime = request.app.state.runtime
    query = select(Verzoek).order_by(Verzoek.id).limit(limit)
    if status:
        query = query.where(Verzoek.status == status)
    if soort:
        query = query.where(Verzoek.soort == soort)
    if aanbieder:
        query = query.where(Verzoek.aanbieder_agb == aanbieder)
    query = query.where(Verzoek.law.in_(readable_laws(client)))  # only the laws this client may read
    with runtime.sessions() as session:
        return VerzoekList(items=[_out(v, _answer(session, v)) for v in session.scalars(query)])


def _load(
    session: Any, verzoek_id: int, client: ApiClient, capability: str, *, lock: bool = False
) -> Verzoek:
    """The verzoek, if ``client`` may ``capability`` (read/write) its law (else 403)."""
    verzoek = session.get(Verzoek, verzoek_id, with_for_update=lock)
    if verzoek is None:
        raise Problem(404, "not-found", "No such verzoek", f"verzoek {verzoek_id} does not exist")
    require_law(client, verzoek.law, capability)  # scopes per law: jeugdwet:write / wmo:write
    return verzoek  # type: ignore[no-any-return]


@router.get("/verzoeken/{verzoek_id}", response_model=VerzoekOut, responses={404: _PROBLEM})
def get_verzoek(verzoek_id: int, request: Request, client: Reader) -> VerzoekOut:
    runtime: Runtime = request.app.state.runtime
    with runtime.sessions() as session:
        verzoek = _load(session, verzoek_id, client, "read")
        return _out(verzoek, _answer(session, verzoek))


@router.post(
    "/verzoeken/{verzoek_id}/afwijzen",
    response_model=VerzoekOut,
    responses={404: _PROBLEM, 409: _PROBLEM, 422: _PROBLEM},
)
def reject(verzoek_id: int, body: AfwijzingIn, request: Request, client: Writer) -> VerzoekOut:
    """Send a 319 with VerzoekAntwoord 1 (afgewezen) and the reden."""
    runtime: Runtime = request.app.state.runtime
    with transaction(runtime.sessions) as session:
        verzoek = _load(session, verzoek_id, client, "write", lock=True)
        message = answer_319(session, runtime, verzoek, AFGEWEZEN, body.reden_afwijzing)
        return _out(verzoek, message)


@router.post(
    "/verzoeken/{verzoek_id}/in-onderzoek",
    response_model=VerzoekOut,
    responses={404: _PROBLEM, 409: _PROBLEM},
)
def investigate(verzoek_id: int, request: Request, client: Writer) -> VerzoekOut:
    """Send a 319 with VerzoekAntwoord 2 (in onderzoek); the final answer follows later."""
    runtime: Runtime = request.app.state.runtime
    with transaction(runtime.sessions) as session:
        verzoek = _load(session, verzoek_id, client, "write", lock=True)
        message = answer_319(session, runtime, verzoek, IN_ONDERZOEK, None)
        return _out(verzoek, message)


@router.post(
    "/verzoeken/{verzoek_id}/toekennen",
    response_model=ToekenningOut,
    responses={404: _PROBLEM, 409: _PROBLEM, 422: _PROBLEM},
)
def honour(verzoek_id: int, body: ToekenningIn, request: Request, client: Writer) -> ToekenningOut:
    """Honour the request: a VOT with the beschikking that grants it, a VOW as asked."""
    runtime: Runtime = request.app.state.runtime
    with transaction(runtime.sessions) as session:
        verzoek = _load(session, verzoek_id, client, "write", lock=True)
        if verzoek.soort == "vow":
            if body.beschikking is not None:
                raise validation_problem(
                    [
                        FieldError(
                            "beschikking", "not-for-vow", "a VOW is honoured as asked; send no beschikking"
                        )
                    ]
                )
            message = honour_vow(session, runtime, verzoek, client.id)
            return ToekenningOut(
                verzoek=_out(verzoek, message), beschikking=None, berichten=[bericht_ref(message)]
            )
        if verzoek.status not in ("open", "in_onderzoek"):
            raise Problem(
                409,
                "verzoek-closed",
                "This verzoek was already answered",
                f"verzoek {verzoek.id} is {verzoek.status}",
            )
        if body.beschikking is None:
            raise validation_problem(
                [
                    FieldError(
                        "beschikking", "required", "a VOT is honoured with the beschikking that grants it"
                    )
                ]
            )
        granted = body.beschikking
        if keyed_hash(granted.client.bsn, runtime.settings.hash_key) != verzoek.bsn_hash:
            raise validation_problem(
                [
                    FieldError(
                        "beschikking.client.bsn",
                        "other-client",
                        "the beschikking is for another client than the verzoek",
                    )
                ]
            )
        if granted.wet.value != verzoek.law:
            raise validation_problem(
                [FieldError("beschikking.wet", "other-law", "the verzoek is under another law")]
            )
        if not any(p.aanbieder_agb == verzoek.aanbieder_agb for p in granted.producten):
            raise validation_problem(
                [
                    FieldError(
                        "beschikking.producten",
                        "aanbieder-missing",
                        "no product is assigned to the requesting aanbieder",
                    )
                ]
            )
        result = accept_beschikking(
            session,
            runtime,
            granted,
            client.id,
            referentie=(verzoek.aanbieder_agb, verzoek.referentie_aanbieder),
        )
        message = next(
            m
            for m in session.scalars(
                select(Message).where(
                    Message.beschikking_id == result.id, Message.receiver == verzoek.aanbieder_agb
                )
            )
        )
        meet_deadline(session, runtime, DeadlineKind.ANTWOORD_VERZOEK, inbound_id=verzoek.inbound_id)
        verzoek.status = "toegekend"
        verzoek.answered_at = runtime.clock.now()
        verzoek.answer_message_id = message.id
        verzoek.beschikking_id = result.id
        return ToekenningOut(verzoek=_out(verzoek, message), beschikking=result, berichten=result.berichten)
