"""JW301/WMO301 written as text equals the tree builder, byte for byte, errors included.

``render_toewijzing`` writes the document as a string (the fast path, bench 1) and falls
back to the element-by-element builder for anything that does not parse and validate.
These tests hold the two to the same bytes for every input lxml can build (both laws,
every optional field present or absent, several products, strings that need escaping),
and to the same exception for every input it cannot.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from datetime import date, time
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from connectors.istandaard import Law, parse_toewijzing, render_toewijzing
from connectors.istandaard import toewijzing as toewijzing_module
from connectors.istandaard.model import (
    Adres,
    BerichtHeader,
    Client,
    Contact,
    Naam,
    Omvang,
    Product,
    Relatie,
    ToegewezenProduct,
    Toewijzingsbericht,
)
from connectors.istandaard.toewijzing import (
    XML_DECLARATION,
    build_toewijzing,
    render_toewijzing_tree,
    serialize,
)
from connectors.istandaard.toewijzing_text import escape, render_text
from connectors.xsd import SchemaValidationError
from tests.connectors.test_istandaard_toewijzing import BOTH_LAWS, BSN, minimal_bericht, sample_bericht

T = TypeVar("T")

# Derandomized: the same examples on every run, so a failure reproduces and CI is stable.
EQUIVALENCE = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

#: Code points lxml refuses as text (XML 1.0 does not allow them either).
NOT_XML = [chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF)]
#: What escaping and encoding must get right: markup characters, quotes, CR/LF/tab,
#: spaces at either end, C1 controls, non-ASCII in the 2-, 3- and 4-byte forms of UTF-8.
AWKWARD = "&<>\"' \r\n\taZ09-.ÇöéÖ€’\u2028\x85\x7f\U0001f600"


def tree_bytes(bericht: Toewijzingsbericht) -> bytes:
    """What the tree builder serialises, valid or not (the reference for the text)."""
    return serialize(build_toewijzing(bericht))


def text_bytes(bericht: Toewijzingsbericht) -> bytes:
    return XML_DECLARATION + render_text(bericht).encode("utf-8")


def outcome(render: Callable[[Toewijzingsbericht], bytes], bericht: Toewijzingsbericht) -> tuple[str, object]:
    """The bytes, or the exception's type, text and (schema errors) violations."""
    try:
        return "ok", render(bericht)
    except SchemaValidationError as exc:
        return "SchemaValidationError", (str(exc), exc.violations)
    except (ValueError, TypeError, AttributeError) as exc:
        return type(exc).__name__, str(exc)


# --- strategies --------------------------------------------------------------------------------
# Built from hypothesis primitives only: nothing depends on state that differs between runs.

#: Any text lxml accepts, biased towards the awkward characters.
xml_text = st.text(
    alphabet=st.sampled_from(AWKWARD)
    | st.characters(exclude_categories=["Cs"], exclude_characters="".join(NOT_XML)),
    max_size=12,
)
#: Text a comment field accepts: something besides white space (line breaks included).
free_text = st.text(alphabet=st.sampled_from(AWKWARD), min_size=1, max_size=10).filter(lambda s: s.strip())
#: Text a name field accepts: as ``free_text`` but on one line (XSD ``.`` excludes CR and LF).
line_text = st.text(
    alphabet=st.sampled_from(AWKWARD.replace("\r", "").replace("\n", "")), min_size=1, max_size=10
).filter(lambda s: s.strip())
#: Also characters XML does not allow (and a lone surrogate): the tree builder must decide.
any_text = xml_text | st.text(alphabet=st.sampled_from([*AWKWARD, *NOT_XML, "\ud800"]), max_size=6)
codes = st.sampled_from(["01", "1", "2", "04", "12", "45", "02", "9"]) | xml_text
dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))
times = st.times() | st.just(time(12, 34, 56))


def opt(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.none() | strategy


def naam(text: st.SearchStrategy[str]) -> st.SearchStrategy[Naam]:
    return st.builds(
        Naam,
        achternaam=text,
        voorvoegsel=opt(text),
        voornamen=opt(text),
        voorletters=opt(text),
        naamgebruik=codes,
        partner_achternaam=opt(text),
        partner_voorvoegsel=opt(text),
    )


def adres(text: st.SearchStrategy[str]) -> st.SearchStrategy[Adres]:
    return st.builds(
        Adres,
        huisnummer=opt(st.integers(min_value=0, max_value=99999)),
        postcode=opt(text),
        straatnaam=opt(text),
        plaatsnaam=st.just("") | text,
        huisletter=opt(text),
        huisnummer_toevoeging=opt(text),
        landcode=st.just("") | st.just("NL") | text,
        aanduiding_woonadres=opt(st.sampled_from(["AB", "BY", "TO", "WW"]) | text),
    )


def contact(text: st.SearchStrategy[str]) -> st.SearchStrategy[Contact]:
    return st.builds(
        Contact,
        soort=codes,
        adres=opt(adres(text)),
        telefoon=opt(text),
        emailadres=opt(text),
        organisatie=opt(text),
        telefoon_landnummer=st.just("0031") | text,
        telefoon2=opt(text),
        telefoon2_landnummer=st.just("0031") | text,
        periode_begindatum=opt(dates),
        periode_einddatum=opt(dates),
    )


def product(text: st.SearchStrategy[str]) -> st.SearchStrategy[ToegewezenProduct]:
    return st.builds(
        ToegewezenProduct,
        toewijzingnummer=st.integers(min_value=-5, max_value=10**12),
        toewijzingsdatum=dates,
        toewijzingstijd=times,
        ingangsdatum=dates,
        product=opt(st.builds(Product, categorie=codes, code=opt(text))),
        einddatum=opt(dates),
        reden_wijziging=opt(codes),
        omvang=opt(
            st.builds(
                Omvang, volume=st.integers(min_value=-1, max_value=10**6), eenheid=codes, frequentie=codes
            )
        ),
        budget=opt(st.integers(min_value=-(10**9), max_value=10**12)),
        referentie_aanbieder=opt(text),
        commentaar=opt(text),
    )


def bericht(text: st.SearchStrategy[str]) -> st.SearchStrategy[Toewijzingsbericht]:
    relatie = st.builds(
        Relatie,
        nummer=text,
        soort=codes,
        naam=naam(text),
        contact=contact(text),
        volgorde=opt(st.integers(min_value=0, max_value=99)),
        geboortedatum=opt(dates),
        geboortedatum_gebruik=opt(codes),
        geslacht=opt(codes),
    )
    return st.builds(
        Toewijzingsbericht,
        header=st.builds(
            BerichtHeader,
            law=st.sampled_from(Law),
            afzender=st.just("0637") | text,
            ontvanger=st.just("99990001") | text,
            identificatie=text,
            dagtekening=dates,
            basisschema_xsd_versie=st.just("1.0.0") | text,
            bericht_xsd_versie=st.just("1.0.0") | text,
        ),
        client=st.builds(
            Client,
            bsn=st.just(BSN) | text,
            geboortedatum=dates,
            geslacht=codes,
            naam=naam(text),
            contacten=st.lists(contact(text), max_size=3).map(tuple),
            geboortedatum_gebruik=opt(codes),
            juridische_status=opt(codes),
            wettelijke_vertegenwoordiging=opt(codes),
            commentaar=opt(text),
            communicatie_vorm=opt(codes),
            communicatie_taal=opt(text),
            relaties=st.lists(relatie, max_size=2).map(tuple),
        ),
        producten=st.lists(product(text), max_size=4).map(tuple),
    )


@st.composite
def mostly_valid(draw: st.DrawFn) -> Toewijzingsbericht:
    """The sample message with awkward free text in names, address, contact and comments.

    Most of these validate, so the comparison covers the path that returns the text.
    """
    law = draw(st.sampled_from(Law))
    base = sample_bericht(law)
    text = line_text
    naam_ = dataclasses.replace(
        base.client.naam,
        achternaam=draw(text),
        voorvoegsel=draw(opt(st.sampled_from(["van", "de", "van den"]))),
        voornamen=draw(opt(text)),
        partner_achternaam=draw(opt(text)),
    )
    thuis, tijdelijk = base.client.contacten
    assert thuis.adres is not None
    thuis = dataclasses.replace(
        thuis,
        adres=dataclasses.replace(thuis.adres, straatnaam=draw(text), plaatsnaam=draw(text)),
        emailadres=draw(opt(text)),
        organisatie=draw(opt(text)),
    )
    producten = tuple(
        dataclasses.replace(p, commentaar=draw(opt(free_text)), referentie_aanbieder=draw(opt(text)))
        for p in base.producten[: draw(st.integers(min_value=1, max_value=3))]
    )
    client = dataclasses.replace(
        base.client,
        naam=naam_,
        contacten=(thuis, tijdelijk),
        commentaar=draw(opt(free_text)),
    )
    return dataclasses.replace(base, client=client, producten=producten)


# --- the text equals the tree -------------------------------------------------------------------


@BOTH_LAWS
def test_sample_and_minimal_messages_are_byte_identical(law: Law) -> None:
    for b in (sample_bericht(law), minimal_bericht(law)):
        assert text_bytes(b) == tree_bytes(b)
        assert render_toewijzing(b) == render_toewijzing_tree(b)


@EQUIVALENCE
@given(bericht(xml_text))
def test_text_equals_the_tree_for_anything_lxml_can_build(b: Toewijzingsbericht) -> None:
    # Valid or not: same elements, order, prefixes, empty-element forms and escaping.
    assert text_bytes(b) == tree_bytes(b)


@EQUIVALENCE
@given(mostly_valid())
def test_render_equals_the_tree_renderer_on_mostly_valid_messages(b: Toewijzingsbericht) -> None:
    assert outcome(render_toewijzing, b) == outcome(render_toewijzing_tree, b)


@EQUIVALENCE
@given(bericht(any_text))
def test_render_equals_the_tree_renderer_on_arbitrary_messages(b: Toewijzingsbericht) -> None:
    assert outcome(render_toewijzing, b) == outcome(render_toewijzing_tree, b)


def test_escaping_matches_lxml_for_every_character_it_accepts() -> None:
    for start in range(0, 0x110000, 4096):
        chars = "".join(
            chr(c) for c in range(start, min(start + 4096, 0x110000)) if not 0xD800 <= c <= 0xDFFF
        )
        chars = "".join(c for c in chars if c not in NOT_XML)
        if not chars:
            continue
        element = etree.Element("a")
        element.text = chars
        assert etree.tostring(element, encoding="UTF-8") == f"<a>{escape(chars)}</a>".encode()


def test_str_subclasses_render_as_their_characters() -> None:
    # Deliberately not a StrEnum: format() of this member is "Code.MAN", lxml stores "1".
    class Code(str, enum.Enum):  # noqa: UP042
        MAN = "1"

    b = sample_bericht(Law.JEUGDWET)
    b = dataclasses.replace(b, client=dataclasses.replace(b.client, geslacht=Code.MAN))
    assert text_bytes(b) == tree_bytes(b)
    assert b"<jw301:Geslacht>1</jw301:Geslacht>" in render_toewijzing(b)


# --- valid awkward text takes the fast path -----------------------------------------------------


@BOTH_LAWS
def test_awkward_valid_text_is_returned_by_the_fast_path(law: Law, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fallback(bericht: Toewijzingsbericht) -> bytes:
        raise AssertionError("the fast path fell back to the tree builder")

    base = sample_bericht(law)
    b = dataclasses.replace(
        base,
        client=dataclasses.replace(
            base.client,
            naam=dataclasses.replace(base.client.naam, achternaam=" Çelik & Zn <b> \"'€😀 "),
            commentaar="eerste regel\r\ntweede & <derde> ]]> regel\t",
        ),
    )
    expected = render_toewijzing_tree(b)
    monkeypatch.setattr(toewijzing_module, "render_toewijzing_tree", no_fallback)
    xml = render_toewijzing(b)
    assert xml == expected
    assert b"tweede &amp; &lt;derde&gt; ]]&gt; regel" in xml and b"&#13;\n" in xml
    assert parse_toewijzing(xml).client.commentaar == b.client.commentaar


# --- what cannot be rendered fails exactly as before --------------------------------------------


@pytest.mark.parametrize("bad", ["\x00", "\x01", "\x0b", "\x1f", "\ufffe", "\uffff", "\ud800"])
def test_characters_xml_does_not_allow_raise_the_tree_builders_error(bad: str) -> None:
    b = sample_bericht(Law.WMO)
    b = dataclasses.replace(b, client=dataclasses.replace(b.client, commentaar=f"{BSN} {bad}"))
    kind, message = outcome(render_toewijzing, b)
    assert (kind, message) == outcome(render_toewijzing_tree, b)
    assert kind in {"ValueError", "UnicodeEncodeError"}
    assert BSN not in str(message)
    with pytest.raises(ValueError) as caught:
        render_toewijzing(b)
    # Not chained to the fast path's failure, whose arguments hold the whole document.
    assert caught.value.__context__ is None and caught.value.__cause__ is None


def test_none_in_a_required_field_raises_the_tree_builders_error() -> None:
    b = sample_bericht(Law.JEUGDWET)
    b = dataclasses.replace(b, client=dataclasses.replace(b.client, geslacht=None))  # type: ignore[arg-type]
    kind, detail = outcome(render_toewijzing, b)
    assert kind == "SchemaValidationError"
    assert (kind, detail) == outcome(render_toewijzing_tree, b)


def test_schema_violation_keeps_path_and_message_without_the_bsn() -> None:
    b = sample_bericht(Law.JEUGDWET)
    b = dataclasses.replace(b, header=dataclasses.replace(b.header, afzender=BSN))
    with pytest.raises(SchemaValidationError) as caught:
        render_toewijzing(b)
    first = caught.value.violations[0]
    assert first.path == "/jw301:Bericht/jw301:Header/jw301:Afzender"
    assert "Afzender" in first.message and BSN not in first.message and BSN not in str(caught.value)
    assert outcome(render_toewijzing, b) == outcome(render_toewijzing_tree, b)
