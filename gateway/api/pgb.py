"""``/api/v1/pgb``: a client's PGB budgets, what the SVB was told, and how each period closed.

BSNs never go in a URL (they would end up in access logs and browser histories): a
client's budgets are looked up with ``POST /api/v1/pgb/zoeken`` and the BSN in the
body; one budget by its ToewijzingNummer with ``GET /api/v1/toewijzingen/{nr}/pgb``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.istandaard import Law
from gateway.api.auth import require_law, require_scope
from gateway.api.beschikking_models import BerichtRef
from gateway.api.problems import PROBLEM_JSON, FieldError, Problem, validation_problem
from gateway.api_keys import SCOPE_BERICHTEN_READ, readable_laws
from gateway.bsn import keyed_hash, passes_elfproef
from gateway.runtime import Runtime
from gateway.store.svb_tables import PgbBudget, PgbBudgetafsluiting
from gateway.store.tables import ApiClient, Message, MessageToewijzing, Toewijzing

router = APIRouter(prefix="/api/v1", tags=["pgb"])
_PROBLEM = {"content": {PROBLEM_JSON: {}}, "description": "problem+json"}
Reader = Annotated[ApiClient, Depends(require_scope(SCOPE_BERICHTEN_READ))]


class PgbZoeken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bsn: str = Field(pattern=r"^[0-9]{9}$", description="The client's BSN (body only, never in a URL).")
    wet: Law | None = None


class BudgetafsluitingOut(BaseModel):
    toewijzingnummer: int
    begindatum: date
    einddatum: date
    toegekend: int = Field(description="Eurocent.")
    besteed: int = Field(description="Eurocent.")
    resterend: int = Field(description="Eurocent.")
    afsluitdatum: date
    ontvangen_op: datetime


class TkbRef(BerichtRef):
    retour_codes: list[str]


class PgbBudgetOut(BaseModel):
    toewijzingnummer: int
    beschikking_id: int
    wet: str
    categorie: str | None
    productcode: str | None
    ingangsdatum: date
    einddatum: date | None
    hulpverlener: str | None
    eenmalig: bool
    #: False for a one-off PGB: the gemeente pays it, the SVB is not involved.
    via_svb: bool
    percentage: int | None
    maximum: int | None = Field(description="Eurocent: the cost of the cheapest adequate ZIN.")
    budget: int = Field(description="Eurocent: the budget the SVB was told.")
    ingetrokken: bool
    #: The TKBs to the SVB, oldest first, with their state and the SVB's RetourCodes.
    berichten: list[TkbRef]
    budgetafsluitingen: list[BudgetafsluitingOut]


class PgbOverzicht(BaseModel):
    budgetten: list[PgbBudgetOut]


@router.post(
    "/pgb/zoeken",
    response_model=PgbOverzicht,
    responses={422: _PROBLEM},
    summary="A client's PGB budgets and budgetafsluitingen (BSN in the body)",
)
def zoeken(body: PgbZoeken, request: Request, client: Reader) -> PgbOverzicht:
    if not passes_elfproef(body.bsn):
        raise validation_problem([FieldError("bsn", "bsn-elfproef", "the BSN does not pass the 11-proef")])
    runtime: Runtime = request.app.state.runtime
    bsn_hash = keyed_hash(body.bsn, runtime.settings.hash_key)
    with runtime.sessions() as session:
        query = select(PgbBudget).where(PgbBudget.bsn_hash == bsn_hash).order_by(PgbBudget.toewijzing_id)
        if body.wet is not None:
            require_law(client, body.wet.value, "read")
            query = query.where(PgbBudget.law == body.wet.value)
        query = query.where(PgbBudget.law.in_(readable_laws(client)))  # only the laws it may read
        return PgbOverzicht(budgetten=[_budget_out(session, b) for b in session.scalars(query)])


@router.get(
    "/toewijzingen/{nummer}/pgb",
    response_model=PgbBudgetOut,
    responses={404: _PROBLEM},
    summary="One PGB budget by its ToewijzingNummer",
)
def per_toewijzing(nummer: int, request: Request, client: Reader) -> PgbBudgetOut:
    runtime: Runtime = request.app.state.runtime
    with runtime.sessions() as session:
        budget = session.scalar(select(PgbBudget).where(PgbBudget.toewijzing_id == nummer))
        if budget is None:
            raise Problem(404, "not-found", "No such PGB", f"toewijzing {nummer} is not a PGB")
        require_law(client, budget.law, "read")  # scopes per law: jeugdwet:read / wmo:read
        return _budget_out(session, budget)


def _budget_out(session: Session, budget: PgbBudget) -> PgbBudgetOut:
    row = session.get(Toewijzing, budget.toewijzing_id)
    assert row is not None  # foreign key
    messages = session.scalars(
        select(Message)
        .join(MessageToewijzing)
        .where(MessageToewijzing.toewijzing_id == row.id, Message.receiver == "SVB")
        .order_by(Message.id)
    ).all()
    afsluitingen = session.scalars(
        select(PgbBudgetafsluiting)
        .where(PgbBudgetafsluiting.toewijzing_id == row.id)
        .order_by(PgbBudgetafsluiting.begindatum, PgbBudgetafsluiting.id)
    ).all()
    return PgbBudgetOut(
        toewijzingnummer=row.id,
        beschikking_id=row.beschikking_id,
        wet=row.law,
        categorie=row.categorie,
        productcode=row.productcode,
        ingangsdatum=row.ingangsdatum,
        einddatum=row.einddatum,
        hulpverlener=budget.hulpverlener,
        eenmalig=budget.eenmalig,
        via_svb=not budget.eenmalig,
        percentage=budget.percentage,
        maximum=budget.maximum,
        budget=budget.budget,
        ingetrokken=row.reden_wijziging == "13",
        berichten=[
            TkbRef(
                id=m.id,
                type=m.message_type,
                state=m.state,
                aanbieder_agb=m.receiver,
                href=f"/api/v1/berichten/{m.id}",
                retour_codes=list(m.retour_codes or []),
            )
            for m in messages
        ],
        budgetafsluitingen=[
            BudgetafsluitingOut(
                toewijzingnummer=a.toewijzing_id,
                begindatum=a.begindatum,
                einddatum=a.einddatum,
                toegekend=a.toegekend,
                besteed=a.besteed,
                resterend=a.resterend,
                afsluitdatum=a.afsluitdatum,
                ontvangen_op=a.received_at,
            )
            for a in afsluitingen
        ],
    )
