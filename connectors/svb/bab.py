"""BAB budgetafsluitbericht (SVB -> gemeente) and its retour, as XML (project's own iPgb model).

At the end of a budget period the SVB reports, per client, for each budget
(ToewijzingNummer) what was granted, spent and is left. The gemeente answers with a
retour: header only when all is well, otherwise RetourCodes on the failing
Budgetafsluiting (0200 on the others).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from connectors.istandaard.errors import PayloadRejected
from connectors.svb.model import Budgetafsluitbericht, Budgetafsluiting, BudgetafsluitRetour
from connectors.svb.names import OK, Kind
from connectors.svb.xml_parts import (
    Names,
    accept,
    assert_rendered_valid,
    build_header,
    build_periode,
    build_product,
    build_retour_header,
    build_retourcodes,
    category_fits_law,
    find,
    new_root,
    read_header,
    read_retourcodes,
    required_date,
    required_int,
    required_text,
    serialize,
    sub,
    text,
)

_BAB = Names(Kind.BAB)
_RETOUR = Names(Kind.BAB_RETOUR)


def render_bab(bericht: Budgetafsluitbericht) -> bytes:
    """The BAB as UTF-8 bytes, XSD-validated (:class:`connectors.xsd.SchemaValidationError`)."""
    n = _BAB
    root = new_root(n)
    build_header(root, n, bericht.header)
    client = sub(root, n["Client"])
    sub(client, n["Bsn"], bericht.bsn)
    afsluitingen = sub(client, n["Budgetafsluitingen"])
    for a in bericht.afsluitingen:
        element = sub(afsluitingen, n["Budgetafsluiting"])
        sub(element, n["ToewijzingNummer"], a.toewijzingnummer)
        build_product(element, n, a.categorie, a.code)
        build_periode(element, n, a.begindatum, a.einddatum)
        sub(element, n["ToegekendBudget"], a.toegekend)
        sub(element, n["BesteedBedrag"], a.besteed)
        sub(element, n["ResterendBudget"], a.resterend)
        sub(element, n["Afsluitdatum"], a.afsluitdatum)
    assert_rendered_valid(Kind.BAB, root)
    return serialize(root)


def parse_bab(xml: bytes) -> Budgetafsluitbericht:
    """Read a BAB (law from its BerichtCode); :class:`PayloadRejected` for anything else."""
    accepted = accept(xml, Kind.BAB)
    n, root, law = accepted.n, accepted.root, accepted.law
    afsluitingen: list[Budgetafsluiting] = []
    container = find(root, n, "Client", "Budgetafsluitingen")
    assert container is not None  # required by the XSD
    for element in container.findall(n["Budgetafsluiting"]):
        categorie = required_text(element, n, "Product", "Categorie")
        if not category_fits_law(categorie, law):
            raise PayloadRejected(f"productcategorie {categorie} does not belong to {law.value}")
        afsluitingen.append(
            Budgetafsluiting(
                toewijzingnummer=required_int(element, n, "ToewijzingNummer"),
                categorie=categorie,
                code=text(element, n, "Product", "Code"),
                begindatum=required_date(element, n, "Periode", "Begindatum"),
                einddatum=required_date(element, n, "Periode", "Einddatum"),
                toegekend=required_int(element, n, "ToegekendBudget"),
                besteed=required_int(element, n, "BesteedBedrag"),
                resterend=required_int(element, n, "ResterendBudget"),
                afsluitdatum=required_date(element, n, "Afsluitdatum"),
            )
        )
    return Budgetafsluitbericht(
        header=read_header(root, n, law),
        bsn=required_text(root, n, "Client", "Bsn"),
        afsluitingen=tuple(afsluitingen),
    )


def render_bab_retour(
    heen: Budgetafsluitbericht,
    *,
    identificatie_retour: str,
    dagtekening_retour: date,
    header_codes: Iterable[str] = (),
    client_codes: Iterable[str] = (),
    afsluiting_codes: Mapping[int, Iterable[str]] | None = None,
) -> bytes:
    """The gemeente's retour to ``heen``: header only unless some class carries a code."""
    n = _RETOUR
    per_afsluiting = {nummer: list(codes) for nummer, codes in (afsluiting_codes or {}).items()}
    client_list = list(client_codes)
    root = new_root(n)
    build_retour_header(root, n, heen.header, identificatie_retour, dagtekening_retour, header_codes)
    if client_list or any(per_afsluiting.values()):
        client = sub(root, n["Client"])
        sub(client, n["Bsn"], heen.bsn)
        for a in heen.afsluitingen:
            element = sub(client, n["Budgetafsluiting"])
            sub(element, n["ToewijzingNummer"], a.toewijzingnummer)
            build_retourcodes(element, n, per_afsluiting.get(a.toewijzingnummer) or [OK])
        build_retourcodes(client, n, client_list or [OK])
    assert_rendered_valid(Kind.BAB_RETOUR, root)
    return serialize(root)


def parse_bab_retour(xml: bytes) -> BudgetafsluitRetour:
    accepted = accept(xml, Kind.BAB_RETOUR)
    n, root, law = accepted.n, accepted.root, accepted.law
    client = find(root, n, "Client")
    per_afsluiting: dict[int, tuple[str, ...]] = {}
    if client is not None:
        for element in client.findall(n["Budgetafsluiting"]):
            per_afsluiting[required_int(element, n, "ToewijzingNummer")] = read_retourcodes(element, n)
    return BudgetafsluitRetour(
        header=read_header(root, n, law),
        identificatie_retour=required_text(root, n, "Header", "IdentificatieRetour"),
        dagtekening_retour=required_date(root, n, "Header", "DagtekeningRetour"),
        header_codes=read_retourcodes(find(root, n, "Header"), n),
        bsn=text(client, n, "Bsn") if client is not None else None,
        client_codes=read_retourcodes(client, n),
        afsluiting_codes=per_afsluiting,
    )
