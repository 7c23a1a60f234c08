"""Whether an iJw/iWmo payload is acceptable, and why not, in terms a transport can answer.

Exception tree::

    ValueError
    └── PayloadRejected        the payload is not a valid message of the expected kind

The GGk answers a payload that fails its XSD with a StUF ``Fo01`` carrying code
``StUF055``; a payload that is not even well-formed XML, or that is a different message
(wrong root or namespace), gets the same answer, so every refusal carries ``code`` for
the transport to copy. Messages of these exceptions end up in logs and operator screens:
they never contain a BSN (libxml2 quotes offending values in its messages, so every
nine-digit number is masked).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lxml import etree

from connectors.istandaard.law import Law
from connectors.istandaard.xml_names import law_of
from connectors.xml_input import XmlInputError, parse_xml
from connectors.xsd import SchemaValidationError, SchemaViolation, load_schema, violations

#: The GGk/StUF error code for "the payload does not validate against its XSD".
STUF_PAYLOAD_XSD_FAILURE = "StUF055"

_NINE_DIGITS = re.compile(r"(?<!\d)\d{5}(\d{4})(?!\d)")


def mask_bsns(text: str) -> str:
    """Replace every stand-alone nine-digit number by ``*****`` and its last four digits."""
    return _NINE_DIGITS.sub(r"*****\1", text)


def masked_violations(found: Sequence[SchemaViolation]) -> list[SchemaViolation]:
    """The violations with any BSN-like value in their messages masked."""
    return [SchemaViolation(v.line, v.path, mask_bsns(v.message)) for v in found]


class PayloadRejected(ValueError):  # noqa: N818 - the name the gateway codes against
    """An inbound payload is refused before any business rule looks at it.

    ``code`` is what the transport answers (``StUF055``), ``reason`` a human text without
    a BSN, ``violations`` the schema errors (empty when the document was not XML or not
    the expected message at all).
    """

    def __init__(
        self,
        reason: str,
        *,
        code: str = STUF_PAYLOAD_XSD_FAILURE,
        violations: Sequence[SchemaViolation] = (),
    ) -> None:
        self.code = code
        self.reason = mask_bsns(reason)
        self.violations = masked_violations(violations)
        super().__init__(f"{code}: {self.reason}")


def accept_payload(xml: bytes, number: int) -> tuple[Law, etree._Element]:
    """Parse untrusted ``xml`` as message ``number`` of either law and validate it.

    The law follows from the root's namespace; the document must then validate against
    the project's own XSD of that message. Any failure is a :class:`PayloadRejected`.
    """
    try:
        root = parse_xml(xml)
    except XmlInputError as exc:
        raise PayloadRejected(f"payload is not acceptable XML: {exc}") from exc
    law = law_of(root, number)
    if law is None:
        expected = " or ".join(f"{{{law.message_namespace(number)}}}Bericht" for law in Law)
        raise PayloadRejected(f"root element is {_describe(root)}, expected {expected}")
    path = law.schema_path(number)
    found = violations(load_schema(path), root)
    if found:
        first = mask_bsns(str(found[0]))
        more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
        raise PayloadRejected(
            f"{law.function_name(number)} does not validate against {path}: {first}{more}", violations=found
        )
    return law, root


def assert_rendered_valid(law: Law, number: int, root: etree._Element) -> None:
    """Validate a document the gateway built; raise :class:`SchemaValidationError` (BSNs masked).

    A failure here means the domain data broke a rule of the standard (a too-long name,
    a missing contact), so the message must not leave the gateway.
    """
    path = law.schema_path(number)
    found = violations(load_schema(path), root)
    if found:
        raise SchemaValidationError(path, masked_violations(found))


def _describe(root: etree._Element) -> str:
    # Keep the text short and free of payload content: only the qualified name.
    return repr(str(root.tag))[:200]
