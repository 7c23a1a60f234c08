"""JW319/WMO319, the gemeente's Antwoordbericht on a 315 or 317, as XML.

The gemeente answers a verzoek either with a 301 (granted) or with this message: the
request is rejected (VerzoekAntwoord 1, with a RedenAfwijzingVerzoek) or still being
examined (2). The gateway writes it, the mock aanbieder reads it. The header has the
301's roles: Afzender = gemeentecode, Ontvanger = AGB code.

iJw's 319 can name the gemeente that is responsible under the woonplaatsbeginsel; the
iWmo schema has no such element, so :func:`render_antwoord` leaves it out for the Wmo.
"""

from __future__ import annotations

from connectors.istandaard.errors import accept_payload
from connectors.istandaard.law import Law
from connectors.istandaard.model_inbound import Antwoordbericht
from connectors.istandaard.start_stop import finish, new_root, read_message
from connectors.istandaard.xml_names import child, required_text, sub, sub_opt, tags, text

ANTWOORD = 319


def has_woonplaatsbeginsel(law: Law) -> bool:
    """Whether the law's 319 carries ``Woonplaatsbeginsel`` (iJw only)."""
    return law is Law.JEUGDWET


def render_antwoord(bericht: Antwoordbericht) -> bytes:
    """The JW319/WMO319 of ``bericht`` as UTF-8 bytes, validated against the project's XSD.

    ``woonplaatsbeginsel_gemeente`` is written for the Jeugdwet only. Raises
    :class:`connectors.xsd.SchemaValidationError` when the data breaks the schema.
    """
    law = bericht.header.law
    t = tags(law, ANTWOORD)
    m = t.m
    root = new_root(t, bericht.header)
    antwoord = sub(root, m["Antwoord"])
    sub(antwoord, m["ReferentieAanbieder"], bericht.referentie_aanbieder)
    sub(antwoord, m["VerzoekAntwoord"], bericht.verzoek_antwoord)
    sub_opt(antwoord, m["RedenAfwijzingVerzoek"], bericht.reden_afwijzing)
    if has_woonplaatsbeginsel(law) and bericht.woonplaatsbeginsel_gemeente is not None:
        sub(sub(antwoord, m["Woonplaatsbeginsel"]), m["Gemeente"], bericht.woonplaatsbeginsel_gemeente)
    return finish(t, root)


def parse_antwoord(xml: bytes) -> Antwoordbericht:
    """Read a JW319/WMO319 (law from the namespace), validated against the project's XSD.

    Raises :class:`connectors.istandaard.errors.PayloadRejected` for anything that is not
    a valid 319 of either law.
    """
    law, root = accept_payload(xml, ANTWOORD)
    t = tags(law, ANTWOORD)
    m = t.m
    header, antwoord = read_message(root, t, "Antwoord")
    woonplaatsbeginsel = child(antwoord, m["Woonplaatsbeginsel"])
    return Antwoordbericht(
        header=header,
        referentie_aanbieder=required_text(antwoord, m["ReferentieAanbieder"]),
        verzoek_antwoord=required_text(antwoord, m["VerzoekAntwoord"]),
        reden_afwijzing=text(antwoord, m["RedenAfwijzingVerzoek"]),
        woonplaatsbeginsel_gemeente=None
        if woonplaatsbeginsel is None
        else required_text(woonplaatsbeginsel, m["Gemeente"]),
    )
