"""Namespaces, schema paths and the message names of jz0100."""

from __future__ import annotations

JZ_NS = "http://www.stufstandaarden.nl/koppelvlak/jz0100"
STUF_NS = "http://www.egem.nl/StUF/StUF0301"
ZKN_NS = "http://www.egem.nl/StUF/sector/zkn/0310"
BG_NS = "http://www.egem.nl/StUF/sector/bg/0310"
XMIME_NS = "http://www.w3.org/2005/05/xmlmime"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {"JZ": JZ_NS, "StUF": STUF_NS, "ZKN": ZKN_NS, "BG": BG_NS, "xmime": XMIME_NS, "xsi": XSI_NS}

#: The project's own schemas (under ``schemas/``): koppelvlak messages and StUF answers.
SCHEMA_JZ = "corv/jz0100.xsd"
SCHEMA_STUF = "corv/stuf0301.xsd"

DI01_MESSAGES = (
    "vtoDi01",
    "zorgmeldingTerugkoppelingDi01",
    "notificatieDi01",
    "notificatiejrDi01",
    "zorgmeldingDi01",
)
ANSWER_MESSAGES = ("Bv01", "Fo01", "Fo03")
