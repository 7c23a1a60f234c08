"""The project's own XSDs agree with the published iJw/iWmo 3.2 and StUF-GGk schemas.

Three kinds of evidence:
- every published example validates against our schema for its message (the two known
  defective examples are rejected by ours *and* the published XSD, at the same element);
- the GGk example envelopes validate against our envelope schema;
- a differential test: each valid example is mutated in many small ways (an element
  removed, an invalid code, an overlong string, a bad date, an unknown element, an
  attribute dropped) and our schema must give the same verdict as the published one
  for every mutant. This is what shows that cardinalities, facets and code lists match,
  not just that the happy path passes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lxml import etree

from connectors.istandaard.law import Law
from connectors.xml_input import XmlInputError, parse_xml
from connectors.xsd import load_schema, violations
from schemas import SCHEMA_DIR

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"
ISTANDAARDEN = REFERENCE / "istandaarden"
GGK = REFERENCE / "ggk"

pytestmark = pytest.mark.skipif(
    not REFERENCE.is_dir(),
    reason=f"published reference schemas not found at {REFERENCE} (needed by the conformance tests)",
)

IJW_MESSAGES = [str(n) for n in (301, 302, 305, 306, 307, 308, 315, 316, 317, 318, 319, 320, 323, 325)]
IWMO_MESSAGES = [str(n) for n in (301, 305, 307, 315, 317, 319, 323)]  # no published iWmo retours
# (standard folder, example stem) of every published example
EXAMPLES = [("ijw-3.2", f"jw{n}") for n in IJW_MESSAGES] + [("iwmo-3.2", f"wmo{n}") for n in IWMO_MESSAGES]
# Known defects listed in the reference README, with the element the error must name.
DEFECTIVE = {("ijw-3.2", "jw315"): "ToewijzingEinddatum", ("ijw-3.2", "jw318"): "RetourCode"}
VALID_EXAMPLES = [e for e in EXAMPLES if e not in DEFECTIVE]

GGK_ENVELOPE_OWN = "ggk/ggk-envelope.xsd"
GGK_ENVELOPE_PUBLISHED = "ggk0310_21/ggkberichten/ggk0310_msg.xsd"
GGK_VALID_EXAMPLES = ["ggk_Di01.xml", "ggk_Du01.xml", "envelopHeenbericht-ggk_Di01_v21.xml"]


def _example(folder: str, stem: str) -> etree._Element:
    return parse_xml((ISTANDAARDEN / folder / "examples" / f"{stem}.xml").read_bytes())


def _own(folder: str, stem: str) -> etree.XMLSchema:
    return load_schema(f"{folder}/{stem}.xsd")


def _published(folder: str, stem: str) -> etree.XMLSchema:
    return load_schema(f"{folder}/{stem}.xsd", base_dir=ISTANDAARDEN)


@pytest.mark.parametrize(("folder", "stem"), VALID_EXAMPLES)
def test_published_example_validates_against_our_schema(folder: str, stem: str) -> None:
    doc = _example(folder, stem)
    assert violations(_published(folder, stem), doc) == [], "sanity: the published XSD accepts its example"
    assert [str(v) for v in violations(_own(folder, stem), doc)] == []


@pytest.mark.parametrize(("folder", "stem"), sorted(DEFECTIVE))
def test_known_defective_example_is_rejected_naming_the_element(folder: str, stem: str) -> None:
    doc = _example(folder, stem)
    offending = DEFECTIVE[(folder, stem)]
    for schema in (_own(folder, stem), _published(folder, stem)):
        found = violations(schema, doc)
        assert found, "the defective example must be rejected"
        assert all(offending in v.path or offending in v.message for v in found), [str(v) for v in found]


@pytest.mark.parametrize("name", GGK_VALID_EXAMPLES)
def test_ggk_example_envelope_validates_against_our_schema(name: str) -> None:
    doc = parse_xml((GGK / "examples" / name).read_bytes())
    assert violations(load_schema(GGK_ENVELOPE_PUBLISHED, base_dir=GGK), doc) == []
    assert [str(v) for v in violations(load_schema(GGK_ENVELOPE_OWN), doc)] == []


def test_malformed_ggk_example_is_rejected_by_the_parser() -> None:
    data = (GGK / "examples" / "envelopRetourbericht-ggk_Du01-v21.xml").read_bytes()
    with pytest.raises(XmlInputError, match="not well-formed"):
        parse_xml(data)


# --- differential testing -------------------------------------------------------------

Mutation = Callable[[etree._Element], None]

_BAD_VALUES = {
    "invalid_code": "ZZ",  # not in any code list, not a number, not a date
    "overlong": "X" * 300,  # longer than every maxLength in the standards
    "bad_date": "2027-02-30",
    "blank": " ",
}


def _set_text(value: str) -> Mutation:
    def mutate(element: etree._Element) -> None:
        element.text = value

    return mutate


def _remove(element: etree._Element) -> None:
    parent = element.getparent()
    assert parent is not None
    parent.remove(element)


def _insert_unknown_after(element: etree._Element) -> None:
    namespace = etree.QName(element).namespace
    unknown = etree.Element(f"{{{namespace}}}Onbekend" if namespace else "Onbekend")
    unknown.text = "1"
    element.addnext(unknown)


def _elements(doc: etree._Element) -> list[etree._Element]:
    return [e for e in doc.iter() if isinstance(e.tag, str)]


def _label(element: etree._Element) -> str:
    names = [etree.QName(e).localname for e in (*reversed(list(element.iterancestors())), element)]
    return "/".join(names)


def _mutants(doc: etree._Element) -> Iterator[tuple[str, etree._Element]]:
    """Every single-point mutant of ``doc``, labelled by element path and mutation (never by value).

    Elements are addressed by their position in document order, which a deep copy keeps.
    """
    originals = _elements(doc)
    for index, original in enumerate(originals):
        mutations: dict[str, Mutation] = {}
        if index > 0:
            mutations.update({"remove": _remove, "unknown_after": _insert_unknown_after})
        if len(original) == 0:
            mutations.update({name: _set_text(value) for name, value in _BAD_VALUES.items()})
        for attribute in original.attrib:
            name = str(attribute)
            mutations[f"drop @{name}"] = _drop_attribute(name)
        for name, mutation in mutations.items():
            mutant = copy.deepcopy(doc)
            mutation(_elements(mutant)[index])
            yield f"{_label(original)} {name}", mutant


def _drop_attribute(attribute: str) -> Mutation:
    def mutate(element: etree._Element) -> None:
        del element.attrib[attribute]

    return mutate


def _differences(
    doc: etree._Element, own: etree.XMLSchema, published: etree.XMLSchema
) -> tuple[list[str], int]:
    """Mutants on which the two schemas disagree, and how many mutants were rejected by both."""
    disagreements: list[str] = []
    rejected = 0
    for label, mutant in _mutants(doc):
        own_ok, published_ok = own.validate(mutant), published.validate(mutant)
        if own_ok != published_ok:
            disagreements.append(f"{label}: ours {'accepts' if own_ok else 'rejects'}")
        rejected += not published_ok
    return disagreements, rejected


@pytest.mark.parametrize(("folder", "stem"), VALID_EXAMPLES)
def test_our_schema_gives_the_published_verdict_on_mutants(folder: str, stem: str) -> None:
    doc = _example(folder, stem)
    disagreements, rejected = _differences(doc, _own(folder, stem), _published(folder, stem))
    assert disagreements == []
    assert rejected > 10, "the mutations must actually produce invalid documents"


@pytest.mark.parametrize("name", ["ggk_Di01.xml", "ggk_Du01.xml"])
def test_our_envelope_gives_the_published_verdict_on_mutants(name: str) -> None:
    doc = parse_xml((GGK / "examples" / name).read_bytes())
    own, published = load_schema(GGK_ENVELOPE_OWN), load_schema(GGK_ENVELOPE_PUBLISHED, base_dir=GGK)
    disagreements, rejected = _differences(doc, own, published)
    assert disagreements == []
    assert rejected > 10


# --- StUF control messages (no published examples: built here) ------------------------

_STUF = "http://www.egem.nl/StUF/StUF0301"


def _control_message(kind: str, with_body: bool) -> etree._Element:
    def sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
        child = etree.SubElement(parent, f"{{{_STUF}}}{name}")
        child.text = text
        return child

    root = etree.Element(f"{{{_STUF}}}{kind}Bericht", nsmap={"StUF": _STUF})
    stuurgegevens = sub(root, "stuurgegevens")
    sub(stuurgegevens, "berichtcode", kind)
    for role, organisatie in (("zender", "0637"), ("ontvanger", "99990001")):
        systeem = sub(stuurgegevens, role)
        sub(systeem, "organisatie", organisatie)
        sub(systeem, "applicatie", "Gateway")
    sub(stuurgegevens, "referentienummer", "b6e9f182-bc44-4f27-9863-9a5ccc1e1cf0")
    sub(stuurgegevens, "tijdstipBericht", "20250102030405")
    sub(stuurgegevens, "crossRefnummer", "9c0f7b90-5c69-11e5-a837-0800200c9a66")
    if with_body:
        body = sub(root, "body")
        sub(body, "code", "StUF058")
        sub(body, "plek", "server")
        sub(body, "omschrijving", "Proces voor afhandelen bericht geeft fout")
        sub(body, "details", "retry later")
        sub(sub(body, "detailsXML"), "anything").text = "x"
    return root


@pytest.mark.parametrize(("kind", "with_body"), [("Bv03", False), ("Fo01", True), ("Fo03", True)])
def test_control_messages_match_published_stuf(kind: str, with_body: bool) -> None:
    doc = _control_message(kind, with_body)
    own, published = load_schema("ggk/stuf0301-ggk.xsd"), load_schema("0301/stuf0301.xsd", base_dir=GGK)
    assert violations(published, doc) == [], "sanity: the built message is valid StUF"
    assert [str(v) for v in violations(own, doc)] == []
    disagreements, rejected = _differences(doc, own, published)
    assert disagreements == []
    assert rejected > 5


# --- the facts themselves: every type, facet, code and cardinality ---------------------
#
# Mutants only probe the values that appear in the examples; a code missing from one of
# our code lists would go unnoticed. So the normalised facts of each of our XSDs are also
# compared with the published one (documentation and layout ignored).

_XS = "{http://www.w3.org/2001/XMLSchema}"
Facts = dict[str, object]


def _local(qname: str | None) -> str | None:
    return qname.rsplit(":", 1)[-1] if qname else qname


def _restriction_facts(simple_type: etree._Element) -> tuple[str | None, frozenset[tuple[str, str | None]]]:
    restriction = simple_type.find(f"{_XS}restriction")
    assert restriction is not None
    facets = frozenset(
        (etree.QName(facet).localname, facet.get("value"))
        for facet in restriction
        if isinstance(facet.tag, str) and facet.tag != f"{_XS}annotation"
    )
    return _local(restriction.get("base")), facets


def _schema_facts(path: Path) -> Facts:
    root = etree.parse(str(path), etree.XMLParser(no_network=True, resolve_entities=False)).getroot()
    facts: Facts = {"targetNamespace": root.get("targetNamespace")}
    for node in root:
        kind = etree.QName(node).localname if isinstance(node.tag, str) else None
        if kind == "simpleType":
            facts[f"simpleType {node.get('name')}"] = _restriction_facts(node)
        elif kind == "element":
            facts[f"element {node.get('name')}"] = _local(node.get("type"))
        elif kind == "complexType":
            sequence = node.find(f"{_XS}sequence")
            assert sequence is not None
            facts[f"complexType {node.get('name')}"] = [
                (
                    e.get("name"),
                    _local(e.get("type")) if e.get("type") else _restriction_facts(e[-1]),
                    e.get("minOccurs", "1"),
                    e.get("maxOccurs", "1"),
                )
                for e in sequence
                if e.tag == f"{_XS}element"
            ]
    return facts


_PUBLISHED_XSDS = [("ijw-3.2", "basisschema"), ("iwmo-3.2", "basisschema")]
_PUBLISHED_XSDS += [("ijw-3.2", f"jw{n}") for n in IJW_MESSAGES]
_PUBLISHED_XSDS += [("iwmo-3.2", f"wmo{n}") for n in IWMO_MESSAGES]


@pytest.mark.parametrize(("folder", "stem"), _PUBLISHED_XSDS)
def test_our_xsd_states_the_same_facts_as_the_published_one(folder: str, stem: str) -> None:
    ours = _schema_facts(SCHEMA_DIR / folder / f"{stem}.xsd")
    published = _schema_facts(ISTANDAARDEN / folder / f"{stem}.xsd")
    differing = sorted(k for k in ours.keys() | published.keys() if ours.get(k) != published.get(k))
    assert differing == []


@pytest.mark.parametrize("number", [302, 306, 308, 316, 318, 320, 325])
def test_iwmo_retour_mirrors_the_published_ijw_retour(number: int, tmp_path: Path) -> None:
    """No iWmo retour XSD is published: ours must equal the iJw one with iWmo namespaces and codes."""
    text = (ISTANDAARDEN / "ijw-3.2" / f"jw{number}.xsd").read_text(encoding="utf-8")
    jw_code, wmo_code = Law.JEUGDWET.bericht_code(number), Law.WMO.bericht_code(number)
    assert text.count(f'value="{jw_code}"') == 1
    text = (
        text.replace("/ijw/3_2/", "/iwmo/3_2/")
        .replace(f"/jw{number}/", f"/wmo{number}/")
        .replace(f'value="{jw_code}"', f'value="{wmo_code}"')
    )
    translated = tmp_path / f"wmo{number}.xsd"
    translated.write_text(text, encoding="utf-8")
    ours = _schema_facts(SCHEMA_DIR / "iwmo-3.2" / f"wmo{number}.xsd")
    published = _schema_facts(translated)
    differing = sorted(k for k in ours.keys() | published.keys() if ours.get(k) != published.get(k))
    assert differing == []
