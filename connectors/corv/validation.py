"""Validation against the project's own jz0100 XSDs, mapped to :class:`StufError`."""

from __future__ import annotations

import re

from lxml import etree

from connectors.corv.errors import StufError
from connectors.corv.model import STUF_XSD_ERROR
from connectors.xsd import load_schema, violations

# Values quoted in libxml2 messages may be personal data (a BSN, a name): "The value
# '123' is not accepted…", "'abc' is not a valid value of…". Element names and facets stay.
_VALUE = re.compile(r"([Vv]alue) '[^']*'")
_LEADING_VALUE = re.compile(r"'[^'{]*' is not a valid value")


def redact(message: str) -> str:
    """libxml2's message without the offending values."""
    return _LEADING_VALUE.sub("'…' is not a valid value", _VALUE.sub(r"\1 '…'", message))


def validate(document: etree._Element, schema_path: str) -> None:
    """Raise :class:`StufError` (StUF055) unless ``document`` validates against ``schema_path``."""
    found = violations(load_schema(schema_path), document)
    if found:
        first = found[0]
        more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
        raise StufError(
            f"XSD: line {first.line}: {redact(first.message)}"[:190] + more,
            code=STUF_XSD_ERROR,
            details="; ".join(f"line {v.line}: {redact(v.message)}" for v in found[:5]),
        )
