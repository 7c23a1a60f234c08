"""iJw 3.2 and iWmo 3.2: one implementation, parameterised by :class:`Law`.

Public surface: render and parse the 301 toewijzing and its 302 retour; anything that is
not a valid message of the expected kind raises :class:`PayloadRejected`. Also: 305/307
start/stop zorg, 315/317 verzoeken and the 319 antwoord, and :func:`identify` to tell
which message (and law) a payload is.
"""

from connectors.istandaard.antwoord import parse_antwoord, render_antwoord
from connectors.istandaard.declaratie import (
    parse_declaratie,
    parse_declaratie_antwoord,
    render_declaratie,
    render_declaratie_antwoord,
)
from connectors.istandaard.errors import PayloadRejected
from connectors.istandaard.identify import identify
from connectors.istandaard.law import Law
from connectors.istandaard.retour import class_paths, parse_retour, render_retour
from connectors.istandaard.start_stop import parse_start, parse_stop, render_start, render_stop
from connectors.istandaard.toewijzing import parse_toewijzing, render_toewijzing
from connectors.istandaard.toewijzing_retour import parse_toewijzing_retour, render_toewijzing_retour
from connectors.istandaard.verzoeken import parse_vot, parse_vow, render_vot, render_vow

__all__ = [
    "Law",
    "PayloadRejected",
    "class_paths",
    "identify",
    "parse_antwoord",
    "parse_declaratie",
    "parse_declaratie_antwoord",
    "parse_retour",
    "parse_start",
    "parse_stop",
    "parse_toewijzing",
    "parse_toewijzing_retour",
    "parse_vot",
    "parse_vow",
    "render_antwoord",
    "render_declaratie",
    "render_declaratie_antwoord",
    "render_retour",
    "render_start",
    "render_stop",
    "render_toewijzing",
    "render_toewijzing_retour",
    "render_vot",
    "render_vow",
]
