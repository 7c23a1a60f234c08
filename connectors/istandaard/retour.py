"""The generic retour (302/306/308/316/318/320) of any iJw/iWmo 3.2 heenbericht.

Every retour is its heenbericht repeated: the same elements in the retour's namespace,
the retour's BerichtCode, the header extended with IdentificatieRetour, DagtekeningRetour
and XsdVersieRetour, and a ``RetourCodes`` element at the end of every *class* (a record
of the message, not a plain list wrapper such as ``StartProducten``). Which types are
classes is not listed here by hand: it comes from the message data the project's XSDs
are generated from (:mod:`schemas.istandaard_messages`), so the renderer, the parser
and the schemas cannot disagree.

What a retour contains follows IV028/IV032 and is chosen by the caller's codes:

* no codes at all: fully accepted -> the header only, without RetourCodes;
* ``header_codes`` only: the message is refused as a whole (``0001`` for an in-message
  rule, ``9056`` for a duplicate identification) -> the header only, with those codes;
* ``element_codes`` given (even empty): a cross-message rule failed somewhere -> the whole
  body comes back; every class gets its codes from ``element_codes`` (by path) or
  ``default_code``, the header ``header_codes`` (plus any ``element_codes["Header"]``) or
  ``0200``.

Classes are addressed by paths of local names from the body element down, with a 1-based
index on elements that may repeat: ``Client``, ``Client/StartProducten/StartProduct[1]``,
``Client/Relaties/Relatie[2]/Contact``, ``Antwoord``; the header is ``Header``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache

from lxml import etree

from connectors.istandaard.errors import PayloadRejected, assert_rendered_valid, mask_bsns
from connectors.istandaard.identify import identify_root
from connectors.istandaard.law import Law
from connectors.istandaard.model_inbound import RetourSamenvatting
from connectors.istandaard.retourcodes import ACCEPTED
from connectors.istandaard.toewijzing import read_header, serialize
from connectors.istandaard.xml_names import (
    XSD_VERSIE,
    Tags,
    build_retourcodes,
    build_xsd_versie,
    child,
    read_retourcodes,
    required_text,
    sub,
    tags,
    to_date,
)
from connectors.xml_input import XmlInputError, parse_xml
from connectors.xsd import load_schema, violations

#: Heenbericht -> its retour.
RETOUR_OF: dict[int, int] = {301: 302, 305: 306, 307: 308, 315: 316, 317: 318, 319: 320}
HEADER = "Header"


@dataclass(frozen=True, slots=True)
class _Child:
    type: str
    repeats: bool


@dataclass(frozen=True, slots=True)
class _Structure:
    """The record types of one retour: the body element, children per type, the classes."""

    body: str
    children: dict[str, dict[str, _Child]]
    classes: frozenset[str]


@cache
def _structure(retour: int) -> _Structure:
    # Imported here, not at module level: schemas.istandaard_basis imports
    # connectors.istandaard.law, so a module-level import would be circular whenever the
    # schema builder is imported first.
    from schemas.istandaard_messages import MESSAGES

    message = MESSAGES[retour]
    children = {
        name: {x.name: _Child(x.type, x.occurs in ("+", "*")) for x in fields if isinstance(x.type, str)}
        for name, fields in message.types.items()
    }
    classes = frozenset(
        name for name, fields in message.types.items() if any(x.name == "RetourCodes" for x in fields)
    )
    return _Structure(message.body, children, classes)


def _classes(body: etree._Element, structure: _Structure) -> Iterator[tuple[str, etree._Element]]:
    """(path, element) of every class under and including ``body``, in document order."""

    def walk(element: etree._Element, type_name: str, path: str) -> Iterator[tuple[str, etree._Element]]:
        if type_name in structure.classes:
            yield path, element
        fields = structure.children[type_name]
        seen: dict[str, int] = {}
        for node in element.iterchildren(tag=etree.Element):
            local = etree.QName(node).localname
            spec = fields.get(local)
            if spec is None or spec.type not in structure.children:
                continue  # a simple or basisschema (CDT_*) element, or RetourCodes itself
            seen[local] = seen.get(local, 0) + 1
            node_path = f"{path}/{local}[{seen[local]}]" if spec.repeats else f"{path}/{local}"
            yield from walk(node, spec.type, node_path)

    yield from walk(body, structure.body, structure.body)


def render_retour(
    heen_xml: bytes,
    *,
    identificatie_retour: str,
    dagtekening_retour: date,
    header_codes: Sequence[str] = (),
    element_codes: Mapping[str, Sequence[str]] | None = None,
    default_code: str = ACCEPTED,
) -> bytes:
    """The retour of the heenbericht ``heen_xml`` (301/305/307/315/317/319 of either law).

    The shape follows from the codes as the module docstring says. Raises
    :class:`PayloadRejected` when ``heen_xml`` is not a valid heenbericht,
    :class:`ValueError` for a path in ``element_codes`` that names no class of it, and
    :class:`connectors.xsd.SchemaValidationError` when a code is not a RetourCode.
    """
    law, number, heen = _accept(heen_xml, tuple(RETOUR_OF))
    retour = RETOUR_OF[number]
    t = tags(law, retour)
    heen_namespace = law.message_namespace(number)
    root = etree.Element(t.m["Bericht"], nsmap=t.nsmap)

    heen_header = child(heen, tags(law, number).m[HEADER])
    assert heen_header is not None  # required by the XSD
    header = sub(root, t.m[HEADER])
    _copy_children(heen_header, header, heen_namespace, t)
    berichtcode = child(header, t.m["BerichtCode"])
    assert berichtcode is not None  # required by the XSD
    berichtcode.text = law.bericht_code(retour)
    sub(header, t.m["IdentificatieRetour"], identificatie_retour)
    sub(header, t.m["DagtekeningRetour"], dagtekening_retour.isoformat())
    build_xsd_versie(header, t.m["XsdVersieRetour"], t, XSD_VERSIE, XSD_VERSIE)

    if element_codes is None:
        if header_codes:
            build_retourcodes(header, t, tuple(header_codes))
    else:
        structure = _structure(retour)
        heen_body = child(heen, tags(law, number).m[structure.body])
        assert heen_body is not None  # required by the heenbericht's XSD
        body = sub(root, t.m[structure.body])
        _copy_children(heen_body, body, heen_namespace, t)
        classes = list(_classes(body, structure))
        unknown = sorted(set(element_codes) - {HEADER} - {path for path, _ in classes})
        if unknown:
            raise ValueError(
                mask_bsns(f"element_codes names no class of this {law.function_name(number)}: {unknown}")
            )
        codes_of_header = _merged(header_codes, element_codes.get(HEADER, ()))
        build_retourcodes(header, t, codes_of_header or (ACCEPTED,))
        for path, element in classes:
            build_retourcodes(element, t, tuple(element_codes.get(path, ())) or (default_code,))

    assert_rendered_valid(law, retour, root)
    return serialize(root)


def parse_retour(xml: bytes) -> RetourSamenvatting:
    """Read any 302/306/308/316/318/320 of either law, validated against the project's XSD.

    ``element_codes`` holds the codes of every class in the body by path (empty for a
    header-only retour). Raises :class:`PayloadRejected` for anything else.
    """
    law, number, root = _accept(xml, tuple(RETOUR_OF.values()))
    t = tags(law, number)
    header = child(root, t.m[HEADER])
    assert header is not None  # required by the XSD
    structure = _structure(number)
    body = child(root, t.m[structure.body])
    element_codes = (
        {} if body is None else {path: read_retourcodes(e, t) for path, e in _classes(body, structure)}
    )
    return RetourSamenvatting(
        header=read_header(header, t),
        number=number,
        identificatie_retour=required_text(header, t.m["IdentificatieRetour"]),
        dagtekening_retour=to_date(required_text(header, t.m["DagtekeningRetour"])),
        header_codes=read_retourcodes(header, t),
        element_codes=element_codes,
    )


def class_paths(heen_xml: bytes) -> list[str]:
    """The paths of every class of the heenbericht ``heen_xml``, in document order.

    These are the keys :func:`render_retour` accepts in ``element_codes`` (besides
    ``Header``, which every message has). Raises :class:`PayloadRejected` when
    ``heen_xml`` is not a valid heenbericht.
    """
    law, number, heen = _accept(heen_xml, tuple(RETOUR_OF))
    structure = _structure(RETOUR_OF[number])
    body = child(heen, tags(law, number).m[structure.body])
    assert body is not None  # required by the XSD
    return [path for path, _ in _classes(body, structure)]


# --- helpers --------------------------------------------------------------------------


def _accept(xml: bytes, numbers: tuple[int, ...]) -> tuple[Law, int, etree._Element]:
    """Parse untrusted ``xml``, check it is one of ``numbers`` and valid against its own XSD."""
    try:
        root = parse_xml(xml)
    except XmlInputError as exc:
        raise PayloadRejected(f"payload is not acceptable XML: {exc}") from exc
    law, number = identify_root(root)
    if number not in numbers:
        expected = "/".join(str(n) for n in numbers)
        raise PayloadRejected(f"payload is a {law.function_name(number)}, expected one of {expected}")
    path = law.schema_path(number)
    found = violations(load_schema(path), root)
    if found:
        more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
        raise PayloadRejected(
            f"{law.function_name(number)} does not validate against {path}: {found[0]}{more}",
            violations=found,
        )
    return law, number, root


def _copy_children(source: etree._Element, target: etree._Element, heen_namespace: str, t: Tags) -> None:
    """Copy ``source``'s element children into ``target``, message names into the retour namespace.

    Comments, processing instructions and indentation are dropped: the content of these
    messages is elements or text, never mixed.
    """
    prefix = "{" + heen_namespace + "}"
    for node in source.iterchildren(tag=etree.Element):
        tag = str(node.tag)
        copy = etree.SubElement(target, t.m[tag[len(prefix) :]] if tag.startswith(prefix) else tag)
        if len(node):
            _copy_children(node, copy, heen_namespace, t)
        else:
            copy.text = node.text


def _merged(*groups: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(code for group in groups for code in group))
