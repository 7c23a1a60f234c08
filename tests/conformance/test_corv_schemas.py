"""The CORV messages the gateway sends and receives agree with the published jz0100 1.0.9 XSDs.

- every generated ``vtoDi01`` and ``zorgmeldingTerugkoppelingDi01`` (unborn child, several
  children, several belanghebbenden with roles, urgentie hoog/laag, all four document
  types) validates against the published XSDs and against ours;
- every inbound message the mock renders (notificatie series and ambtshalve,
  notificatiejr 01-13, zorgmelding) and every answer (Bv01/Fo01/Fo03) validates against both;
- structure: every element path of every message has the same cardinality, nillability,
  fixed value, facets, code list and attributes in our schema as in the published one;
- differential: single-point mutants of each message (an element removed, duplicated,
  an unknown element, a bad value, an attribute dropped) get the same verdict from our
  schema and the published one.

The published set is big; ``load_schema`` compiles it once per session (per thread).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from connectors.corv import (
    Fout,
    NotificatieResultaat,
    NotificatieStatus,
    Urgentie,
    bv01,
    fo01,
    fo03,
    parse_message,
    render_answer,
    render_terugkoppeling,
    render_vto_bytes,
)
from connectors.xsd import load_schema
from mocks.corv import messages
from tests.corv_samples import TERUGKOPPELING_VARIANTS, VTO_VARIANTS, vto

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"
CORV = (REFERENCE / "corv" / "jz0100-1.0.9").resolve()
PUBLISHED_MESSAGES = "jz0100_msg_jzberichten_resolved2025.xsd"
PUBLISHED_STUF = "jz0100_msg_stuf_jzberichten_resolved2025.xsd"

pytestmark = pytest.mark.skipif(
    not CORV.is_dir(),
    reason=f"published jz0100 schemas not found at {CORV} (needed by the conformance tests)",
)

HUB, GEMEENTE = "00000099000000001000", "00000099000000000637"


def _schemas(root: etree._Element) -> tuple[etree.XMLSchema, etree.XMLSchema]:
    """(ours, published) for a message root."""
    if etree.QName(root).localname.endswith("Bericht"):
        return load_schema("corv/stuf0301.xsd"), load_schema(PUBLISHED_STUF, base_dir=CORV)
    return load_schema("corv/jz0100.xsd"), load_schema(PUBLISHED_MESSAGES, base_dir=CORV)


def _last_error(schema: etree.XMLSchema) -> str:
    log: Any = schema.error_log
    return str(log.last_error)


def _outbound() -> dict[str, bytes]:
    docs = {f"vto-{name}": render_vto_bytes(v) for name, v in VTO_VARIANTS.items()}
    docs["vto-hoog-and-laag"] = render_vto_bytes(vto(urgentie=Urgentie.HOOG))
    docs.update(
        {f"terugkoppeling-{name}": render_terugkoppeling(t) for name, t in TERUGKOPPELING_VARIANTS.items()}
    )
    return docs


def _inbound() -> dict[str, bytes]:
    docs: dict[str, bytes] = {}
    for step in messages.series(messages.SeriesRequest(zaak_identificatie="ZAAK-2026-0001")):
        docs[f"notificatie-{step.status.value}"] = messages.notificatie(step, HUB, GEMEENTE)
    for resultaat in NotificatieResultaat:
        request = messages.NotificatieRequest(status=NotificatieStatus.ZAAK_AFGEROND, resultaat=resultaat)
        docs[f"notificatie-ambtshalve-{resultaat}"] = messages.notificatie(request, HUB, GEMEENTE)
    for soort in ("01", "07", "13"):
        docs[f"notificatiejr-{soort}"] = messages.notificatiejr(
            messages.NotificatiejrRequest(toezichtsoort=soort), HUB, GEMEENTE
        )
    docs["zorgmelding"] = messages.zorgmelding(messages.ZorgmeldingRequest(), HUB, GEMEENTE)
    received = parse_message(docs["zorgmelding"]).stuurgegevens
    docs["bv01"] = render_answer(bv01(received))
    docs["fo01"] = render_answer(fo01(received, Fout(code="StUF055", omschrijving="XSD", details="regel 3")))
    docs["fo03"] = render_answer(fo03(received, Fout(code="StUF016", omschrijving="dubbel")))
    return docs


OUTBOUND = _outbound()
INBOUND = _inbound()


@pytest.mark.parametrize("name", sorted(OUTBOUND))
def test_outbound_message_validates_against_published_and_own(name: str) -> None:
    root = etree.fromstring(OUTBOUND[name])
    own, published = _schemas(root)
    assert published.validate(root), _last_error(published)
    assert own.validate(root), _last_error(own)


@pytest.mark.parametrize("name", sorted(INBOUND))
def test_inbound_message_of_the_mock_validates_against_published_and_own(name: str) -> None:
    root = etree.fromstring(INBOUND[name])
    own, published = _schemas(root)
    assert published.validate(root), _last_error(published)
    assert own.validate(root), _last_error(own)


Mutation = Callable[[etree._Element], None]
_BAD_VALUES = {"invalid_code": "ZZ", "overlong": "X" * 1100, "blank": " "}


def _set_text(value: str) -> Mutation:
    def mutate(element: etree._Element) -> None:
        element.text = value

    return mutate


def _remove(element: etree._Element) -> None:
    parent = element.getparent()
    assert parent is not None
    parent.remove(element)


def _duplicate(element: etree._Element) -> None:
    element.addnext(copy.deepcopy(element))


def _unknown_after(element: etree._Element) -> None:
    namespace = etree.QName(element).namespace
    element.addnext(etree.Element(f"{{{namespace}}}onbekend"))


def _drop(attribute: str) -> Mutation:
    def mutate(element: etree._Element) -> None:
        del element.attrib[attribute]

    return mutate


def _elements(doc: etree._Element) -> list[etree._Element]:
    return [e for e in doc.iter() if isinstance(e.tag, str)]


def _mutants(doc: etree._Element) -> Iterator[tuple[str, etree._Element]]:
    """Single-point mutants, labelled by element path and mutation (never by value)."""
    for index, original in enumerate(_elements(doc)):
        mutations: dict[str, Mutation] = {}
        if index > 0:
            mutations.update({"remove": _remove, "duplicate": _duplicate, "unknown_after": _unknown_after})
        if len(original) == 0:
            mutations.update({name: _set_text(value) for name, value in _BAD_VALUES.items()})
        mutations.update({f"drop @{a!s}": _drop(str(a)) for a in original.attrib})
        label = "/".join(
            etree.QName(e).localname for e in (*reversed(list(original.iterancestors())), original)
        )
        for name, mutation in mutations.items():
            mutant = copy.deepcopy(doc)
            mutation(_elements(mutant)[index])
            yield f"{label} {name}", mutant


DIFFERENTIAL = {
    "vto": render_vto_bytes(
        vto(
            kinderen=VTO_VARIANTS["several-children"].kinderen,
            belanghebbenden=VTO_VARIANTS["several-belanghebbenden"].belanghebbenden,
            documenten=VTO_VARIANTS["all-document-types"].documenten[:2],
        )
    ),
    "terugkoppeling": OUTBOUND["terugkoppeling-with-jeugdige-and-ouders"],
    "notificatie": INBOUND["notificatie-Zaak afgerond"],
    "notificatiejr": INBOUND["notificatiejr-07"],
    "zorgmelding": INBOUND["zorgmelding"],
    "bv01": INBOUND["bv01"],
    "fo03": INBOUND["fo03"],
}


@pytest.mark.parametrize("name", sorted(DIFFERENTIAL))
def test_our_schema_gives_the_published_verdict_on_mutants(name: str) -> None:
    doc = etree.fromstring(DIFFERENTIAL[name])
    own, published = _schemas(doc)
    disagreements, rejected, total = [], 0, 0
    for label, mutant in _mutants(doc):
        own_ok, published_ok = own.validate(mutant), published.validate(mutant)
        total += 1
        rejected += not published_ok
        if own_ok != published_ok:
            disagreements.append(f"{label}: ours {'accepts' if own_ok else 'rejects'}")
    assert disagreements == []
    assert rejected > total // 4, "the mutations must actually produce invalid documents"


# --- structure: every element path with its cardinality, nillability, facets, code lists and attributes


def _effective_facets(simple: Any) -> tuple[tuple[str, object], ...]:
    """All facets along the derivation chain (through simple-content complex types)."""
    found: set[tuple[str, object]] = set()
    while simple is not None:
        if simple.is_complex():
            if not simple.has_simple_content():
                return ()
            simple = simple.content
            continue
        for key, facet in (getattr(simple, "facets", None) or {}).items():
            if key is None:
                continue
            local = key.split("}")[1]
            if local == "enumeration":
                found.add(("enumeration", tuple(facet.enumeration)))
            elif local == "pattern":
                found.add(("pattern", tuple(facet.regexps)))
            else:
                found.add((local, str(facet.value)))
        if simple.name and simple.name.startswith("{http://www.w3.org/2001/XMLSchema}"):
            found.add(("builtin", simple.local_name))
            break
        simple = simple.base_type
    return tuple(sorted(found, key=str))


def _structure(element: Any, path: str = "") -> list[tuple[object, ...]]:
    import xmlschema.validators as v

    here = f"{path}/{etree.QName(element.name).localname}"
    kind = element.type
    attributes = tuple(
        sorted(
            (str(n), a.use, a.fixed, a.default, _effective_facets(a.type))
            for n, a in getattr(kind, "attributes", {}).items()
            if n
        )
    )
    rows: list[tuple[object, ...]] = [
        (
            here,
            element.min_occurs,
            element.max_occurs,
            element.nillable,
            element.fixed,
            _effective_facets(kind),
            attributes,
        )
    ]

    def group(model: Any, at: str) -> None:
        rows.append((at, "group", model.model, model.min_occurs, model.max_occurs))
        for particle in model:
            if isinstance(particle, v.XsdGroup):
                group(particle, f"{at}/({particle.model})")
            elif isinstance(particle, v.XsdAnyElement):
                rows.append((at, "any", particle.min_occurs, particle.max_occurs, particle.process_contents))
            else:
                rows.extend(_structure(particle, at))

    if kind.is_complex() and not kind.has_simple_content():
        group(kind.content, here)
    return rows


@pytest.fixture(scope="module")
def both_models() -> tuple[Any, Any]:
    import xmlschema

    from schemas import SCHEMA_DIR

    return xmlschema.XMLSchema(str(SCHEMA_DIR / "corv" / "jz0100.xsd")), xmlschema.XMLSchema(
        str(CORV / PUBLISHED_MESSAGES)
    )


STUF_NS_BRACED = "{http://www.egem.nl/StUF/StUF0301}"
ROOTS = [
    "vtoDi01",
    "zorgmeldingTerugkoppelingDi01",
    "notificatieDi01",
    "notificatiejrDi01",
    "zorgmeldingDi01",
    f"{STUF_NS_BRACED}Bv01Bericht",
    f"{STUF_NS_BRACED}Fo01Bericht",
    f"{STUF_NS_BRACED}Fo03Bericht",
]


@pytest.mark.parametrize("root", ROOTS)
def test_our_schema_has_the_published_structure(root: str, both_models: tuple[Any, Any]) -> None:
    own, published = (
        m.maps.elements[root] if root.startswith("{") else m.elements[root] for m in both_models
    )
    ours, theirs = _structure(own), _structure(published)
    assert len(ours) > 10
    missing = [row for row in theirs if row not in ours]
    extra = [row for row in ours if row not in theirs]
    assert (missing, extra) == ([], [])
