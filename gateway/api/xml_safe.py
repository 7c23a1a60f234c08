"""Text the chain's XML messages can carry, checked where the back-office's JSON comes in.

JSON may hold characters XML 1.0 cannot: control characters (U+0000-U+001F other than
tab, line feed and carriage return), U+FFFE/U+FFFF and lone surrogates. Every free-text
field of a decision, a change or a VTO ends up in an iStandaard, iPgb, iEb or jz0100
message, so such a character is refused at the door - a 422 naming the field and the code
point (never the text: it may be personal data) - rather than failing later in the
renderer as an unexpected error.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, field_validator

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def check_xml_text(value: str) -> str:
    found = _NOT_XML.search(value)
    if found is not None:
        raise ValueError(f"character U+{ord(found.group()):04X} cannot be carried in an XML message")
    return value


class XmlSafeModel(BaseModel):
    """Base of every API input model: each string field (and string in a list) is XML text."""

    @field_validator("*", mode="after")
    @classmethod
    def _xml_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            check_xml_text(value)
        elif isinstance(value, list | tuple):
            for item in value:
                if isinstance(item, str):
                    check_xml_text(item)
        return value
