"""The fictitious zorgaanbieders behind the mock GGk, and which AGB codes it routes.

All codes lie in the block 9999xxxx, which no real AGB code uses, so test traffic can
never be mistaken for a real provider's.
"""

from __future__ import annotations

import re

#: Named mock aanbieders (AGB code -> name). Any other 8-digit code starting 9999 is routed too.
MOCK_AANBIEDERS: dict[str, str] = {
    "99990001": "Jeugdhulp De Linde",
    "99990002": "Zorggroep Het Anker",
    "99990003": "Thuiszorg De Vlinder",
    "99990004": "Begeleiding Aan Huis",
    "99990005": "Jeugd-GGZ De Brug",
}

_MOCK_AGB = re.compile(r"^9999[0-9]{4}$")
_GEMEENTECODE = re.compile(r"^[0-9]{4}$")

#: ``zender/applicatie`` of every message a mock aanbieder sends.
AANBIEDER_APPLICATIE = "MockAanbieder"


def is_mock_agb(code: str) -> bool:
    """True for an AGB code the mock GGk can route: 8 digits starting with 9999."""
    return bool(_MOCK_AGB.match(code))


def is_gemeentecode(code: str) -> bool:
    """True for a 4-digit CBS gemeentecode; the mock accepts every gemeente."""
    return bool(_GEMEENTECODE.match(code))


def aanbieder_naam(agb: str) -> str:
    return MOCK_AANBIEDERS.get(agb, f"Mock aanbieder {agb}")
