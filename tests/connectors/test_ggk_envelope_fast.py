"""The fast paths of the GGk envelope against their references, value for value and error for error.

``soap_di01`` fills a per-party template and ``parse_envelope`` reads a schema-valid
envelope in one pass; both must give exactly what the element-by-element builder and the
check-by-check reader give - the same bytes, the same objects, the same refusals.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from lxml import etree

from connectors.ggk import (
    EnvelopeError,
    Heenbericht,
    Retourbericht,
    Systeem,
    parse_envelope,
    render_di01,
    render_du01,
    soap_di01,
)
from connectors.ggk import envelope as envelope_module
from connectors.ggk import soap as soap_module
from connectors.xml_input import HostileXmlError, XmlInputError, parse_xml

GEMEENTEN = [
    Systeem(organisatie="0637", applicatie="Gemeente Gateway", administratie="Zoetermeer"),
    Systeem(organisatie="0363"),
    Systeem(organisatie="0518", applicatie="GGk", gebruiker="beheer"),
]
AANBIEDERS = [Systeem(organisatie="99990001"), Systeem(organisatie="12345678", applicatie="Zorg & Co <x>")]
FUNCTIES = ["JW301", "WMO301", "JW315"]


def _random_heen(rng: random.Random) -> Heenbericht:
    identificatie = "".join(rng.choices("0123456789ABCDEFabcdef._-", k=rng.randint(1, 40)))
    return Heenbericht(
        zender=rng.choice(GEMEENTEN),
        ontvanger=rng.choice(AANBIEDERS),
        referentienummer=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        tijdstip=datetime(2026, 1, 1)
        + timedelta(seconds=rng.randint(0, 400 * 86400), microseconds=rng.randint(0, 999_999)),
        functie=rng.choice(FUNCTIES),
        payload=rng.randbytes(rng.randint(1, 4000)),
        bestandsnaam=rng.choice(["", f"JW301_{identificatie}.xml"]),
        referentienummer_bericht=rng.choice([None, identificatie]),
        applicatie_versie=rng.choice(["0001", "0004"]),
    )


def _reference_di01(h: Heenbericht) -> bytes:
    return soap_module._soap_sized(envelope_module.build_di01(h))


def _outcome(call: Callable[[], object]) -> object:
    """The result, or the exception's type and text (and code for an EnvelopeError)."""
    try:
        return call()
    except EnvelopeError as exc:
        return ("EnvelopeError", exc.code, exc.omschrijving, str(exc))
    except Exception as exc:  # any error must be the reference's own
        return (type(exc).__name__, str(exc))


def test_soap_di01_is_the_builders_bytes_on_many_random_messages() -> None:
    rng = random.Random(7301)
    for _ in range(600):
        h = _random_heen(rng)
        assert soap_di01(h) == _reference_di01(h)
    assert soap_module._DI01_TEMPLATES._cache.made(), "the random messages were filled in from templates"


def test_soap_di01_is_filled_in_without_the_builder(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(5)
    h = _random_heen(rng)
    expected = _reference_di01(h)
    soap_di01(h)  # the template for this party and functie
    monkeypatch.setattr(soap_module, "build_di01", lambda _h: pytest.fail("built instead of filled in"))
    assert soap_di01(h) == expected


FALLBACKS: list[dict[str, object]] = [
    {"referentienummer": "0E09A81F-64A0-4793-B946-D6538FB3F37E"},  # upper case: still a template
    {"referentienummer": "12345"},
    {"referentienummer": "a b"},
    {"referentienummer": "<&>"},
    {"referentienummer": "x" * 41},
    {"referentienummer": ""},
    {"referentienummer": "é"},
    {"referentienummer_bericht": "with space"},
    {"referentienummer_bericht": "a&b"},
    {"referentienummer_bericht": "y" * 41},
    {"referentienummer_bericht": ""},
    {"tijdstip": datetime(999, 12, 31, 23, 59, 59)},
    {"tijdstip": datetime(2026, 3, 29, 1, 30, tzinfo=UTC)},
    {"tijdstip": datetime(2026, 10, 25, 2, 30, tzinfo=timezone(timedelta(hours=5)))},
    {"payload": b""},
    {"payload": b"\x00" * 1_000_001},
    {"bestandsnaam": "met spatie.xml"},
    {"bestandsnaam": "a" * 256},
    {"bestandsnaam": 'quote".xml'},
    {"applicatie_versie": "1"},
    {"functie_subversie": "abcd"},
    {"functie": "F" * 31},
    {"functie": "00000000-0000-4000-8000-00000000d101"},  # the referentienummer marker
    {"zender": Systeem(organisatie="0637\x01")},
    {"zender": Systeem(organisatie="19991231235958")},  # the tijdstip marker: no template
    {"ontvanger": Systeem(organisatie="")},
    {"ontvanger": Systeem(organisatie="9" * 300)},
    {"payload": b"x" * (25 * 1024 * 1024 * 3 // 4 + 1)},  # IB007
]


@pytest.mark.parametrize(
    "changes", FALLBACKS, ids=[str(sorted(c))[:40] + str(i) for i, c in enumerate(FALLBACKS)]
)
def test_soap_di01_outside_the_safe_forms_is_the_builders_bytes_or_error(changes: dict[str, object]) -> None:
    h = dataclasses.replace(_random_heen(random.Random(1)), **changes)  # type: ignore[arg-type]
    expected = _outcome(lambda: _reference_di01(h))
    assert _outcome(lambda: soap_di01(h)) == expected
    assert _outcome(lambda: soap_di01(h)) == expected  # the second time the template (or None) is cached


def test_soap_di01_from_many_threads_is_the_builders_bytes() -> None:
    rng = random.Random(44)
    messages = [_random_heen(rng) for _ in range(200)]
    expected = [_reference_di01(h) for h in messages]
    results: dict[int, list[bytes]] = {}

    def work(n: int) -> None:
        results[n] = [soap_di01(h) for h in messages]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[n] == expected for n in range(4))


# --- parsing ---------------------------------------------------------------------------------------


def _reference_parse(data: bytes, require_uuid4: bool) -> object:
    """What the check-by-check reading gives for ``data``."""
    try:
        root = parse_xml(data)
    except XmlInputError as exc:
        refusal = EnvelopeError.of("RIN001", str(exc))
        return ("EnvelopeError", refusal.code, refusal.omschrijving, str(refusal))
    if root.tag not in (envelope_module.DI01_TAG, envelope_module.DU01_TAG):
        return _outcome(lambda: parse_envelope(root, require_uuid4=require_uuid4))
    return _outcome(lambda: envelope_module._parse_checked(root, require_uuid4))


def _retour(rng: random.Random) -> Retourbericht:
    h = _random_heen(rng)
    return Retourbericht(
        zender=h.ontvanger,
        ontvanger=h.zender,
        referentienummer=h.referentienummer,
        cross_refnummer=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        tijdstip=h.tijdstip,
        functie="JW302",
        payload=h.payload,
        referentienummer_bericht=h.referentienummer_bericht,
        cross_refnummer_bericht=rng.choice([None, "123456789012"]),
    )


def test_parse_envelope_reads_random_envelopes_as_the_reference_does() -> None:
    rng = random.Random(302)
    for n in range(300):
        data = render_di01(_random_heen(rng)) if n % 2 else render_du01(_retour(rng))
        for require in (True, False):
            expected = _reference_parse(data, require)
            assert isinstance(expected, Heenbericht | Retourbericht)
            assert parse_envelope(data, require_uuid4=require) == expected
            assert parse_envelope(etree.fromstring(data), require_uuid4=require) == expected


def test_a_valid_envelope_is_read_in_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    data = render_du01(_retour(random.Random(9)))
    expected = parse_envelope(data)
    monkeypatch.setattr(envelope_module, "_parse_checked", lambda *_: pytest.fail("fell back"))
    assert parse_envelope(data) == expected


def _base() -> bytes:
    h = Heenbericht(
        zender=GEMEENTEN[0],
        ontvanger=AANBIEDERS[0],
        referentienummer="0e09a81f-64a0-4793-b946-d6538fb3f37e",
        tijdstip=datetime(2026, 4, 1, 13, 25, 14),
        functie="JW301",
        payload=b"<Bericht/>",
        referentienummer_bericht="123456789012",
    )
    return render_di01(h)


def _du01() -> bytes:
    return render_du01(_retour(random.Random(3)))


TIJDSTIP = b"<StUF:tijdstipBericht>20260401132514<"
REF = b"<StUF:referentienummer>0e09a81f-64a0-4793-b946-d6538fb3f37e<"
MUTATIONS: list[tuple[bytes, bytes]] = [
    (TIJDSTIP, b"<StUF:tijdstipBericht>20261301132514<"),  # month 13
    (TIJDSTIP, b"<StUF:tijdstipBericht>20260230132514<"),  # 30 February
    (TIJDSTIP, b"<StUF:tijdstipBericht>20260401242514<"),  # hour 24
    (TIJDSTIP, b"<StUF:tijdstipBericht>20260401132560<"),  # second 60
    (TIJDSTIP, b"<StUF:tijdstipBericht>20260401132561<"),  # second 61
    (TIJDSTIP, b"<StUF:tijdstipBericht>00000401132514<"),  # year 0
    (TIJDSTIP, b"<StUF:tijdstipBericht>20260401<"),
    (TIJDSTIP, b"<StUF:tijdstipBericht>2026040113<"),
    (TIJDSTIP, b"<StUF:tijdstipBericht>20260401132514123<"),
    (TIJDSTIP, b"<StUF:tijdstipBericht>202604011325141<"),
    (TIJDSTIP, b"<StUF:tijdstipBericht>2026040113251<"),
    (TIJDSTIP, b"<StUF:tijdstipBericht>\xd9\xa2026040113251<"),  # an Arabic-Indic digit
    (TIJDSTIP, b"<StUF:tijdstipBericht> 20260401132514 <"),
    (REF, b"<StUF:referentienummer>12345<"),
    (REF, b"<StUF:referentienummer>0E09A81F-64A0-4793-B946-D6538FB3F37E<"),
    (REF, b"<StUF:referentienummer> 0e09a81f-64a0-4793-b946-d6538fb3f37e <"),
    (REF, b"<StUF:referentienummer>9c0f7b90-5c69-11e5-a837-0800200c9a66<"),
    (REF, b"<StUF:referentienummer><!-- c -->0e09a81f-64a0-4793-b946-d6538fb3f37e<"),
    (REF, b"<!-- c --><StUF:referentienummer>0e09a81f-64a0-4793-b946-d6538fb3f37e<"),
    (b'contentType="application/xml">', b'contentType="application/xml">@@'),
    (b'contentType="application/xml">', b'contentType="application/xml">  \n'),
    (b'contentType="application/xml">', b'contentType="application/xml">A'),
    (b"<StUF:berichtcode>Di01<", b"<StUF:berichtcode>999900006<"),
    (b"<StUF:berichtcode>Di01<", b"<StUF:berichtcode>Du01<"),
    (b"<GGK:applicatieVersie>0001<", b"<GGK:applicatieVersie>1<"),
    (b"<StUF:organisatie>0637<", b"<StUF:organisatie><?pi x?>0637<"),
    (b"<GGK:parameters>", b"<GGK:parameters><!-- first -->"),
    (b"</GGK:parameters>", b"<!-- last --></GGK:parameters>"),
    (b"<StUF:functie>JW301<", b"<StUF:functie> JW301 <"),
    (b"<GGK:referentienummerBericht>123456789012</GGK:referentienummerBericht>", b""),
    (b"envelopHeenbericht-ggk_Di01", b"envelopHeenbericht-ggk_Di02"),
    (b"<?xml", b"<!DOCTYPE x [<!ENTITY e 'x'>]><?xml"),
    (b"<GGK:stuurgegevens>", b"<GGK:stuurgegevens"),
]


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[str(i) for i in range(len(MUTATIONS))])
@pytest.mark.parametrize("require", [True, False])
def test_parse_envelope_refuses_or_reads_mutated_envelopes_as_the_reference(
    mutation: tuple[bytes, bytes], require: bool
) -> None:
    old, new = mutation
    base = _base()
    assert old in base
    data = base.replace(old, new, 1)
    assert _outcome(lambda: parse_envelope(data, require_uuid4=require)) == _reference_parse(data, require)


@pytest.mark.parametrize(
    "data",
    [
        b"<not-xml",
        b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e 'x'>]><x>&e;</x>",
        b"<Other xmlns='urn:x'/>",
        b"",
        b"<a>" * 100 + b"</a>" * 100,
    ],
)
def test_parse_envelope_refuses_foreign_documents_as_before(data: bytes) -> None:
    with pytest.raises(EnvelopeError) as caught:
        parse_envelope(data)
    assert caught.value.code == "RIN001"


def test_du01_cross_refnummer_not_uuid4_is_refused_as_the_reference() -> None:
    data = _du01()
    r = parse_envelope(data)
    assert isinstance(r, Retourbericht)
    bad = data.replace(r.cross_refnummer.encode(), b"123456789012")
    assert _outcome(lambda: parse_envelope(bad)) == _reference_parse(bad, True)
    assert _outcome(lambda: parse_envelope(bad, require_uuid4=False)) == _reference_parse(bad, False)


# --- parse_xml's parser per thread ---------------------------------------------------------------


def test_the_per_thread_parser_is_clean_after_a_refusal() -> None:
    good = b"<a><b>x</b></a>"
    for hostile in (b"<not-xml", b"<!DOCTYPE x [<!ENTITY e 'x'>]><x>&e;</x>", b"<a>" * 300 + b"</a>" * 300):
        with pytest.raises(XmlInputError):
            parse_xml(hostile)
        assert etree.tostring(parse_xml(good)) == good
    with pytest.raises(HostileXmlError):
        parse_xml(b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>")
    assert parse_xml(b"<x>&amp;</x>").text == "&"


def test_parse_xml_in_many_threads() -> None:
    docs = [f"<r><v>{n}</v></r>".encode() for n in range(300)]
    errors: list[str] = []

    def work() -> None:
        for n, doc in enumerate(docs):
            if parse_xml(doc).findtext("v") != str(n):
                errors.append(str(n))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
