"""identify(): which law and message a payload is, from its root element alone."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from connectors.istandaard import (
    Law,
    PayloadRejected,
    identify,
    render_antwoord,
    render_start,
    render_stop,
    render_vot,
    render_vow,
)
from connectors.istandaard.identify import MESSAGE_NUMBERS
from connectors.istandaard.model import BerichtHeader
from connectors.istandaard.model_inbound import (
    AangevraagdProduct,
    Antwoordbericht,
    ClientKort,
    StartBericht,
    StartProduct,
    StopBericht,
    StopProduct,
    VerkorteNaam,
    Verwijzer,
    VerzoekOmToewijzing,
    VerzoekOmWijziging,
)
from connectors.xml_input import XmlInputError

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "istandaarden"
BSN = "999900006"
BOTH_LAWS = pytest.mark.parametrize("law", [Law.JEUGDWET, Law.WMO])


def _examples() -> list[Path]:
    if not REFERENCE.is_dir():
        return []
    return sorted(REFERENCE.glob("*-3.2/examples/*.xml"))


@pytest.mark.skipif(
    not REFERENCE.is_dir(),
    reason=f"published iStandaarden not found at {REFERENCE}: conformance checks need ../shared/reference",
)
def test_every_published_example_is_identified_by_its_file_name() -> None:
    examples = _examples()
    names = {path.stem for path in examples}
    # 301/302/305/.../325 for iJw, the heenberichten for iWmo: at least these must be there.
    assert {"jw301", "jw302", "jw305", "jw315", "jw323", "jw325", "wmo301", "wmo319", "wmo323"} <= names
    for path in examples:
        match = re.fullmatch(r"(jw|wmo)(\d{3})", path.stem)
        assert match is not None, path
        law = Law.JEUGDWET if match[1] == "jw" else Law.WMO
        # jw315 and jw318 are known not to validate: identify() looks at the root only.
        assert identify(path.read_bytes()) == (law, int(match[2])), path.name


def _header(law: Law, afzender: str, ontvanger: str) -> BerichtHeader:
    return BerichtHeader(
        law=law, afzender=afzender, ontvanger=ontvanger, identificatie="1", dagtekening=date(2026, 4, 1)
    )


def _client() -> ClientKort:
    return ClientKort(
        bsn=BSN, geboortedatum=date(2012, 1, 1), geslacht="1", naam=VerkorteNaam(achternaam="Wit")
    )


@BOTH_LAWS
def test_rendered_messages_are_identified(law: Law) -> None:
    aanbieder = _header(law, "99990001", "0637")
    rendered = {
        305: render_start(
            StartBericht(
                aanbieder, _client(), (StartProduct(begindatum=date(2026, 4, 2), status_aanlevering="1"),)
            )
        ),
        307: render_stop(
            StopBericht(
                aanbieder,
                _client(),
                (
                    StopProduct(
                        begindatum=date(2026, 4, 2),
                        einddatum=date(2026, 5, 1),
                        reden_beeindiging="31",
                        status_aanlevering="1",
                    ),
                ),
            )
        ),
        315: render_vot(
            VerzoekOmToewijzing(
                aanbieder,
                _client(),
                (
                    AangevraagdProduct(
                        referentie_aanbieder="R",
                        toewijzing_ingangsdatum=date(2026, 4, 2),
                        verwijzer=Verwijzer("01"),
                    ),
                ),
            )
        ),
        317: render_vow(VerzoekOmWijziging(aanbieder, bsn=BSN, referentie_aanbieder="R", reden_verzoek="1")),
        319: render_antwoord(
            Antwoordbericht(_header(law, "0637", "99990001"), referentie_aanbieder="R", verzoek_antwoord="2")
        ),
    }
    for number, xml in rendered.items():
        assert identify(xml) == (law, number)


def test_every_message_number_exists_in_both_laws() -> None:
    for law in Law:
        for number in MESSAGE_NUMBERS:
            assert law.bericht_code(number)


def _bericht(namespace: str, local: str = "Bericht") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<m:{local} xmlns:m="{namespace}">'
        f"<m:Client><m:Bsn>{BSN}</m:Bsn></m:Client></m:{local}>"
    ).encode()


@pytest.mark.parametrize(
    "xml",
    [
        _bericht("http://www.istandaarden.nl/ijw/3_1/jw305/schema"),  # older release
        _bericht("http://www.istandaarden.nl/ijw/3_2/jw303/schema"),  # no such message
        _bericht("http://www.istandaarden.nl/iwmo/3_2/jw305/schema"),  # laws mixed up
        _bericht("http://www.istandaarden.nl/ijw/3_2/jw305/schema", "Header"),  # unknown root
        _bericht("http://www.istandaarden.nl/ijw/3_2/basisschema/schema"),
        f"<Bericht><Bsn>{BSN}</Bsn></Bericht>".encode(),  # no namespace at all
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"/>',
    ],
    ids=["3_1", "jw303", "mixed", "root-header", "basisschema", "no-namespace", "soap"],
)
def test_unknown_root_or_namespace_is_rejected(xml: bytes) -> None:
    with pytest.raises(PayloadRejected) as caught:
        identify(xml)
    exc = caught.value
    assert exc.code == "StUF055"
    assert "is not the Bericht" in exc.reason
    assert BSN not in str(exc)


@pytest.mark.parametrize(
    "xml",
    [
        _bericht("http://www.istandaarden.nl/ijw/3_2/jw305/schema")[:-12],
        b"",
        b"<?xml version='1.0'?>\n<!DOCTYPE m:Bericht [<!ENTITY b '999900006'>]>"
        + _bericht("http://www.istandaarden.nl/ijw/3_2/jw305/schema").split(b"\n", 1)[1],
    ],
    ids=["not-well-formed", "empty", "doctype"],
)
def test_unacceptable_xml_is_rejected(xml: bytes) -> None:
    with pytest.raises(PayloadRejected) as caught:
        identify(xml)
    assert caught.value.code == "StUF055"
    assert isinstance(caught.value.__cause__, XmlInputError)
    assert BSN not in str(caught.value)


def test_a_bsn_in_the_root_name_is_masked() -> None:
    with pytest.raises(PayloadRejected) as caught:
        identify(_bericht(f"urn:x:{BSN}"))
    assert BSN not in str(caught.value) and "*****0006" in str(caught.value)
