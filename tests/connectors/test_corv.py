"""StUF jz0100 (CORV): render, parse, the VTO rules, streaming and precise errors."""

from __future__ import annotations

import dataclasses
import io
import tracemalloc
from datetime import date
from pathlib import Path

import pytest

from connectors.corv import (
    MAX_DOCUMENT_BYTES,
    STUF_XSD_ERROR,
    DocumentSoort,
    Fout,
    Kind,
    Notificatie,
    Notificatiejr,
    NotificatieResultaat,
    NotificatieStatus,
    Persoon,
    StufAnswer,
    StufError,
    Vto,
    Zorgmelding,
    bv01,
    check_vto,
    fo01,
    fo03,
    message_name,
    parse_inbound,
    parse_message,
    render_answer,
    render_notificatie,
    render_notificatiejr,
    render_terugkoppeling,
    render_vto,
    render_vto_bytes,
    render_zorgmelding,
)
from connectors.corv.vto import CORV_RULE
from tests.corv_samples import (
    CORV,
    GEMEENTE,
    MOMENT,
    TERUGKOPPELING_VARIANTS,
    VTO_VARIANTS,
    document,
    stuurgegevens,
    vto,
)


@pytest.mark.parametrize("name", sorted(VTO_VARIANTS))
def test_vto_round_trips(name: str) -> None:
    original = VTO_VARIANTS[name]
    data = render_vto_bytes(original)
    assert message_name(data) == "vtoDi01"
    assert parse_message(data) == original


@pytest.mark.parametrize("name", sorted(TERUGKOPPELING_VARIANTS))
def test_terugkoppeling_round_trips(name: str) -> None:
    original = TERUGKOPPELING_VARIANTS[name]
    data = render_terugkoppeling(original)
    assert message_name(data) == "zorgmeldingTerugkoppelingDi01"
    assert parse_message(data) == original


def _inbound_stuurgegevens(functie: str):  # type: ignore[no-untyped-def]
    return dataclasses.replace(stuurgegevens(functie, "CORV-1"), zender=CORV, ontvanger=GEMEENTE)


def test_notificatie_round_trips_with_zaak_link_and_outcome() -> None:
    n = Notificatie(
        stuurgegevens=_inbound_stuurgegevens("notificatieDi01"),
        status=NotificatieStatus.ZAAK_AFGEROND,
        status_tijdstip="20261129101500",
        client=Persoon(bsn="999900006", geslachtsnaam="Jansen"),
        zaak_identificatie="RVDK-1",
        gemeente_zaak_identificatie="ZAAK-2026-0001",
        resultaat=NotificatieResultaat.MAATREGEL_OPGELEGD,
    )
    parsed = parse_inbound(render_notificatie(n))
    assert parsed == n
    assert isinstance(parsed, Notificatie) and parsed.gemeente_zaak_identificatie == "ZAAK-2026-0001"


def test_ambtshalve_notificatie_has_no_gemeente_zaak() -> None:
    n = Notificatie(
        stuurgegevens=_inbound_stuurgegevens("notificatieDi01"),
        status=NotificatieStatus.INTAKE_AFGEROND,
        status_tijdstip="20261129",
        client=Persoon(bsn="999900006"),
    )
    parsed = parse_inbound(render_notificatie(n))
    assert isinstance(parsed, Notificatie) and parsed.gemeente_zaak_identificatie is None


@pytest.mark.parametrize("toezichtsoort", ["01", "07", "13"])
def test_notificatiejr_carries_the_toezichtsoort(toezichtsoort: str) -> None:
    n = Notificatiejr(
        stuurgegevens=_inbound_stuurgegevens("notificatiejrDi01"),
        toezichtsoort=toezichtsoort,
        jeugdige=Persoon(bsn="999900018", geslachtsnaam="de Boer"),
        initiator="Openbaar Ministerie",
        contactpersoon="M. Officier",
    )
    assert parse_inbound(render_notificatiejr(n)) == n


def test_zorgmelding_round_trips() -> None:
    z = Zorgmelding(
        stuurgegevens=_inbound_stuurgegevens("zorgmeldingDi01"),
        kenmerk="ZM-1",
        contactpersoon="Wijkagent",
        document=b"%PDF zorg",
        document_creatiedatum=date(2026, 11, 29),
        extra={"aanleiding": "test"},
        jeugdige=Persoon(bsn="999900043", geslachtsnaam="Visser"),
        initiator="Politie",
        document_bestandsnaam="zorgmelding.pdf",
    )
    assert parse_inbound(render_zorgmelding(z)) == z


def test_answers_link_to_what_they_answer() -> None:
    received = _inbound_stuurgegevens("notificatieDi01")
    for answer in (
        bv01(received, tijdstip=MOMENT),
        fo01(received, Fout(code="StUF055", omschrijving="XSD"), tijdstip=MOMENT),
        fo03(received, Fout(code="StUF016", omschrijving="dubbel"), tijdstip=MOMENT),
    ):
        parsed = parse_inbound(render_answer(answer))
        assert isinstance(parsed, StufAnswer)
        assert parsed == answer
        assert parsed.stuurgegevens.cross_refnummer == "CORV-1"
        assert parsed.stuurgegevens.zender == GEMEENTE and parsed.stuurgegevens.ontvanger == CORV
    assert message_name(render_answer(fo03(received, Fout(code="StUF016", omschrijving="x")))) == "Fo03"


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"documenten": ()}, "exactly one document"),
        ({"documenten": (document(DocumentSoort.GEZINSGESCHIEDENIS),)}, "exactly one document"),
        (
            {
                "documenten": (
                    document(DocumentSoort.VERZOEK_TOT_ONDERZOEK),
                    document(DocumentSoort.VERZOEK_TOT_ONDERZOEK),
                )
            },
            "it has 2",
        ),
        ({"kinderen": ()}, "at least one child"),
        ({"kinderen": (Kind(Persoon(bsn="999900006"), ongeboren=True),)}, "unborn"),
        ({"kinderen": (Kind(Persoon(geslachtsnaam="X")),)}, "needs a BSN"),
    ],
)
def test_vto_rules_are_checked_before_rendering(change: dict[str, object], fragment: str) -> None:
    bad = dataclasses.replace(vto(), **change)  # type: ignore[arg-type]
    with pytest.raises(StufError, match=fragment) as caught:
        check_vto(bad)
    assert caught.value.code == CORV_RULE
    out = io.BytesIO()
    with pytest.raises(StufError):
        render_vto(bad, out)
    assert out.getvalue() == b""  # nothing half-written


def test_xsd_error_is_stuf055_and_never_shows_the_bsn() -> None:
    bad = vto(kinderen=(Kind(Persoon(bsn="99990000")),))  # 8 digits
    with pytest.raises(StufError) as caught:
        check_vto(bad)
    assert caught.value.code == STUF_XSD_ERROR
    assert "inp.bsn" in str(caught.value)
    assert "99990000" not in str(caught.value) and "99990000" not in (caught.value.details or "")


def test_inbound_xsd_error_keeps_the_stuurgegevens_for_the_fo03() -> None:
    n = Notificatie(
        stuurgegevens=_inbound_stuurgegevens("notificatieDi01"),
        status=NotificatieStatus.INTAKE_AFGEROND,
        status_tijdstip="20261129",
        client=Persoon(bsn="999900006"),
    )
    data = render_notificatie(n).replace(b"Intake afgerond", b"Intake bezig")
    with pytest.raises(StufError) as caught:
        parse_inbound(data)
    assert caught.value.code == "StUF055"
    assert caught.value.stuurgegevens is not None
    assert caught.value.stuurgegevens.referentienummer == "CORV-1"
    fo = render_answer(fo03(caught.value.stuurgegevens, caught.value.fout()))
    assert parse_inbound(fo).fout == caught.value.fout()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"<not-closed>", "not well-formed"),
        (b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e 'x'>]><x>&e;</x>", "DOCTYPE"),
        (b"<x xmlns='urn:other'/>", "not a message of the CORV subset"),
        # billion laughs: refused, never expanded
        (
            b"<?xml version='1.0'?><!DOCTYPE l [<!ENTITY a 'aaaaaaaaaa'>"
            + b"".join(
                b"<!ENTITY %c '%s'>" % (ord("a") + n, (b"&" + bytes([ord("a") + n - 1]) + b";") * 10)
                for n in range(1, 9)
            )
            + b"]><l>&i;</l>",
            "DOCTYPE|entity amplification",  # libxml2 may stop it before our DOCTYPE check
        ),
        (b"<?xml version='1.0'?><!DOCTYPE x SYSTEM 'file:///etc/passwd'><x/>", "DOCTYPE"),
        (b"<a>" * 65 + b"</a>" * 65, "nesting deeper than 64 levels"),
        (b"<a>" * 3000 + b"</a>" * 3000, "not well-formed"),
    ],
)
def test_unacceptable_documents_are_stuf055(data: bytes, fragment: str) -> None:
    with pytest.raises(StufError, match=fragment) as caught:
        parse_message(data)
    assert caught.value.code == "StUF055"


def test_a_vto_is_not_an_inbound_message() -> None:
    with pytest.raises(StufError, match="not a message the gemeente receives"):
        parse_inbound(render_vto_bytes(vto()))


def test_large_documents_stream_in_bounded_memory(tmp_path: Path) -> None:
    size = 8 * 1024 * 1024
    pdf = tmp_path / "verzoek.pdf"
    pdf.write_bytes(bytes(range(256)) * (size // 256))
    big = vto(documenten=(dataclasses.replace(document(DocumentSoort.VERZOEK_TOT_ONDERZOEK), content=pdf),))
    out = tmp_path / "vto.xml"
    tracemalloc.start()
    with out.open("wb") as sink:
        render_vto(big, sink)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < size // 2, f"peak {peak} bytes for a {size}-byte document"
    parsed = parse_message(out)
    assert isinstance(parsed, Vto) and parsed.documenten[0].content == pdf.read_bytes()


def test_oversized_document_is_refused_precisely(tmp_path: Path) -> None:
    pdf = tmp_path / "big.pdf"
    with pdf.open("wb") as f:
        f.truncate(MAX_DOCUMENT_BYTES + 1)
    big = vto(documenten=(dataclasses.replace(document(DocumentSoort.VERZOEK_TOT_ONDERZOEK), content=pdf),))
    with pytest.raises(StufError, match=f"the limit is {MAX_DOCUMENT_BYTES}"):
        check_vto(big)
    stream_doc = dataclasses.replace(
        document(DocumentSoort.VERZOEK_TOT_ONDERZOEK), content=io.BytesIO(b"\0" * (MAX_DOCUMENT_BYTES + 1))
    )
    with pytest.raises(StufError, match="over the limit"):
        render_vto(vto(documenten=(stream_doc,)), io.BytesIO())
