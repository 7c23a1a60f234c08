"""JW301/WMO301 written as text: the fast path of :func:`~connectors.istandaard.render_toewijzing`.

Building the ~120 elements of a 301 one ``SubElement`` at a time costs more than
validating and serialising the finished document together, which capped the render
path at about a third of what libxml2 alone needs (bench 1, ``bench/render_throughput.py``).
Writing the document as one string and letting libxml2 parse it once is about twice as
fast.

The output must be byte-identical to what the tree builder in
:mod:`connectors.istandaard.toewijzing` serialises (the equivalence is a test,
``tests/connectors/test_istandaard_toewijzing_text.py``): the same element order, the
same namespace prefixes and declarations, ``<x/>`` for an element without text or
children and ``<x></x>`` for one whose text is ``""``, and text escaped as libxml2
escapes it. Nothing here validates or rejects: characters XML does not allow pass
through unchanged and make the parse that follows fail, after which the caller falls
back to the tree builder and its exact errors.

Every value that ends up as element text goes through :func:`escape`, numbers and dates
included, so the rule "text is escaped" needs no exceptions to be checked.
"""

from __future__ import annotations

from functools import cache

from connectors.istandaard.law import Law
from connectors.istandaard.model import (
    Adres,
    BerichtHeader,
    Client,
    Contact,
    Naam,
    Relatie,
    ToegewezenProduct,
    Toewijzingsbericht,
)
from connectors.istandaard.xml_names import BERICHT_SUBVERSIE, BERICHT_VERSIE, tags

MESSAGE = 301


def escape(value: str) -> str:
    """Element text as libxml2 serialises it to UTF-8: ``& < >`` as entities, CR as ``&#13;``.

    Everything else (quotes, tabs, newlines, non-ASCII) is written as is; checked against
    lxml for every code point it accepts. Most values need nothing, and four ``in`` tests
    are cheaper than four ``replace`` calls (this runs ~80 times per message).

    A ``str`` subclass comes back as a plain ``str`` of its characters, which is what lxml
    stores; formatting the subclass itself could differ (``format`` of a ``(str, Enum)``
    member is ``Cls.NAME``).
    """
    if "&" in value or "<" in value or ">" in value or "\r" in value:
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    return value if value.__class__ is str else str.__str__(value)


class _Prefixes:
    """The qualified-name prefixes of one law's 301 and the fixed parts around them."""

    __slots__ = ("b", "close", "fixed_header", "m", "open")

    def __init__(self, law: Law) -> None:
        t = tags(law, MESSAGE)
        # Same prefixes and declaration order as the tree builder's nsmap.
        (m_prefix, m_namespace), (b_prefix, b_namespace) = t.nsmap.items()
        m = self.m = m_prefix + ":"
        self.b = b_prefix + ":"
        self.open = f'<{m}Bericht xmlns:{m_prefix}="{m_namespace}" xmlns:{b_prefix}="{b_namespace}">'
        self.close = f"</{m}Bericht>"
        self.fixed_header = (
            f"<{m}BerichtCode>{escape(law.bericht_code(MESSAGE))}</{m}BerichtCode>"
            f"<{m}BerichtVersie>{BERICHT_VERSIE}</{m}BerichtVersie>"
            f"<{m}BerichtSubversie>{BERICHT_SUBVERSIE}</{m}BerichtSubversie>"
        )


@cache
def _prefixes(law: Law) -> _Prefixes:
    return _Prefixes(law)


def _opt(tag: str, value: str | None) -> str:
    """``<tag>value</tag>``, or nothing for None: optional elements are omitted."""
    return "" if value is None else f"<{tag}>{escape(value)}</{tag}>"


def _container(tag: str, content: str) -> str:
    """An element holding ``content``; empty, it serialises as ``<tag/>`` like lxml's."""
    return f"<{tag}>{content}</{tag}>" if content else f"<{tag}/>"


def render_text(bericht: Toewijzingsbericht) -> str:
    """The ``Bericht`` element of ``bericht`` as text (no declaration), not validated."""
    p = _prefixes(bericht.header.law)
    out = [p.open]
    _header(out, p, bericht.header)
    _client(out, p, bericht.client, bericht.producten)
    out.append(p.close)
    return "".join(out)


def _header(out: list[str], p: _Prefixes, header: BerichtHeader) -> None:
    m, b = p.m, p.b
    out.append(
        f"<{m}Header>{p.fixed_header}"
        f"<{m}Afzender>{escape(header.afzender)}</{m}Afzender>"
        f"<{m}Ontvanger>{escape(header.ontvanger)}</{m}Ontvanger>"
        f"<{m}BerichtIdentificatie>"
        f"<{b}Identificatie>{escape(header.identificatie)}</{b}Identificatie>"
        f"<{b}Dagtekening>{escape(header.dagtekening.isoformat())}</{b}Dagtekening>"
        f"</{m}BerichtIdentificatie>"
        f"<{m}XsdVersie>"
        f"<{b}BasisschemaXsdVersie>{escape(header.basisschema_xsd_versie)}</{b}BasisschemaXsdVersie>"
        f"<{b}BerichtXsdVersie>{escape(header.bericht_xsd_versie)}</{b}BerichtXsdVersie>"
        f"</{m}XsdVersie>"
        f"</{m}Header>"
    )


def _client(out: list[str], p: _Prefixes, client: Client, producten: tuple[ToegewezenProduct, ...]) -> None:
    m, b = p.m, p.b
    out.append(
        f"<{m}Client><{m}Bsn>{escape(client.bsn)}</{m}Bsn>"
        f"<{m}Geboortedatum><{b}Datum>{escape(client.geboortedatum.isoformat())}</{b}Datum>"
        f"{_opt(b + 'DatumGebruik', client.geboortedatum_gebruik)}</{m}Geboortedatum>"
        f"<{m}Geslacht>{escape(client.geslacht)}</{m}Geslacht>"
    )
    _naam(out, p, client.naam)
    if client.communicatie_vorm is not None:
        out.append(
            f"<{m}Communicatie><{b}Vorm>{escape(client.communicatie_vorm)}</{b}Vorm>"
            f"{_opt(b + 'Taal', client.communicatie_taal)}</{m}Communicatie>"
        )
    out.append(
        _opt(m + "JuridischeStatus", client.juridische_status)
        + _opt(m + "WettelijkeVertegenwoordiging", client.wettelijke_vertegenwoordiging)
        + _opt(m + "Commentaar", client.commentaar)
    )
    if client.relaties:
        out.append(f"<{m}Relaties>")
        for relatie in client.relaties:
            _relatie(out, p, relatie)
        out.append(f"</{m}Relaties>")
    contacten: list[str] = []
    for contact in client.contacten:
        _contact(contacten, p, contact)
    out.append(_container(m + "Contactgegevens", "".join(contacten)))
    toegewezen: list[str] = []
    for product in producten:
        _product(toegewezen, p, product)
    out.append(_container(m + "ToegewezenProducten", "".join(toegewezen)))
    out.append(f"</{m}Client>")


def _naam(out: list[str], p: _Prefixes, naam: Naam) -> None:
    m, b = p.m, p.b
    partner = (
        ""
        if naam.partner_achternaam is None
        else f"<{b}Partnernaam><{b}Achternaam>{escape(naam.partner_achternaam)}</{b}Achternaam>"
        f"{_opt(b + 'Voorvoegsel', naam.partner_voorvoegsel)}</{b}Partnernaam>"
    )
    out.append(
        f"<{m}Naam><{b}Geslachtsnaam><{b}Achternaam>{escape(naam.achternaam)}</{b}Achternaam>"
        f"{_opt(b + 'Voorvoegsel', naam.voorvoegsel)}</{b}Geslachtsnaam>{partner}"
        f"{_opt(b + 'Voornamen', naam.voornamen)}{_opt(b + 'Voorletters', naam.voorletters)}"
        f"<{b}NaamGebruik>{escape(naam.naamgebruik)}</{b}NaamGebruik></{m}Naam>"
    )


def _relatie(out: list[str], p: _Prefixes, relatie: Relatie) -> None:
    m, b = p.m, p.b
    volgorde = None if relatie.volgorde is None else str(relatie.volgorde)
    geboortedatum = (
        ""
        if relatie.geboortedatum is None
        else f"<{m}Geboortedatum><{b}Datum>{escape(relatie.geboortedatum.isoformat())}</{b}Datum>"
        f"{_opt(b + 'DatumGebruik', relatie.geboortedatum_gebruik)}</{m}Geboortedatum>"
    )
    out.append(
        f"<{m}Relatie><{m}Nummer>{escape(relatie.nummer)}</{m}Nummer>{_opt(m + 'Volgorde', volgorde)}"
        f"<{m}Soort>{escape(relatie.soort)}</{m}Soort>{geboortedatum}"
        f"{_opt(m + 'Geslacht', relatie.geslacht)}"
    )
    _naam(out, p, relatie.naam)
    _contact(out, p, relatie.contact)
    out.append(f"</{m}Relatie>")


def _contact(out: list[str], p: _Prefixes, contact: Contact) -> None:
    m, b = p.m, p.b
    out.append(f"<{m}Contact><{m}Soort>{escape(contact.soort)}</{m}Soort>")
    if contact.adres is not None:
        out.append(_container(m + "Adres", _adres(p, contact.adres)))
    out.append(_opt(m + "Organisatie", contact.organisatie))
    if contact.telefoon is not None:
        tweede = (
            ""
            if contact.telefoon2 is None
            else f"<{b}Telefoon02><{b}Telefoonnummer>{escape(contact.telefoon2)}</{b}Telefoonnummer>"
            f"<{b}Landnummer>{escape(contact.telefoon2_landnummer)}</{b}Landnummer></{b}Telefoon02>"
        )
        out.append(
            f"<{m}Telefoon><{b}Telefoon01><{b}Telefoonnummer>{escape(contact.telefoon)}</{b}Telefoonnummer>"
            f"<{b}Landnummer>{escape(contact.telefoon_landnummer)}</{b}Landnummer></{b}Telefoon01>"
            f"{tweede}</{m}Telefoon>"
        )
    out.append(_opt(m + "Emailadres", contact.emailadres))
    if contact.periode_begindatum is not None or contact.periode_einddatum is not None:
        begin = None if contact.periode_begindatum is None else contact.periode_begindatum.isoformat()
        einde = None if contact.periode_einddatum is None else contact.periode_einddatum.isoformat()
        out.append(f"<{m}Periode>{_opt(b + 'Begindatum', begin)}{_opt(b + 'Einddatum', einde)}</{m}Periode>")
    out.append(f"</{m}Contact>")


def _adres(p: _Prefixes, adres: Adres) -> str:
    """CDT_Adres content; as in the tree builder, huisletter etc. only with a huisnummer."""
    b = p.b
    huis = (
        ""
        if adres.huisnummer is None
        else f"<{b}Huis><{b}Huisnummer>{escape(str(adres.huisnummer))}</{b}Huisnummer>"
        f"{_opt(b + 'Huisletter', adres.huisletter)}"
        f"{_opt(b + 'HuisnummerToevoeging', adres.huisnummer_toevoeging)}"
        f"{_opt(b + 'AanduidingWoonadres', adres.aanduiding_woonadres)}</{b}Huis>"
    )
    # "" stands for "absent" in plaatsnaam and landcode (see build_adres).
    return (
        f"{huis}{_opt(b + 'Postcode', adres.postcode)}{_opt(b + 'Straatnaam', adres.straatnaam)}"
        f"{_opt(b + 'Plaatsnaam', adres.plaatsnaam or None)}{_opt(b + 'LandCode', adres.landcode or None)}"
    )


def _product(out: list[str], p: _Prefixes, product: ToegewezenProduct) -> None:
    m, b = p.m, p.b
    soort = (
        ""
        if product.product is None
        else f"<{m}Product><{b}Categorie>{escape(product.product.categorie)}</{b}Categorie>"
        f"{_opt(b + 'Code', product.product.code)}</{m}Product>"
    )
    omvang = (
        ""
        if product.omvang is None
        else f"<{m}Omvang><{b}Volume>{escape(str(product.omvang.volume))}</{b}Volume>"
        f"<{b}Eenheid>{escape(product.omvang.eenheid)}</{b}Eenheid>"
        f"<{b}Frequentie>{escape(product.omvang.frequentie)}</{b}Frequentie></{m}Omvang>"
    )
    einddatum = None if product.einddatum is None else product.einddatum.isoformat()
    budget = None if product.budget is None else str(product.budget)
    out.append(
        f"<{m}ToegewezenProduct>"
        f"<{m}ToewijzingNummer>{escape(str(product.toewijzingnummer))}</{m}ToewijzingNummer>"
        f"{_opt(m + 'ReferentieAanbieder', product.referentie_aanbieder)}{soort}"
        f"<{m}Toewijzingsdatum>{escape(product.toewijzingsdatum.isoformat())}</{m}Toewijzingsdatum>"
        f"<{m}Toewijzingstijd>{escape(product.toewijzingstijd.isoformat())}</{m}Toewijzingstijd>"
        f"<{m}Ingangsdatum>{escape(product.ingangsdatum.isoformat())}</{m}Ingangsdatum>"
        f"{_opt(m + 'Einddatum', einddatum)}{_opt(m + 'RedenWijziging', product.reden_wijziging)}{omvang}"
        f"{_opt(m + 'Budget', budget)}{_opt(m + 'Commentaar', product.commentaar)}"
        f"</{m}ToegewezenProduct>"
    )
