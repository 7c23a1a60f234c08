"""iJw 3.2 and iWmo 3.2: one implementation, parameterised by :class:`Law`.

Public surface: render and parse the 301 toewijzing and its 302 retour; anything that is
not a valid message of the expected kind raises :class:`PayloadRejected`.
"""

from connectors.istandaard.errors import PayloadRejected
from connectors.istandaard.law import Law
from connectors.istandaard.toewijzing import parse_toewijzing, render_toewijzing
from connectors.istandaard.toewijzing_retour import parse_toewijzing_retour, render_toewijzing_retour

__all__ = [
    "Law",
    "PayloadRejected",
    "parse_toewijzing",
    "parse_toewijzing_retour",
    "render_toewijzing",
    "render_toewijzing_retour",
]
