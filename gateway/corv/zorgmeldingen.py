"""The gemeente's terugkoppeling to a police zorgmelding (zorgmeldingTerugkoppelingDi01)."""

from __future__ import annotations

import io

from connectors.corv import (
    StufError,
    Stuurgegevens,
    Systeem,
    Terugkoppeling,
    TerugkoppelingResultaat,
    render_terugkoppeling,
)
from gateway.api.problems import FieldError, Problem, validation_problem
from gateway.clock import local_now
from gateway.corv.api_models import TerugkoppelingIn
from gateway.corv.config import default_party, party_by_oin
from gateway.corv.outbound import enqueue_corv, new_referentienummer
from gateway.runtime import Runtime
from gateway.store.corv_tables import CorvInbound, CorvZorgmelding
from gateway.store.database import transaction

ACTION_TERUGKOPPELING = "zorgmeldingTerugkoppelingDi01"
_RESULTAAT = {
    "geen_actie_nodig": TerugkoppelingResultaat.GEEN_ACTIE_NODIG,
    "vervolgactie_nodig": TerugkoppelingResultaat.VERVOLGACTIE_NODIG,
}


def send_terugkoppeling(runtime: Runtime, zorgmelding_id: int, body: TerugkoppelingIn) -> None:
    """Store the terugkoppeling and its outbound message; 404/409/422 as a Problem."""
    settings = runtime.settings
    with transaction(runtime.sessions) as session:
        zorgmelding = session.get(CorvZorgmelding, zorgmelding_id, with_for_update=True)
        if zorgmelding is None:
            raise Problem(
                404, "not-found", "No such zorgmelding", f"zorgmelding {zorgmelding_id} does not exist"
            )
        if zorgmelding.status != "open":
            raise Problem(
                409,
                "terugkoppeling-exists",
                "This zorgmelding was answered already",
                f"status {zorgmelding.status}",
            )
        inbound = session.get(CorvInbound, zorgmelding.inbound_id)
        assert inbound is not None
        party = party_by_oin(settings, inbound.from_oin or "") or default_party(settings)
        referentienummer = new_referentienummer()
        kenmerk = str(inbound.inhoud.get("kenmerk") or inbound.stuf_referentienummer or zorgmelding.id)
        terugkoppeling = Terugkoppeling(
            stuurgegevens=Stuurgegevens(
                zender=Systeem(organisatie=settings.corv.oin, applicatie=settings.applicatie),
                ontvanger=Systeem(organisatie=party.oin, applicatie="CORV"),
                referentienummer=referentienummer,
                tijdstip=local_now(runtime.clock).replace(tzinfo=None),
                functie=ACTION_TERUGKOPPELING,
            ),
            zaak_identificatie=body.zaak_identificatie or zorgmelding.zaak_identificatie or kenmerk[:40],
            zorgmelding_kenmerk=kenmerk,
            resultaat=_RESULTAAT[body.resultaat],
            contactpersoon=body.contactpersoon,
        )
        try:
            payload = render_terugkoppeling(terugkoppeling)
        except StufError as exc:
            raise validation_problem([FieldError("body", "jz0100-schema", exc.omschrijving)]) from None
        stored = enqueue_corv(
            session,
            runtime,
            party=party,
            action=ACTION_TERUGKOPPELING,
            referentienummer=referentienummer,
            payload=io.BytesIO(payload),
            conversation_id=inbound.conversation_id,
            answers_inbound_id=inbound.id,
        )
        zorgmelding.status = "teruggekoppeld"
        zorgmelding.terugkoppeling = body.resultaat
        zorgmelding.terugkoppeling_message_id = stored.message.id
        zorgmelding.answered_at = runtime.clock.now()
