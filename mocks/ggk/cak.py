"""The mock CAK behind the mock GGk: takes WMO405/407, answers with WMO406/408.

What it does with a gemeente's message (envelope ontvanger ``CAK``):

- a payload that fails the project's iEb model XSD earns a ``Fo01`` with ``StUF055``;
- otherwise it judges the message as the CAK would and answers with a retour: fully OK
  (header only), or an *uitnodiging tot herstel* - error codes on the failing class:
  ``H002`` on a hulpmiddel/woonvoorziening (categories 11-14) without kostprijs, ``H004``
  on a stop without a running start or a start while one runs (codes: see
  :data:`connectors.cak.RETOURCODES`);
- an accepted message is applied to its per-person register: a start makes the person
  ``lopend``, a stop ``gestopt``.

Tests steer it with the mock's rules (``PUT /_mock/behaviour`` with ``agb: "CAK"``:
``reject`` puts ``retourcodes`` on the header (level ``header``) or on every voorziening
(level ``product``); ``no_retour`` sends nothing) or with ``POST /_mock/cak/herstel-volgende``
(the next message(s) get an uitnodiging tot herstel with the given codes).
``GET /_mock/cak/personen`` shows the register and ``GET /_mock/cak/meldingen`` what
arrived - keyed by a salted hash of the BSN, never the BSN itself.

The register belongs to the mock GGk app that :func:`make_router` was last called for
(one mock per process, as the test stacks run them).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from connectors.cak import Melding, PayloadRejected, Regeling, Soort, parse_melding, render_retour
from connectors.ggk import (
    Heenbericht,
    Systeem,
)
from mocks.ggk.aanbieder import Answer, du01_answer, fo01_answer
from mocks.ggk.behaviour import Behaviour

if TYPE_CHECKING:
    from mocks.ggk.app import MockGgk

CAK = "CAK"
CAK_APPLICATIE = "MockCAK"
ANSWERED_FUNCTIES = frozenset({Regeling.EIGEN_BIJDRAGE.functie, Regeling.BESCHERMD_WONEN.functie})
KOSTPRIJS_CATEGORIEEN = frozenset({"11", "12", "13", "14"})
Level = Literal["header", "melding", "voorziening"]


@dataclass(slots=True)
class Persoon:
    """The CAK's picture of one person under one regeling."""

    persoon: str
    regeling: str
    status: str
    begindatum: str
    einddatum: str | None = None
    meldingen: int = 0


@dataclass(slots=True)
class Ontvangen:
    """One message the mock CAK received, without BSN."""

    functie: str
    referentienummer: str
    bericht_identificatie: str
    herstel_van: str | None
    persoon: str
    soort: str
    datum: str
    voorzieningen: list[dict[str, Any]]
    codes: list[str] = field(default_factory=list)
    toegepast: bool = False


@dataclass(slots=True)
class _Herstel:
    codes: list[str]
    level: Level
    remaining: int


class CakRegister:
    """Thread-safe per-person state, received messages and queued herstel invitations."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._salt = secrets.token_bytes(16)
        self._personen: dict[tuple[str, str], Persoon] = {}
        self._ontvangen: list[Ontvangen] = []
        self._herstel: list[_Herstel] = []

    def key(self, bsn: str) -> str:
        """A salted hash: stable within this mock, useless outside it."""
        return "p-" + hashlib.sha256(self._salt + bsn.encode()).hexdigest()[:16]

    def reset(self) -> None:
        with self._lock:
            self._personen.clear()
            self._ontvangen.clear()
            self._herstel.clear()

    def invite_next(self, codes: list[str], level: Level, times: int) -> None:
        with self._lock:
            self._herstel.append(_Herstel(codes, level, times))

    def take_herstel(self) -> _Herstel | None:
        with self._lock:
            if not self._herstel:
                return None
            first = self._herstel[0]
            first.remaining -= 1
            if first.remaining <= 0:
                self._herstel.pop(0)
            return first

    def judge(self, melding: Melding) -> tuple[list[str], list[str]]:
        """The CAK's own rules: (melding codes, codes for every voorziening) - empty when fine."""
        voorziening_codes: list[str] = []
        if (
            melding.regeling is Regeling.EIGEN_BIJDRAGE
            and melding.soort is Soort.START
            and any(
                v.categorie in KOSTPRIJS_CATEGORIEEN and v.kostprijs is None for v in melding.voorzieningen
            )
        ):
            voorziening_codes = ["H002"]
        with self._lock:
            current = self._personen.get((self.key(melding.client.bsn), melding.regeling.value))
        lopend = current is not None and current.status == "lopend"
        if (melding.soort is Soort.STOP) != lopend:
            return ["H004"], voorziening_codes
        return [], voorziening_codes

    def apply(self, melding: Melding) -> None:
        key = (self.key(melding.client.bsn), melding.regeling.value)
        with self._lock:
            persoon = self._personen.get(key)
            if persoon is None:
                persoon = self._personen[key] = Persoon(key[0], key[1], "lopend", melding.datum.isoformat())
            if melding.soort is Soort.START:
                persoon.status, persoon.begindatum, persoon.einddatum = (
                    "lopend",
                    melding.datum.isoformat(),
                    None,
                )
            else:
                persoon.status, persoon.einddatum = "gestopt", melding.datum.isoformat()
            persoon.meldingen += 1

    def record(self, entry: Ontvangen) -> None:
        with self._lock:
            self._ontvangen.append(entry)

    def personen(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(p) for p in self._personen.values()]

    def ontvangen(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(o) for o in self._ontvangen]


_register = CakRegister()


def register() -> CakRegister:
    """The register of the current mock (see the module docstring)."""
    return _register


def answer(h: Heenbericht, behaviour: Behaviour, *, now: datetime) -> Answer | None:
    """The CAK's answer to ``h`` under ``behaviour``: a Du01 with the 406/408, or a Fo01."""
    functie = h.functie.upper()
    if behaviour.mode == "no_retour" or functie not in ANSWERED_FUNCTIES:
        return None
    cak = Systeem(organisatie=CAK, applicatie=CAK_APPLICATIE)
    gemeente = Systeem(organisatie=h.zender.organisatie, applicatie="GGk")
    try:
        melding = parse_melding(h.payload)
    except PayloadRejected as exc:
        return fo01_answer(h, exc, zender=cak, ontvanger=gemeente, now=now)

    state = register()
    header_codes: list[str] = []
    melding_codes: list[str] = []
    per_voorziening: list[str] = []
    invited = state.take_herstel()
    if behaviour.mode == "reject":
        if behaviour.level == "header":
            header_codes = behaviour.retour_codes()
        else:
            per_voorziening = behaviour.retour_codes()
    elif invited is not None:
        target = {"header": header_codes, "melding": melding_codes, "voorziening": per_voorziening}
        target[invited.level].extend(invited.codes)
    else:
        melding_codes, per_voorziening = state.judge(melding)
    refused = bool(header_codes or melding_codes or per_voorziening)
    if not refused:
        state.apply(melding)
    state.record(
        Ontvangen(
            functie=functie,
            referentienummer=h.referentienummer,
            bericht_identificatie=melding.bericht.identificatie,
            herstel_van=None if melding.herstel_van is None else melding.herstel_van.identificatie,
            persoon=state.key(melding.client.bsn),
            soort="start" if melding.soort is Soort.START else "stop",
            datum=melding.datum.isoformat(),
            voorzieningen=[
                {
                    "toewijzingnummer": v.toewijzingnummer,
                    "categorie": v.categorie,
                    "code": v.code,
                    "leveringsvorm": v.leveringsvorm,
                    "einddatum": None if v.einddatum is None else v.einddatum.isoformat(),
                    "kostprijs": v.kostprijs,
                }
                for v in melding.voorzieningen
            ],
            codes=[*header_codes, *melding_codes, *per_voorziening],
            toegepast=not refused,
        )
    )
    identificatie_retour = uuid.uuid4().hex[:12]
    retour = render_retour(
        melding,
        identificatie_retour=identificatie_retour,
        dagtekening_retour=now.date(),
        header_codes=header_codes,
        melding_codes=melding_codes,
        voorziening_codes={v.toewijzingnummer: list(per_voorziening) for v in melding.voorzieningen}
        if per_voorziening
        else None,
    )
    return du01_answer(
        h,
        zender=cak,
        ontvanger=gemeente,
        functie=melding.regeling.retour_functie,
        payload=retour,
        identificatie_retour=identificatie_retour,
        heen_identificatie=melding.bericht.identificatie,
        now=now,
    )


class HerstelVolgende(BaseModel):
    """The next ``times`` messages to the CAK get an uitnodiging tot herstel with ``codes``."""

    model_config = ConfigDict(extra="forbid")
    codes: list[str] = Field(default_factory=lambda: ["H001"], min_length=1, max_length=10)
    level: Level = "melding"
    times: int = Field(default=1, ge=1, le=100)


def make_router(mock: MockGgk) -> APIRouter:
    """Admin endpoints under ``/_mock/cak``; a new mock app starts with an empty register."""
    global _register
    _register = CakRegister()
    state = _register
    router = APIRouter(prefix="/_mock/cak", tags=["mock CAK"])

    @router.get("/personen")
    def personen() -> list[dict[str, Any]]:
        return state.personen()

    @router.get("/meldingen")
    def meldingen() -> list[dict[str, Any]]:
        return state.ontvangen()

    @router.post("/herstel-volgende")
    def herstel_volgende(body: HerstelVolgende) -> dict[str, Any]:
        for code in body.codes:
            if len(code) != 4 or not code.isalnum() or code != code.upper():
                raise HTTPException(422, f"retourcode {code[:8]!r} must be 4 characters [0-9A-Z]")
        state.invite_next(body.codes, body.level, body.times)
        return {"status": "queued", **body.model_dump()}

    @router.post("/reset")
    def reset() -> dict[str, str]:
        state.reset()
        return {"status": "reset"}

    return router


__all__ = ["CakRegister", "HerstelVolgende", "answer", "make_router", "register"]
