"""JW315/WMO315 (verzoek om toewijzing, VOT) and JW317/WMO317 (verzoek om wijziging, VOW).

With these the aanbieder asks the gemeente for a toewijzing, or for a change of the
client's whole set of toewijzingen; the gemeente answers with a 301 or a 319. The gateway
reads them, the mock aanbieder writes them. Header roles are reversed as in the 305
(Afzender = AGB code, Ontvanger = gemeentecode).

The laws differ in one element: iJw's 315 has ``GezagsdragerBekend`` on the client, the
iWmo schema does not know it. :func:`render_vot` therefore leaves it out for the Wmo even
when the model carries a value, and :func:`parse_vot` yields ``None`` there.
"""

from __future__ import annotations

from datetime import date

from lxml import etree

from connectors.istandaard.errors import accept_payload
from connectors.istandaard.law import Law
from connectors.istandaard.model import Omvang
from connectors.istandaard.model_inbound import (
    AangevraagdProduct,
    NieuwProduct,
    TeWijzigenProduct,
    Verwijzer,
    VerzoekOmToewijzing,
    VerzoekOmWijziging,
)
from connectors.istandaard.start_stop import (
    finish,
    new_message,
    new_root,
    read_client_kort,
    read_message,
    read_opt_product,
)
from connectors.istandaard.xml_names import (
    Tags,
    build_omvang,
    build_product,
    child,
    opt_date,
    opt_int,
    read_omvang,
    required_text,
    sub,
    sub_opt,
    tags,
    text,
    to_date,
)

VOT = 315
VOW = 317


def has_gezagsdrager_bekend(law: Law) -> bool:
    """Whether the law's 315 carries ``GezagsdragerBekend`` (iJw only)."""
    return law is Law.JEUGDWET


def render_vot(bericht: VerzoekOmToewijzing) -> bytes:
    """The JW315/WMO315 of ``bericht`` as UTF-8 bytes, validated against the project's XSD.

    ``gezagsdrager_bekend`` is written for the Jeugdwet only. Raises
    :class:`connectors.xsd.SchemaValidationError` when the data breaks the schema.
    """
    law = bericht.header.law
    t = tags(law, VOT)
    m = t.m
    root, client = new_message(t, bericht.header, bericht.client)
    if has_gezagsdrager_bekend(law):
        sub_opt(client, m["GezagsdragerBekend"], bericht.gezagsdrager_bekend)
    sub_opt(client, m["Commentaar"], bericht.commentaar)
    producten = sub(client, m["AangevraagdeProducten"])
    for product in bericht.producten:
        _build_aangevraagd(producten, t, product)
    return finish(t, root)


def parse_vot(xml: bytes) -> VerzoekOmToewijzing:
    """Read a JW315/WMO315 (law from the namespace), validated against the project's XSD.

    Raises :class:`connectors.istandaard.errors.PayloadRejected` for anything that is not
    a valid 315 of either law.
    """
    law, root = accept_payload(xml, VOT)
    t = tags(law, VOT)
    m = t.m
    header, client = read_message(root, t)
    producten = child(client, m["AangevraagdeProducten"])
    assert producten is not None  # required by the XSD
    return VerzoekOmToewijzing(
        header=header,
        client=read_client_kort(client, t),
        gezagsdrager_bekend=text(client, m["GezagsdragerBekend"]),
        commentaar=text(client, m["Commentaar"]),
        producten=tuple(_read_aangevraagd(p, t) for p in producten.iterchildren(m["AangevraagdProduct"])),
    )


def render_vow(bericht: VerzoekOmWijziging) -> bytes:
    """The JW317/WMO317 of ``bericht`` as UTF-8 bytes, validated against the project's XSD.

    Empty groups (no unchanged, changed or new products) are left out, as the schema
    wants at least one product in a group that is present.
    """
    t = tags(bericht.header.law, VOW)
    m = t.m
    root = new_root(t, bericht.header)
    client = sub(root, m["Client"])
    sub(client, m["Bsn"], bericht.bsn)
    verzoek = sub(client, m["Verzoek"])
    sub(verzoek, m["ReferentieAanbieder"], bericht.referentie_aanbieder)
    sub(verzoek, m["RedenVerzoek"], bericht.reden_verzoek)
    if bericht.ongewijzigd:
        group = sub(verzoek, m["OngewijzigdeProducten"])
        for nummer in bericht.ongewijzigd:
            sub(sub(group, m["OngewijzigdProduct"]), m["ToewijzingNummer"], str(nummer))
    if bericht.te_wijzigen:
        group = sub(verzoek, m["TeWijzigenProducten"])
        for wijziging in bericht.te_wijzigen:
            element = sub(group, m["TeWijzigenProduct"])
            sub(element, m["ToewijzingNummer"], str(wijziging.toewijzingnummer))
            _build_wens(element, t, wijziging.gewenste_ingangsdatum, wijziging)
    if bericht.nieuw:
        group = sub(verzoek, m["NieuweProducten"])
        for nieuw in bericht.nieuw:
            element = sub(group, m["NieuwProduct"])
            if nieuw.product is not None:
                build_product(element, m["Product"], t, nieuw.product)
            _build_wens(element, t, nieuw.gewenste_ingangsdatum, nieuw)
    return finish(t, root)


def parse_vow(xml: bytes) -> VerzoekOmWijziging:
    """Read a JW317/WMO317 (law from the namespace), validated against the project's XSD.

    Raises :class:`connectors.istandaard.errors.PayloadRejected` for anything that is not
    a valid 317 of either law.
    """
    law, root = accept_payload(xml, VOW)
    t = tags(law, VOW)
    m = t.m
    header, client = read_message(root, t)
    verzoek = child(client, m["Verzoek"])
    assert verzoek is not None  # required by the XSD
    return VerzoekOmWijziging(
        header=header,
        bsn=required_text(client, m["Bsn"]),
        referentie_aanbieder=required_text(verzoek, m["ReferentieAanbieder"]),
        reden_verzoek=required_text(verzoek, m["RedenVerzoek"]),
        ongewijzigd=tuple(
            int(required_text(p, m["ToewijzingNummer"]))
            for p in _group(verzoek, t, "OngewijzigdeProducten", "OngewijzigdProduct")
        ),
        te_wijzigen=tuple(
            _read_te_wijzigen(p, t) for p in _group(verzoek, t, "TeWijzigenProducten", "TeWijzigenProduct")
        ),
        nieuw=tuple(_read_nieuw(p, t) for p in _group(verzoek, t, "NieuweProducten", "NieuwProduct")),
    )


# --- 315 products ----------------------------------------------------------------------------


def _build_aangevraagd(parent: etree._Element, t: Tags, product: AangevraagdProduct) -> None:
    m, b = t.m, t.b
    element = sub(parent, m["AangevraagdProduct"])
    sub(element, m["ReferentieAanbieder"], product.referentie_aanbieder)
    sub_opt(element, m["BeschikkingNummer"], _opt_str(product.beschikkingnummer))
    if product.product is not None:
        build_product(element, m["Product"], t, product.product)
    sub_opt(element, m["BeschikkingIngangsdatum"], _opt_iso(product.beschikking_ingangsdatum))
    sub(element, m["ToewijzingIngangsdatum"], product.toewijzing_ingangsdatum.isoformat())
    sub_opt(element, m["ToewijzingEinddatum"], _opt_iso(product.toewijzing_einddatum))
    if product.omvang is not None:
        build_omvang(element, m["Omvang"], t, product.omvang)
    sub_opt(element, m["Budget"], _opt_str(product.budget))
    verwijzer = sub(element, m["Verwijzer"])
    sub(verwijzer, b["Type"], product.verwijzer.type)
    sub_opt(verwijzer, b["Naam"], product.verwijzer.naam)
    sub_opt(verwijzer, b["ZorgverlenerCode"], product.verwijzer.zorgverlener_code)
    sub_opt(element, m["Raamcontract"], product.raamcontract)
    sub_opt(element, m["Commentaar"], product.commentaar)


def _read_aangevraagd(element: etree._Element, t: Tags) -> AangevraagdProduct:
    m, b = t.m, t.b
    verwijzer = child(element, m["Verwijzer"])
    assert verwijzer is not None  # required by the XSD
    return AangevraagdProduct(
        referentie_aanbieder=required_text(element, m["ReferentieAanbieder"]),
        beschikkingnummer=opt_int(element, m["BeschikkingNummer"]),
        product=read_opt_product(element, t),
        beschikking_ingangsdatum=opt_date(element, m["BeschikkingIngangsdatum"]),
        toewijzing_ingangsdatum=to_date(required_text(element, m["ToewijzingIngangsdatum"])),
        toewijzing_einddatum=opt_date(element, m["ToewijzingEinddatum"]),
        omvang=_read_opt_omvang(element, t),
        budget=opt_int(element, m["Budget"]),
        verwijzer=Verwijzer(
            type=required_text(verwijzer, b["Type"]),
            naam=text(verwijzer, b["Naam"]),
            zorgverlener_code=text(verwijzer, b["ZorgverlenerCode"]),
        ),
        raamcontract=text(element, m["Raamcontract"]),
        commentaar=text(element, m["Commentaar"]),
    )


# --- 317 products ----------------------------------------------------------------------------


def _build_wens(
    element: etree._Element, t: Tags, ingangsdatum: date, wens: TeWijzigenProduct | NieuwProduct
) -> None:
    """The wished-for period, size and budget: the common tail of TeWijzigen- and NieuwProduct."""
    m = t.m
    sub(element, m["GewensteIngangsdatum"], ingangsdatum.isoformat())
    sub_opt(element, m["Einddatum"], _opt_iso(wens.einddatum))
    if wens.omvang is not None:
        build_omvang(element, m["Omvang"], t, wens.omvang)
    sub_opt(element, m["Budget"], _opt_str(wens.budget))


def _group(verzoek: etree._Element, t: Tags, group: str, item: str) -> list[etree._Element]:
    element = child(verzoek, t.m[group])
    return [] if element is None else list(element.iterchildren(t.m[item]))


def _read_te_wijzigen(element: etree._Element, t: Tags) -> TeWijzigenProduct:
    m = t.m
    return TeWijzigenProduct(
        toewijzingnummer=int(required_text(element, m["ToewijzingNummer"])),
        gewenste_ingangsdatum=to_date(required_text(element, m["GewensteIngangsdatum"])),
        einddatum=opt_date(element, m["Einddatum"]),
        omvang=_read_opt_omvang(element, t),
        budget=opt_int(element, m["Budget"]),
    )


def _read_nieuw(element: etree._Element, t: Tags) -> NieuwProduct:
    m = t.m
    return NieuwProduct(
        product=read_opt_product(element, t),
        gewenste_ingangsdatum=to_date(required_text(element, m["GewensteIngangsdatum"])),
        einddatum=opt_date(element, m["Einddatum"]),
        omvang=_read_opt_omvang(element, t),
        budget=opt_int(element, m["Budget"]),
    )


# --- small conversions ------------------------------------------------------------------------


def _read_opt_omvang(element: etree._Element, t: Tags) -> Omvang | None:
    omvang = child(element, t.m["Omvang"])
    return None if omvang is None else read_omvang(omvang, t)


def _opt_str(value: int | None) -> str | None:
    return None if value is None else str(value)


def _opt_iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()
