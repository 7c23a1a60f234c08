"""TKB toekenningsbericht (gemeente -> SVB) and its retour, as XML (project's own iPgb model).

One TKB carries one budget (one ToewijzingNummer): a new budget, a change, or its
withdrawal (``Mutatie``). Rendered documents are validated against
``schemas/ipgb-1.0/tkb.xsd`` before they are returned; parsed ones before they are read.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from connectors.istandaard.errors import PayloadRejected
from connectors.istandaard.model import Omvang
from connectors.svb.model import (
    PgbClient,
    Toekenning,
    ToekenningRetour,
    Toekenningsbericht,
    Vertegenwoordiger,
)
from connectors.svb.names import OK, Hulpverlener, Kind, Mutatie
from connectors.svb.xml_parts import (
    Names,
    accept,
    assert_rendered_valid,
    build_adres,
    build_header,
    build_naam,
    build_periode,
    build_product,
    build_retour_header,
    build_retourcodes,
    category_fits_law,
    find,
    new_root,
    read_adres,
    read_header,
    read_naam,
    read_retourcodes,
    required_date,
    required_int,
    required_text,
    serialize,
    sub,
    sub_opt,
    text,
)

_TKB = Names(Kind.TKB)
_RETOUR = Names(Kind.TKB_RETOUR)


def render_tkb(bericht: Toekenningsbericht) -> bytes:
    """The TKB as UTF-8 bytes, XSD-validated (:class:`connectors.xsd.SchemaValidationError`)."""
    n = _TKB
    t = bericht.toekenning
    if not category_fits_law(t.categorie, bericht.header.law):
        raise ValueError(f"categorie {t.categorie} is not a {bericht.header.law.value} category")
    root = new_root(n)
    build_header(root, n, bericht.header)
    client = sub(root, n["Client"])
    c = bericht.client
    sub(client, n["Bsn"], c.bsn)
    sub(client, n["Geboortedatum"], c.geboortedatum)
    sub(client, n["Geslacht"], c.geslacht)
    build_naam(client, n, c.naam)
    if c.adres is not None:
        build_adres(client, n, c.adres)
    sub(client, n["Budgethouder"], bericht.budgethouder.value)
    v = bericht.vertegenwoordiger
    if v is not None:
        element = sub(client, n["Vertegenwoordiger"])
        sub_opt(element, n["Bsn"], v.bsn)
        build_naam(element, n, v.naam)
        sub(element, n["Relatie"], v.relatie)
        if v.adres is not None:
            build_adres(element, n, v.adres)
    toekenning = sub(client, n["Toekenning"])
    sub(toekenning, n["ToewijzingNummer"], t.toewijzingnummer)
    sub(toekenning, n["Mutatie"], t.mutatie.value)
    sub(toekenning, n["Beschikkingnummer"], t.beschikkingnummer)
    build_product(toekenning, n, t.categorie, t.code)
    sub(toekenning, n["Hulpverlener"], t.hulpverlener.value)
    sub(toekenning, n["Budget"], t.budget)
    if t.omvang is not None:
        omvang = sub(toekenning, n["Omvang"])
        sub(omvang, n["Volume"], t.omvang.volume)
        sub(omvang, n["Eenheid"], t.omvang.eenheid)
        sub(omvang, n["Frequentie"], t.omvang.frequentie)
    build_periode(toekenning, n, t.begindatum, t.einddatum)
    sub(toekenning, n["Toekenningsdatum"], t.toekenningsdatum)
    sub_opt(toekenning, n["RedenWijziging"], t.reden_wijziging)
    sub_opt(toekenning, n["Commentaar"], t.commentaar)
    assert_rendered_valid(Kind.TKB, root)
    return serialize(root)


def parse_tkb(xml: bytes) -> Toekenningsbericht:
    """Read a TKB (law from its BerichtCode); :class:`PayloadRejected` for anything else."""
    accepted = accept(xml, Kind.TKB)
    n, root, law = accepted.n, accepted.root, accepted.law
    client = find(root, n, "Client")
    toekenning = find(root, n, "Client", "Toekenning")
    assert client is not None and toekenning is not None  # required by the XSD
    categorie = required_text(toekenning, n, "Product", "Categorie")
    if not category_fits_law(categorie, law):
        raise PayloadRejected(f"productcategorie {categorie} does not belong to {law.value}")
    omvang = None
    if find(toekenning, n, "Omvang") is not None:
        omvang = Omvang(
            volume=required_int(toekenning, n, "Omvang", "Volume"),
            eenheid=required_text(toekenning, n, "Omvang", "Eenheid"),
            frequentie=required_text(toekenning, n, "Omvang", "Frequentie"),
        )
    vertegenwoordiger = None
    v = find(client, n, "Vertegenwoordiger")
    if v is not None:
        vertegenwoordiger = Vertegenwoordiger(
            naam=read_naam(v, n),
            relatie=required_text(v, n, "Relatie"),
            bsn=text(v, n, "Bsn"),
            adres=read_adres(v, n),
        )
    return Toekenningsbericht(
        header=read_header(root, n, law),
        client=PgbClient(
            bsn=required_text(client, n, "Bsn"),
            geboortedatum=required_date(client, n, "Geboortedatum"),
            geslacht=required_text(client, n, "Geslacht"),
            naam=read_naam(client, n),
            adres=read_adres(client, n),
        ),
        vertegenwoordiger=vertegenwoordiger,
        toekenning=Toekenning(
            toewijzingnummer=required_int(toekenning, n, "ToewijzingNummer"),
            mutatie=Mutatie(required_text(toekenning, n, "Mutatie")),
            beschikkingnummer=required_text(toekenning, n, "Beschikkingnummer"),
            categorie=categorie,
            code=text(toekenning, n, "Product", "Code"),
            hulpverlener=Hulpverlener(required_text(toekenning, n, "Hulpverlener")),
            budget=required_int(toekenning, n, "Budget"),
            omvang=omvang,
            begindatum=required_date(toekenning, n, "Periode", "Begindatum"),
            einddatum=required_date(toekenning, n, "Periode", "Einddatum"),
            toekenningsdatum=required_date(toekenning, n, "Toekenningsdatum"),
            reden_wijziging=text(toekenning, n, "RedenWijziging"),
            commentaar=text(toekenning, n, "Commentaar"),
        ),
    )


def render_tkb_retour(
    heen: Toekenningsbericht,
    *,
    identificatie_retour: str,
    dagtekening_retour: date,
    header_codes: Iterable[str] = (),
    client_codes: Iterable[str] = (),
    toekenning_codes: Iterable[str] = (),
) -> bytes:
    """The SVB's retour to ``heen``: header only when nothing carries a code (fully accepted);
    otherwise the body too, classes without a code marked 0200."""
    n = _RETOUR
    header_list, client_list, toekenning_list = list(header_codes), list(client_codes), list(toekenning_codes)
    root = new_root(n)
    build_retour_header(root, n, heen.header, identificatie_retour, dagtekening_retour, header_list)
    if client_list or toekenning_list:
        client = sub(root, n["Client"])
        sub(client, n["Bsn"], heen.client.bsn)
        t = heen.toekenning
        toekenning = sub(client, n["Toekenning"])
        sub(toekenning, n["ToewijzingNummer"], t.toewijzingnummer)
        sub(toekenning, n["Mutatie"], t.mutatie.value)
        sub(toekenning, n["Budget"], t.budget)
        build_retourcodes(toekenning, n, toekenning_list or [OK])
        build_retourcodes(client, n, client_list or [OK])
    assert_rendered_valid(Kind.TKB_RETOUR, root)
    return serialize(root)


def parse_tkb_retour(xml: bytes) -> ToekenningRetour:
    accepted = accept(xml, Kind.TKB_RETOUR)
    n, root, law = accepted.n, accepted.root, accepted.law
    header = find(root, n, "Header")
    client = find(root, n, "Client")
    toekenning = find(root, n, "Client", "Toekenning")
    return ToekenningRetour(
        header=read_header(root, n, law),
        identificatie_retour=required_text(root, n, "Header", "IdentificatieRetour"),
        dagtekening_retour=required_date(root, n, "Header", "DagtekeningRetour"),
        header_codes=read_retourcodes(header, n),
        bsn=text(client, n, "Bsn") if client is not None else None,
        toewijzingnummer=required_int(toekenning, n, "ToewijzingNummer") if toekenning is not None else None,
        mutatie=Mutatie(required_text(toekenning, n, "Mutatie")) if toekenning is not None else None,
        budget=required_int(toekenning, n, "Budget") if toekenning is not None else None,
        client_codes=read_retourcodes(client, n),
        toekenning_codes=read_retourcodes(toekenning, n),
    )


def read_tkb_retour_codes(xml: bytes) -> tuple[list[str], dict[int, tuple[str, ...]]]:
    """(all codes, codes per ToewijzingNummer): what the gateway records of the SVB's retour."""
    retour = parse_tkb_retour(xml)
    per_toewijzing = (
        {retour.toewijzingnummer: retour.toekenning_codes} if retour.toewijzingnummer is not None else {}
    )
    return retour.all_codes(), per_toewijzing
