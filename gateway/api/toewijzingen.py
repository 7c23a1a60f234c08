"""``/api/v1/toewijzingen``: a toewijzing's current state, its history, and changes to it."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from connectors.istandaard import Law
from gateway import eigen_bijdrage, pgb
from gateway.api.auth import require_law, require_scope
from gateway.api.beschikking_models import BerichtRef, Omvang
from gateway.api.problems import PROBLEM_JSON, Problem
from gateway.api.xml_safe import XmlSafeModel
from gateway.api_keys import SCOPE_BERICHTEN_READ, SCOPE_BESCHIKKINGEN_WRITE
from gateway.intake import bericht_ref
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.tables import ApiClient, Message, MessageToewijzing, Toewijzing, ToewijzingVersie
from gateway.toewijzing_changes import OmvangWens, Wijziging, apply_wijziging, send_301

router = APIRouter(prefix="/api/v1", tags=["toewijzingen"])
_PROBLEM = {"content": {PROBLEM_JSON: {}}, "description": "problem+json"}


class WijzigingIn(XmlSafeModel):
    """A change to one toewijzing; the gateway decides how the standard expresses it."""

    model_config = ConfigDict(extra="forbid")

    einddatum: date | None = Field(
        None, description="New einddatum: shorten (reden 05) or extend (04, oprekken)."
    )
    omvang: Omvang | None = Field(
        None,
        description="New omvang. Volume only with frequentie 6 keeps the number; otherwise a new toewijzing.",
    )
    budget: int | None = Field(None, ge=0, description="New budget in eurocent (needs reden_wijziging).")
    ingangsdatum: date | None = Field(
        None, description="When an omvang change that needs a new number starts."
    )
    reden_wijziging: str | None = Field(
        None, description="RedenWijziging 01-14; defaults 04/05 for einddatum."
    )
    verwijderen: bool = Field(False, description="Delete: RedenWijziging 13, Einddatum = Ingangsdatum.")


class ToewijzingState(BaseModel):
    toewijzingnummer: int
    wet: str
    beschikking_id: int
    aanbieder_agb: str
    leveringsvorm: str
    categorie: str | None
    productcode: str | None
    ingangsdatum: date
    einddatum: date | None
    volume: int | None
    eenheid: str | None
    frequentie: str | None
    budget: int | None
    reden_wijziging: str | None
    referentie_aanbieder: str | None
    vervangt: int | None
    toewijzingsdatum: date
    toewijzingstijd: time


class Versie(BaseModel):
    versie: int
    oorzaak: str
    reden_wijziging: str | None
    changed_at: datetime
    staat: dict[str, Any]


class ToewijzingDetail(ToewijzingState):
    geschiedenis: list[Versie]
    berichten: list[BerichtRef]


class WijzigingOut(BaseModel):
    gewijzigd: list[ToewijzingState]
    nieuw: list[ToewijzingState]
    berichten: list[BerichtRef]


def state(row: Toewijzing) -> ToewijzingState:
    return ToewijzingState(
        toewijzingnummer=row.id,
        wet=row.law,
        beschikking_id=row.beschikking_id,
        aanbieder_agb=row.aanbieder_agb,
        leveringsvorm=row.leveringsvorm,
        categorie=row.categorie,
        productcode=row.productcode,
        ingangsdatum=row.ingangsdatum,
        einddatum=row.einddatum,
        volume=row.volume,
        eenheid=row.eenheid,
        frequentie=row.frequentie,
        budget=row.budget,
        reden_wijziging=row.reden_wijziging,
        referentie_aanbieder=row.referentie_aanbieder,
        vervangt=row.vervangt_id,
        toewijzingsdatum=row.toewijzingsdatum,
        toewijzingstijd=row.toewijzingstijd,
    )


@router.get("/toewijzingen/{nummer}", response_model=ToewijzingDetail, responses={404: _PROBLEM})
def get_toewijzing(
    nummer: int, request: Request, _client: Annotated[ApiClient, Depends(require_scope(SCOPE_BERICHTEN_READ))]
) -> ToewijzingDetail:
    """The toewijzing as it stands, every version it had, and the messages that carried it."""
    runtime: Runtime = request.app.state.runtime
    with runtime.sessions() as session:
        row = session.get(Toewijzing, nummer)
        if row is None:
            raise Problem(404, "not-found", "No such toewijzing", f"toewijzing {nummer} does not exist")
        versies = session.scalars(
            select(ToewijzingVersie)
            .where(ToewijzingVersie.toewijzing_id == nummer)
            .order_by(ToewijzingVersie.versie)
        ).all()
        messages = session.scalars(
            select(Message)
            .join(MessageToewijzing)
            .where(MessageToewijzing.toewijzing_id == nummer)
            .order_by(Message.id)
        ).all()
        return ToewijzingDetail(
            **state(row).model_dump(),
            geschiedenis=[
                Versie(
                    versie=v.versie,
                    oorzaak=v.oorzaak,
                    reden_wijziging=v.reden_wijziging,
                    changed_at=v.changed_at,
                    staat=v.staat,
                )
                for v in versies
            ],
            berichten=[bericht_ref(m) for m in messages],
        )


@router.post(
    "/toewijzingen/{nummer}/wijzigingen",
    response_model=WijzigingOut,
    responses={404: _PROBLEM, 409: _PROBLEM, 422: _PROBLEM},
    summary="Change or end a toewijzing; a new 301 goes to the aanbieder (ZIN) or a TKB to the SVB (PGB)",
)
def post_wijziging(
    nummer: int,
    body: WijzigingIn,
    request: Request,
    client: Annotated[ApiClient, Depends(require_scope(SCOPE_BESCHIKKINGEN_WRITE))],
) -> WijzigingOut:
    runtime: Runtime = request.app.state.runtime
    with transaction(runtime.sessions) as session:
        row = session.get(Toewijzing, nummer, with_for_update=True)
        if row is None:
            raise Problem(404, "not-found", "No such toewijzing", f"toewijzing {nummer} does not exist")
        require_law(client, row.law, "write")  # scopes per law: jeugdwet:write / wmo:write
        if row.leveringsvorm not in ("ZIN", "PGB"):
            raise Problem(409, "unknown-leveringsvorm", "Only ZIN and PGB toewijzingen are changed here")
        wens = Wijziging(
            einddatum=body.einddatum,
            omvang=OmvangWens(body.omvang.volume, body.omvang.eenheid, body.omvang.frequentie)
            if body.omvang
            else None,
            budget=body.budget,
            ingangsdatum=body.ingangsdatum,
            reden_wijziging=body.reden_wijziging,
            verwijderen=body.verwijderen,
        )
        result = apply_wijziging(session, runtime, row, wens, api_client_id=client.id)
        session.flush()
        # ZIN: a new 301 to the aanbieder; PGB: the SVB follow-up (a TKB) comes from pgb.after_change.
        messages = [send_301(session, runtime, Law(row.law), row)] if row.leveringsvorm == "ZIN" else []
        messages += pgb.after_change(session, runtime, result.gewijzigd, result.nieuw)
        messages += eigen_bijdrage.after_provisions_changed(
            session, runtime, bsn_hash=row.bsn_hash, law=row.law, trigger="wijziging"
        )
        return WijzigingOut(
            gewijzigd=[state(r) for r in result.gewijzigd],
            nieuw=[state(r) for r in result.nieuw],
            berichten=[bericht_ref(m) for m in messages],
        )
