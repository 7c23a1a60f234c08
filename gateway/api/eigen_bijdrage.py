"""``/api/v1/eigen-bijdrage``: what the CAK was told per client, and its correction tasks.

- ``GET  /eigen-bijdrage/herstel?status=open``: uitnodigingen tot herstel as tasks;
- ``POST /eigen-bijdrage/herstel/{id}/corrigeren``: resubmit with corrected dates,
  provisions or kostprijs; the new message links to the old one;
- ``POST /eigen-bijdrage/zoeken`` (the BSN in the body, never in a URL) and
  ``GET /eigen-bijdrage/toewijzingen/{nummer}``: the client's picture at the CAK and
  every WMO405/407 sent, with the correction links both ways.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.api.auth import require_scope
from gateway.api.beschikking_models import BerichtRef
from gateway.api.problems import PROBLEM_JSON, Problem
from gateway.api.xml_safe import XmlSafeModel
from gateway.api_keys import SCOPE_WMO_READ, SCOPE_WMO_WRITE
from gateway.bsn import keyed_hash
from gateway.eigen_bijdrage_herstel import Correctie, VoorzieningCorrectie, corrigeer
from gateway.intake import bericht_ref
from gateway.runtime import Runtime
from gateway.store.cak_tables import CakHerstelTaak, CakMelding, CakPersoon
from gateway.store.database import transaction
from gateway.store.tables import ApiClient, Message, Toewijzing

router = APIRouter(prefix="/api/v1/eigen-bijdrage", tags=["eigen bijdrage (CAK)"])
_PROBLEM = {"content": {PROBLEM_JSON: {}}, "description": "problem+json"}
# The CAK's eigen bijdrage is Wmo only: the Wmo scopes (the legacy scopes include them).
Reader = Annotated[ApiClient, Depends(require_scope(SCOPE_WMO_READ))]
Writer = Annotated[ApiClient, Depends(require_scope(SCOPE_WMO_WRITE))]


class HerstelOut(BaseModel):
    id: int
    status: str
    codes: list[str]
    #: The message the CAK asked to correct, and the correction once sent.
    bericht: BerichtRef
    correctie: BerichtRef | None
    regeling: str
    soort: str
    datum: date
    voorzieningen: list[dict[str, Any]]
    toelichting: str | None
    created_at: datetime
    closed_at: datetime | None


class HerstelList(BaseModel):
    items: list[HerstelOut]


class VoorzieningCorrectieIn(XmlSafeModel):
    model_config = ConfigDict(extra="forbid")
    toewijzingnummer: int = Field(ge=1)
    ingangsdatum: date | None = None
    einddatum: date | None = None
    kostprijs: int | None = Field(None, ge=0, le=99999999, description="Eurocent.")


class CorrectieIn(XmlSafeModel):
    """What to correct; absent fields keep the original message's values."""

    model_config = ConfigDict(extra="forbid")
    datum: date | None = Field(None, description="The start or stop date the message reports.")
    voorzieningen: list[VoorzieningCorrectieIn] | None = Field(
        None, min_length=1, max_length=50, description="The full list of provisions the message carries."
    )
    toelichting: Annotated[str, StringConstraints(max_length=1000)] | None = None


class CorrectieOut(BaseModel):
    taak: HerstelOut
    bericht: BerichtRef
    corrigeert: int


class ZoekIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bsn: Annotated[str, StringConstraints(pattern=r"^[0-9]{9}$")]


class RegelingOut(BaseModel):
    regeling: str
    #: lopend | gestopt
    status: str
    begindatum: date
    einddatum: date | None
    geplande_einddatum: date | None
    toewijzingnummers: list[int]


class MeldingOut(BaseModel):
    bericht: BerichtRef
    regeling: str
    soort: str
    datum: date
    oorzaak: str
    status: str
    retour_codes: list[str] | None
    voorzieningen: list[dict[str, Any]]
    corrigeert: int | None
    gecorrigeerd_door: int | None
    created_at: datetime


class StandOut(BaseModel):
    regelingen: list[RegelingOut]
    meldingen: list[MeldingOut]
    herstel: list[HerstelOut]


def _message(session: Session, message_id: int | None) -> Message | None:
    return None if message_id is None else session.get(Message, message_id)


def _ref(session: Session, message_id: int) -> BerichtRef:
    message = session.get(Message, message_id)
    assert message is not None  # a foreign key / stored link
    return bericht_ref(message)


def _herstel_out(session: Session, taak: CakHerstelTaak) -> HerstelOut:
    melding = session.scalars(select(CakMelding).where(CakMelding.message_id == taak.message_id)).one()
    correctie = _message(session, taak.correctie_message_id)
    return HerstelOut(
        id=taak.id,
        status=taak.status,
        codes=list(taak.codes),
        bericht=_ref(session, taak.message_id),
        correctie=None if correctie is None else bericht_ref(correctie),
        regeling=melding.regeling,
        soort=melding.soort,
        datum=melding.datum,
        voorzieningen=list(melding.voorzieningen),
        toelichting=taak.toelichting,
        created_at=taak.created_at,
        closed_at=taak.closed_at,
    )


def _stand(session: Session, bsn_hash: str) -> StandOut:
    personen = session.scalars(
        select(CakPersoon).where(CakPersoon.bsn_hash == bsn_hash).order_by(CakPersoon.regeling)
    ).all()
    meldingen = session.scalars(
        select(CakMelding).where(CakMelding.bsn_hash == bsn_hash).order_by(CakMelding.id)
    ).all()
    taken = session.scalars(
        select(CakHerstelTaak).where(CakHerstelTaak.bsn_hash == bsn_hash).order_by(CakHerstelTaak.id)
    ).all()
    out: list[MeldingOut] = []
    for m in meldingen:
        message = session.get(Message, m.message_id)
        assert message is not None
        out.append(
            MeldingOut(
                bericht=bericht_ref(message),
                regeling=m.regeling,
                soort=m.soort,
                datum=m.datum,
                oorzaak=m.oorzaak,
                status=m.status,
                retour_codes=message.retour_codes,
                voorzieningen=list(m.voorzieningen),
                corrigeert=m.corrects_message_id,
                gecorrigeerd_door=m.corrected_by_message_id,
                created_at=m.created_at,
            )
        )
    return StandOut(
        regelingen=[
            RegelingOut(
                regeling=p.regeling,
                status=p.status,
                begindatum=p.begindatum,
                einddatum=p.einddatum,
                geplande_einddatum=p.geplande_einddatum,
                toewijzingnummers=[int(n) for n in p.voorzieningen],
            )
            for p in personen
        ],
        meldingen=out,
        herstel=[_herstel_out(session, t) for t in taken],
    )


@router.get("/herstel", response_model=HerstelList, summary="Uitnodigingen tot herstel from the CAK")
def list_herstel(
    request: Request,
    _client: Reader,
    status: Annotated[Literal["open", "gecorrigeerd"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> HerstelList:
    runtime: Runtime = request.app.state.runtime
    with runtime.sessions() as session:
        query = select(CakHerstelTaak).order_by(CakHerstelTaak.id).limit(limit)
        if status is not None:
            query = query.where(CakHerstelTaak.status == status)
        return HerstelList(items=[_herstel_out(session, t) for t in session.scalars(query)])


@router.get("/herstel/{taak_id}", response_model=HerstelOut, responses={404: _PROBLEM})
def get_herstel(taak_id: int, request: Request, _client: Reader) -> HerstelOut:
    runtime: Runtime = request.app.state.runtime
    with runtime.sessions() as session:
        taak = session.get(CakHerstelTaak, taak_id)
        if taak is None:
            raise Problem(404, "not-found", "No such herstel task", f"herstel task {taak_id} does not exist")
        return _herstel_out(session, taak)


@router.post(
    "/herstel/{taak_id}/corrigeren",
    response_model=CorrectieOut,
    responses={404: _PROBLEM, 409: _PROBLEM, 422: _PROBLEM},
    summary="Correct and resubmit; the new WMO405/407 links to the old one",
)
def post_corrigeren(taak_id: int, body: CorrectieIn, request: Request, client: Writer) -> CorrectieOut:
    runtime: Runtime = request.app.state.runtime
    correctie = Correctie(
        datum=body.datum,
        voorzieningen=None
        if body.voorzieningen is None
        else tuple(
            VoorzieningCorrectie(v.toewijzingnummer, v.ingangsdatum, v.einddatum, v.kostprijs)
            for v in body.voorzieningen
        ),
        toelichting=body.toelichting,
    )
    with transaction(runtime.sessions) as session:
        taak, message = corrigeer(session, runtime, taak_id, correctie, client.id)
        session.flush()
        return CorrectieOut(
            taak=_herstel_out(session, taak), bericht=bericht_ref(message), corrigeert=taak.message_id
        )


@router.post("/zoeken", response_model=StandOut, responses={422: _PROBLEM}, summary="A client's CAK picture")
def post_zoeken(body: ZoekIn, request: Request, _client: Reader) -> StandOut:
    """By BSN, sent in the body so that it never lands in a URL or an access log."""
    runtime: Runtime = request.app.state.runtime
    with runtime.sessions() as session:
        return _stand(session, keyed_hash(body.bsn, runtime.settings.hash_key))


@router.get("/toewijzingen/{nummer}", response_model=StandOut, responses={404: _PROBLEM})
def get_by_toewijzing(nummer: int, request: Request, _client: Reader) -> StandOut:
    """The CAK picture of the client of toewijzing ``nummer``."""
    runtime: Runtime = request.app.state.runtime
    with runtime.sessions() as session:
        row = session.get(Toewijzing, nummer)
        if row is None:
            raise Problem(404, "not-found", "No such toewijzing", f"toewijzing {nummer} does not exist")
        return _stand(session, row.bsn_hash)
