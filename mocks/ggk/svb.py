"""The mock SVB behind the mock GGk: takes TKBs, keeps the budgets, closes budget periods (BAB).

- ``answer``: a gemeente's TKB (``WMO458``/``JW460``) is validated with the project's own
  iPgb connector (a payload failing the XSD earns a Fo01 StUF055, as at an aanbieder)
  and answered with a TKB retour (``WMO459``/``JW461``): header only when accepted;
  behaviour ``reject`` puts its ``retourcodes`` on the header (level ``header``) or on
  the Toekenning (level ``product``). A change or withdrawal of a budget the SVB does
  not know gets P012. Accepted TKBs update the budgets, per gemeente, law and
  ToewijzingNummer.
- ``POST /_mock/svb/afsluiten`` ``{"tot": "YYYY-MM-DD", "besteed_percentage": 80}``: every
  running budget whose period ended on or before ``tot`` is closed with that share
  spent; one BAB per client (``WMO464``/``JW466``) goes as a Di01 from ``SVB`` to the
  gemeente, synchronously, and the gateway's Bv03/Fo03 is reported. The gateway's BAB
  retour arrives later as a Du01 and is recorded at ``GET /_mock/svb/bab``.
- ``GET /_mock/svb/budgetten``: the budgets as the SVB holds them (no BSNs).

State lives with the most recently created mock app (``make_router`` is called once per
app); the mock GGk calls ``answer`` without the app, so one mock SVB per process.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from math import floor
from typing import TYPE_CHECKING, Any

import httpx
import structlog
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from connectors.ggk import (
    Heenbericht,
    Retourbericht,
    Systeem,
    new_referentienummer,
    parse_soap_response,
    render_di01,
    soap_request,
)
from connectors.istandaard import Law, PayloadRejected
from connectors.svb import (
    SVB,
    Budgetafsluitbericht,
    Budgetafsluiting,
    Kind,
    Mutatie,
    PgbHeader,
    Toekenningsbericht,
    functies,
    parse_bab_retour,
    parse_tkb,
    render_bab,
    render_tkb_retour,
)
from mocks.ggk.aanbieder import Answer, du01_answer, fo01_answer
from mocks.ggk.behaviour import Behaviour
from mocks.ggk.retouren import AanbiederLog

if TYPE_CHECKING:
    from mocks.ggk.app import MockGgk

log = structlog.get_logger("mocks.svb")

SVB_APPLICATIE = "MockSVB"
TKB_FUNCTIES = functies(Kind.TKB)
BAB_RETOUR_FUNCTIES = functies(Kind.BAB_RETOUR)
UNKNOWN_BUDGET = "P012"


@dataclass(slots=True)
class Budget:
    gemeentecode: str
    law: str
    toewijzingnummer: int
    bsn: str
    beschikkingnummer: str
    categorie: str
    code: str | None
    begindatum: date
    einddatum: date
    budget: int
    status: str = "lopend"
    mutaties: int = 1
    afgesloten: bool = False

    def listing(self) -> dict[str, Any]:
        data = asdict(self)
        del data["bsn"]
        data["begindatum"], data["einddatum"] = self.begindatum.isoformat(), self.einddatum.isoformat()
        return data


@dataclass(slots=True)
class SentBab:
    referentienummer: str
    functie: str
    gemeentecode: str
    toewijzingnummers: list[int]
    status_code: int | None = None
    answer: str | None = None
    code: str | None = None
    retour: dict[str, Any] | None = field(default=None)


class SvbState:
    """Thread-safe budgets and BAB log of the mock SVB."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.budgets: dict[tuple[str, str, int], Budget] = {}
        self.babs: dict[str, SentBab] = {}

    def reset(self) -> None:
        with self._lock:
            self.budgets.clear()
            self.babs.clear()

    def knows(self, gemeente: str, law: Law, nummer: int) -> bool:
        with self._lock:
            return (gemeente, law.value, nummer) in self.budgets

    def apply(self, gemeente: str, tkb: Toekenningsbericht) -> None:
        t = tkb.toekenning
        key = (gemeente, tkb.header.law.value, t.toewijzingnummer)
        with self._lock:
            budget = self.budgets.get(key)
            if budget is None or t.mutatie is Mutatie.TOEKENNING:
                self.budgets[key] = Budget(
                    gemeente,
                    tkb.header.law.value,
                    t.toewijzingnummer,
                    tkb.client.bsn,
                    t.beschikkingnummer,
                    t.categorie,
                    t.code,
                    t.begindatum,
                    t.einddatum,
                    t.budget,
                )
                return
            budget.mutaties += 1
            budget.begindatum, budget.einddatum, budget.budget = t.begindatum, t.einddatum, t.budget
            if t.mutatie is Mutatie.INTREKKING:
                budget.status = "ingetrokken"

    def to_close(self, tot: date) -> list[Budget]:
        """Running budgets whose period ended on or before ``tot``, marked closed."""
        with self._lock:
            due = [
                b
                for b in self.budgets.values()
                if b.status == "lopend" and not b.afgesloten and b.einddatum <= tot
            ]
            for b in due:
                b.afgesloten = True
            return due

    def sent(self, record: SentBab) -> None:
        with self._lock:
            self.babs[record.referentienummer] = record

    def record_retour(self, du01: Retourbericht, now: datetime) -> None:
        try:
            retour = parse_bab_retour(du01.payload)
            content: dict[str, Any] = {
                "functie": du01.functie,
                "referentienummer": du01.referentienummer,
                "received_at": now.isoformat(timespec="seconds"),
                "header_codes": list(retour.header_codes),
                "afsluiting_codes": {str(k): list(v) for k, v in retour.afsluiting_codes.items()},
                "codes": retour.all_codes(),
            }
        except PayloadRejected as exc:
            content = {"functie": du01.functie, "error": exc.reason[:300]}
        with self._lock:
            record = self.babs.get(du01.cross_refnummer)
            if record is not None and record.retour is None:
                record.retour = content

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [b.listing() for b in self.budgets.values()]

    def bab_listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(b) for b in self.babs.values()]


_state = SvbState()


class _SvbAwareLog(AanbiederLog):
    """The mock's answer log, also handing the gateway's BAB retours to the mock SVB."""

    def __init__(self, state: SvbState) -> None:
        super().__init__()
        self._svb = state

    def record_du01(self, du01: Retourbericht, *, now: datetime) -> None:
        if du01.functie.upper() in BAB_RETOUR_FUNCTIES:
            self._svb.record_retour(du01, now)
        super().record_du01(du01, now=now)

    def reset(self) -> None:
        super().reset()
        self._svb.reset()


# --- the TKB retour -----------------------------------------------------------------------------


def answer(h: Heenbericht, behaviour: Behaviour, *, now: datetime) -> Answer | None:
    """The SVB's answer to ``h`` under ``behaviour``; ``None`` for what it does not answer."""
    functie = h.functie.upper()
    law = TKB_FUNCTIES.get(functie)
    if law is None:
        return None
    svb = Systeem(organisatie=SVB, applicatie=SVB_APPLICATIE)
    gemeente = Systeem(organisatie=h.zender.organisatie, applicatie="GGk")
    try:
        tkb = parse_tkb(h.payload)
        if tkb.header.law is not law:
            raise PayloadRejected(f"the payload is a {tkb.header.law.value} TKB, the envelope says {functie}")
    except PayloadRejected as exc:
        return fo01_answer(h, exc, zender=svb, ontvanger=gemeente, now=now)
    header_codes: list[str] = []
    toekenning_codes: list[str] = []
    if tkb.header.ontvanger != SVB or tkb.header.afzender != h.zender.organisatie:
        header_codes = ["0001"]
    elif behaviour.mode == "reject":
        if behaviour.level == "header":
            header_codes = behaviour.retour_codes()
        else:
            toekenning_codes = behaviour.retour_codes()
    elif tkb.toekenning.mutatie is not Mutatie.TOEKENNING and not _state.knows(
        h.zender.organisatie, law, tkb.toekenning.toewijzingnummer
    ):
        toekenning_codes = [UNKNOWN_BUDGET]
    if not header_codes and not toekenning_codes:
        _state.apply(h.zender.organisatie, tkb)
    identificatie_retour = uuid.uuid4().hex[:12]
    retour = render_tkb_retour(
        tkb,
        identificatie_retour=identificatie_retour,
        dagtekening_retour=now.date(),
        header_codes=header_codes,
        toekenning_codes=toekenning_codes,
    )
    return du01_answer(
        h,
        zender=svb,
        ontvanger=gemeente,
        functie=Kind.TKB_RETOUR.functie(law),
        payload=retour,
        identificatie_retour=identificatie_retour,
        heen_identificatie=tkb.header.identificatie,
        now=now,
    )


# --- budget period end: BABs --------------------------------------------------------------------


class Afsluiten(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tot: date
    besteed_percentage: int = Field(default=80, ge=0, le=100)


def build_babs(budgets: list[Budget], besteed_percentage: int, today: date) -> list[Budgetafsluitbericht]:
    """One BAB per client (gemeente, law, BSN), each budget closed with the share spent."""
    per_client: dict[tuple[str, str, str], list[Budget]] = {}
    for b in budgets:
        per_client.setdefault((b.gemeentecode, b.law, b.bsn), []).append(b)
    berichten: list[Budgetafsluitbericht] = []
    for (gemeente, law, bsn), group in per_client.items():
        afsluitingen = []
        for b in sorted(group, key=lambda x: x.toewijzingnummer):
            besteed = floor(b.budget * besteed_percentage / 100)
            afsluitingen.append(
                Budgetafsluiting(
                    toewijzingnummer=b.toewijzingnummer,
                    categorie=b.categorie,
                    code=b.code,
                    begindatum=b.begindatum,
                    einddatum=b.einddatum,
                    toegekend=b.budget,
                    besteed=besteed,
                    resterend=b.budget - besteed,
                    afsluitdatum=today,
                )
            )
        header = PgbHeader(Law(law), SVB, gemeente, uuid.uuid4().hex[:12].upper(), today)
        berichten.append(Budgetafsluitbericht(header=header, bsn=bsn, afsluitingen=tuple(afsluitingen)))
    return berichten


def make_router(mock: MockGgk) -> APIRouter:
    """``/_mock/svb``: close budget periods, list budgets and BABs; a fresh SVB per mock app."""
    global _state
    state = _state = SvbState()
    mock.aanbieder = _SvbAwareLog(state)
    router = APIRouter(prefix="/_mock/svb")

    @router.post("/afsluiten")
    async def afsluiten(request: Afsluiten) -> dict[str, Any]:
        now = datetime.now()
        berichten = build_babs(state.to_close(request.tot), request.besteed_percentage, now.date())
        verzonden: list[dict[str, Any]] = []
        async with httpx.AsyncClient(timeout=mock.config.callback_timeout_s) as client:
            for bab in berichten:
                law = bab.header.law
                h = Heenbericht(
                    zender=Systeem(organisatie=SVB, applicatie=SVB_APPLICATIE),
                    ontvanger=Systeem(organisatie=bab.header.ontvanger, applicatie="GGk"),
                    referentienummer=new_referentienummer(),
                    tijdstip=now,
                    functie=Kind.BAB.functie(law),
                    payload=render_bab(bab),
                    referentienummer_bericht=bab.header.identificatie,
                )
                body, headers = soap_request(render_di01(h), "ggk_Di01")
                record = SentBab(
                    h.referentienummer,
                    h.functie,
                    bab.header.ontvanger,
                    [a.toewijzingnummer for a in bab.afsluitingen],
                )
                state.sent(record)
                try:
                    response = await client.post(mock.config.callback_url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    record.answer, record.code = "unreachable", type(exc).__name__
                else:
                    result = parse_soap_response(response.status_code, response.content)
                    record.status_code, record.answer, record.code = (
                        response.status_code,
                        result.kind,
                        result.code,
                    )
                log.info(
                    "mock_svb_bab_sent",
                    functie=h.functie,
                    answer=record.answer,
                    afsluitingen=len(record.toewijzingnummers),
                )
                verzonden.append(asdict(record))
        return {"verzonden": verzonden}

    @router.get("/budgetten")
    def budgetten() -> list[dict[str, Any]]:
        return state.listing()

    @router.get("/bab")
    def babs() -> list[dict[str, Any]]:
        return state.bab_listing()

    return router
