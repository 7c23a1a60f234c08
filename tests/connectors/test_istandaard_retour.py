"""The generic retour: shapes of IV028/IV032, paths, equivalence with the 302 renderer, conformance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from connectors.istandaard import render_toewijzing, render_toewijzing_retour
from connectors.istandaard.errors import PayloadRejected
from connectors.istandaard.law import Law
from connectors.istandaard.retour import RETOUR_OF, class_paths, parse_retour, render_retour
from connectors.istandaard.retourcodes import ACCEPTED, IN_MESSAGE_ERROR, NOT_ASSESSED
from connectors.xml_input import parse_xml
from connectors.xsd import SchemaValidationError, load_schema, violations
from tests.connectors.test_istandaard_toewijzing import BOTH_LAWS, BSN, PUBLISHED, REFERENCE, sample_bericht

RETOUR_DATE = date(2026, 4, 7)
PREFIX = {Law.JEUGDWET: "jw", Law.WMO: "wmo"}


def start_xml(law: Law) -> bytes:
    """A 305 with two StartProducten, written out so these tests need no other renderer."""
    n, s = f"{law.message_prefix}305", law.standard
    categorie = "45" if law is Law.JEUGDWET else "02"
    product = (
        "<{n}:StartProduct><{n}:ToewijzingNummer>{nr}</{n}:ToewijzingNummer>"
        "<{n}:Product><{s}:Categorie>{c}</{s}:Categorie></{n}:Product>"
        "<{n}:ToewijzingIngangsdatum>2026-04-01</{n}:ToewijzingIngangsdatum>"
        "<{n}:Begindatum>2026-04-06</{n}:Begindatum><{n}:StatusAanlevering>1</{n}:StatusAanlevering>"
        "</{n}:StartProduct>"
    )
    producten = "".join(product.format(n=n, s=s, c=categorie, nr=nr) for nr in (300201, 300202))
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<{n}:Bericht xmlns:{n}="{law.message_namespace(305)}" xmlns:{s}="{law.basis_namespace()}">\n'
        f"  <!-- indentation and comments are not copied into the retour -->\n"
        f"  <{n}:Header><{n}:BerichtCode>{law.bericht_code(305)}</{n}:BerichtCode>"
        f"<{n}:BerichtVersie>3</{n}:BerichtVersie><{n}:BerichtSubversie>2</{n}:BerichtSubversie>"
        f"<{n}:Afzender>99990001</{n}:Afzender><{n}:Ontvanger>0637</{n}:Ontvanger>"
        f"<{n}:BerichtIdentificatie><{s}:Identificatie>ST-1</{s}:Identificatie>"
        f"<{s}:Dagtekening>2026-04-06</{s}:Dagtekening></{n}:BerichtIdentificatie>"
        f"<{n}:XsdVersie><{s}:BasisschemaXsdVersie>1.0.0</{s}:BasisschemaXsdVersie>"
        f"<{s}:BerichtXsdVersie>1.0.0</{s}:BerichtXsdVersie></{n}:XsdVersie></{n}:Header>\n"
        f"  <{n}:Client><{n}:Bsn>{BSN}</{n}:Bsn>"
        f"<{n}:Geboortedatum><{s}:Datum>2012-01-01</{s}:Datum></{n}:Geboortedatum>"
        f"<{n}:Geslacht>1</{n}:Geslacht>"
        f"<{n}:Naam><{s}:Geslachtsnaam><{s}:Achternaam>Berg</{s}:Achternaam></{s}:Geslachtsnaam></{n}:Naam>"
        f"<{n}:StartProducten>{producten}</{n}:StartProducten></{n}:Client>\n"
        f"</{n}:Bericht>\n"
    ).encode()


def _render(heen: bytes, **codes: object) -> bytes:
    return render_retour(
        heen,
        identificatie_retour="RET-1",
        dagtekening_retour=RETOUR_DATE,
        **codes,  # type: ignore[arg-type]
    )


# --- shapes -----------------------------------------------------------------------------


@BOTH_LAWS
def test_fully_accepted_is_header_only_without_codes(law: Law) -> None:
    xml = _render(start_xml(law))
    root = parse_xml(xml)
    assert root.tag == f"{{{law.message_namespace(306)}}}Bericht"
    assert [etree.QName(e).localname for e in root] == ["Header"]
    header = root[0]
    assert [etree.QName(e).localname for e in header] == [
        "BerichtCode",
        "BerichtVersie",
        "BerichtSubversie",
        "Afzender",
        "Ontvanger",
        "BerichtIdentificatie",
        "XsdVersie",
        "IdentificatieRetour",
        "DagtekeningRetour",
        "XsdVersieRetour",
    ]
    assert header[0].text == law.bericht_code(306)
    assert BSN.encode() not in xml

    retour = parse_retour(xml)
    assert retour.number == 306
    assert (retour.header.law, retour.header.afzender, retour.header.ontvanger) == (law, "99990001", "0637")
    assert (retour.header.identificatie, retour.header.dagtekening) == ("ST-1", date(2026, 4, 6))
    assert (retour.identificatie_retour, retour.dagtekening_retour) == ("RET-1", RETOUR_DATE)
    assert retour.all_codes() == ()
    assert retour.element_codes == {}


@BOTH_LAWS
def test_in_message_error_is_header_only_with_its_codes(law: Law) -> None:
    xml = _render(start_xml(law), header_codes=[IN_MESSAGE_ERROR])
    assert parse_xml(xml).find(f"{{{law.message_namespace(306)}}}Client") is None
    retour = parse_retour(xml)
    assert retour.header_codes == (IN_MESSAGE_ERROR,)
    assert retour.element_codes == {}


@BOTH_LAWS
def test_cross_message_error_returns_the_body_with_codes_on_every_class(law: Law) -> None:
    heen = start_xml(law)
    failing = "Client/StartProducten/StartProduct[2]"
    xml = _render(heen, element_codes={failing: ["9019"]})
    retour = parse_retour(xml)
    assert retour.header_codes == (ACCEPTED,)
    assert retour.element_codes == {
        "Client": (ACCEPTED,),
        "Client/StartProducten/StartProduct[1]": (ACCEPTED,),
        failing: ("9019",),
    }
    # The body is the heenbericht's, element for element, in the retour namespace.
    root = parse_xml(xml)
    heen_names = [etree.QName(e).localname for e in parse_xml(heen).iter(etree.Element)]
    retour_names = [etree.QName(e).localname for e in root.iter(etree.Element)]
    retour_names = [n for n in retour_names if n not in ("RetourCodes", "RetourCode")]
    extra_header = ["IdentificatieRetour", "DagtekeningRetour", "XsdVersieRetour"]
    extra_header += ["BasisschemaXsdVersie", "BerichtXsdVersie"]
    assert [n for n in retour_names if n not in extra_header] == [
        n for n in heen_names if n not in extra_header
    ]
    assert all(etree.QName(e).namespace != law.message_namespace(305) for e in root.iter())


def test_header_path_default_code_and_order_of_codes() -> None:
    xml = _render(
        start_xml(Law.WMO),
        header_codes=["0200"],
        element_codes={"Header": ["9056"], "Client": ["9063", "S329"]},
        default_code=NOT_ASSESSED,
    )
    retour = parse_retour(xml)
    assert retour.header_codes == ("0200", "9056")
    assert retour.element_codes["Client"] == ("9063", "S329")
    assert retour.element_codes["Client/StartProducten/StartProduct[1]"] == (NOT_ASSESSED,)
    assert retour.all_codes() == ("0200", "9056", "9063", "S329", NOT_ASSESSED)


def test_empty_element_codes_still_return_the_body() -> None:
    retour = parse_retour(_render(start_xml(Law.JEUGDWET), element_codes={}))
    assert set(retour.element_codes) == set(class_paths(start_xml(Law.JEUGDWET)))
    assert set(retour.element_codes.values()) == {(ACCEPTED,)}


@BOTH_LAWS
def test_class_paths_of_a_start_and_a_toewijzing(law: Law) -> None:
    assert class_paths(start_xml(law)) == [
        "Client",
        "Client/StartProducten/StartProduct[1]",
        "Client/StartProducten/StartProduct[2]",
    ]
    assert class_paths(render_toewijzing(sample_bericht(law))) == [
        "Client",
        "Client/Relaties/Relatie[1]",
        "Client/Relaties/Relatie[1]/Contact",
        "Client/Contactgegevens/Contact[1]",
        "Client/Contactgegevens/Contact[2]",
        "Client/ToegewezenProducten/ToegewezenProduct[1]",
        "Client/ToegewezenProducten/ToegewezenProduct[2]",
        "Client/ToegewezenProducten/ToegewezenProduct[3]",
    ]


@pytest.mark.parametrize(
    "path",
    ["Client/StartProducten/StartProduct[3]", "Client/StartProducten", "Client/Bsn", "Antwoord", "client"],
)
def test_an_unknown_path_is_a_programming_error(path: str) -> None:
    with pytest.raises(ValueError, match="element_codes names no class"):
        _render(start_xml(Law.JEUGDWET), element_codes={path: ["9019"]})


def test_a_code_outside_the_code_list_fails_the_own_xsd() -> None:
    with pytest.raises(SchemaValidationError):
        _render(start_xml(Law.JEUGDWET), header_codes=["ABCD"])


# --- equivalence with the 302 renderer --------------------------------------------------


def _c14n(xml: bytes) -> bytes:
    return etree.tostring(parse_xml(xml), method="c14n")


@BOTH_LAWS
@pytest.mark.parametrize(
    ("header_codes", "client_codes", "product_codes"),
    [
        ((), (), None),
        ((IN_MESSAGE_ERROR,), (), None),
        ((), (), {300202: ("9332",)}),
        ((ACCEPTED,), ("S300",), {1: (NOT_ASSESSED,), 2: (NOT_ASSESSED,), 3: (NOT_ASSESSED,)}),
        ((), (), {}),
    ],
    ids=["ok", "in-message", "product", "client", "empty-products"],
)
def test_a_301_retour_equals_the_302_renderer(
    law: Law,
    header_codes: Sequence[str],
    client_codes: Sequence[str],
    product_codes: Mapping[int, Sequence[str]] | None,
) -> None:
    heen = sample_bericht(law)
    if product_codes is not None and 1 in product_codes:
        product_codes = {p.toewijzingnummer: product_codes[i] for i, p in enumerate(heen.producten, start=1)}
    expected = render_toewijzing_retour(
        heen,
        identificatie_retour="RET-1",
        dagtekening_retour=RETOUR_DATE,
        header_codes=header_codes,
        client_codes=client_codes,
        product_codes=product_codes,
    )
    element_codes: dict[str, Sequence[str]] | None = None
    if product_codes is not None or client_codes:
        # The 302 renderer gives the client's codes to every relatie and contact too.
        heen_xml = render_toewijzing(heen)
        element_codes = {p: client_codes for p in class_paths(heen_xml) if "ToegewezenProduct" not in p}
        for index, product in enumerate(heen.producten, start=1):
            codes = (product_codes or {}).get(product.toewijzingnummer, ())
            element_codes[f"Client/ToegewezenProducten/ToegewezenProduct[{index}]"] = codes
    got = _render(render_toewijzing(heen), header_codes=header_codes, element_codes=element_codes)
    assert _c14n(got) == _c14n(expected)


# --- bad input --------------------------------------------------------------------------


def test_bad_heenbericht_is_rejected_without_bsn() -> None:
    heen = start_xml(Law.JEUGDWET)
    bad = heen.replace(b"<jw305:Geslacht>1<", b"<jw305:Geslacht>" + BSN.encode() + b"<")
    for call in (lambda: _render(bad), lambda: class_paths(bad)):
        with pytest.raises(PayloadRejected) as caught:
            call()
        assert caught.value.code == "StUF055"
        assert BSN not in str(caught.value)
        assert all(BSN not in str(v) for v in caught.value.violations)
    for wrong in (b"not xml", _render(heen), b"<Bericht/>"):
        with pytest.raises(PayloadRejected):
            _render(wrong)
    with pytest.raises(PayloadRejected, match="expected one of"):  # a heenbericht is not a retour
        parse_retour(heen)
    with pytest.raises(PayloadRejected):
        parse_retour(_render(heen).replace(b"RET-1", b""))


# --- conformance with the published standard -------------------------------------------

_REFERENCE_MISSING = pytest.mark.skipif(
    not REFERENCE.is_dir(),
    reason=f"published iStandaarden not found at {REFERENCE}: conformance checks need ../shared/reference",
)


def _example(law: Law, number: int) -> bytes:
    path: Path = REFERENCE / PUBLISHED[law] / "examples" / f"{PREFIX[law]}{number}.xml"
    data = path.read_bytes()
    if (law, number) == (Law.JEUGDWET, 315):
        # Known defect of the published example: 31 June. Repaired so it is a valid 315.
        data = data.replace(b"2027-06-31", b"2027-06-30")
    return data


@_REFERENCE_MISSING
@pytest.mark.parametrize("law", [Law.JEUGDWET, Law.WMO])
@pytest.mark.parametrize("number", sorted(RETOUR_OF))
def test_retour_of_each_published_heenbericht_in_all_three_shapes(law: Law, number: int) -> None:
    heen = _example(law, number)
    paths = class_paths(heen)
    assert paths and paths[0] in ("Client", "Antwoord")
    failing = paths[-1]
    shapes: list[dict[str, object]] = [
        {},
        {"header_codes": [IN_MESSAGE_ERROR]},
        {"element_codes": {failing: ["9019", "9063"]}},
    ]
    published = None
    if law is Law.JEUGDWET:  # the published iWmo set has no retour XSDs
        published = load_schema(f"ijw-3.2/jw{RETOUR_OF[number]}.xsd", base_dir=REFERENCE)
    for shape in shapes:
        xml = _render(heen, **shape)
        if published is not None:
            assert violations(published, parse_xml(xml)) == [], shape
        retour = parse_retour(xml)
        assert retour.number == RETOUR_OF[number]
        if "element_codes" in shape:
            assert retour.header_codes == (ACCEPTED,)
            assert list(retour.element_codes) == paths
            assert retour.element_codes[failing] == ("9019", "9063")
            assert all(
                codes == (ACCEPTED,) for path, codes in retour.element_codes.items() if path != failing
            )
        else:
            assert retour.element_codes == {}
            assert retour.header_codes == tuple(shape.get("header_codes", ()))  # type: ignore[arg-type]


@_REFERENCE_MISSING
@pytest.mark.parametrize(
    ("number", "header_codes", "element_codes"),
    [
        (302, ("8848",), {}),
        (306, ("8848",), {}),
        (308, (), {}),
        (
            316,
            ("0200",),
            {
                "Client": ("0200",),
                "Client/AangevraagdeProducten/AangevraagdProduct[1]": ("9347",),
                "Client/AangevraagdeProducten/AangevraagdProduct[2]": ("0200",),
            },
        ),
        (320, ("0200",), {"Antwoord": ("9360",)}),
    ],
)
def test_published_retour_examples_parse(
    number: int, header_codes: tuple[str, ...], element_codes: dict[str, tuple[str, ...]]
) -> None:
    retour = parse_retour(_example(Law.JEUGDWET, number))
    assert (retour.header.law, retour.number) == (Law.JEUGDWET, number)
    assert retour.header_codes == header_codes
    assert retour.element_codes == element_codes


@_REFERENCE_MISSING
def test_published_jw318_is_rejected_for_its_stray_retourcode() -> None:
    with pytest.raises(PayloadRejected) as caught:
        parse_retour(_example(Law.JEUGDWET, 318))
    assert "RetourCode" in caught.value.reason
    assert "999900006" not in str(caught.value)
