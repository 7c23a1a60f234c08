"""The CAK (eigen bijdrage, iEb-style): WMO405/407 out, WMO406/408 retours in.

Public surface: :func:`render_melding` / :func:`parse_melding` for the heenberichten,
:func:`render_retour` / :func:`parse_retour` / :func:`read_retour_codes` for the retours,
and the data model. The schemas are the project's own model (``schemas/ieb-1.0``): the
official iEb XSDs are not public.
"""

from connectors.cak.ieb import (
    namespace,
    parse_melding,
    parse_retour,
    read_retour_codes,
    render_melding,
    render_retour,
    schema_path,
)
from connectors.cak.model import (
    ACCEPTED,
    NOT_ASSESSED,
    RETOURCODES,
    BerichtRef,
    Melding,
    MeldingRetour,
    Regeling,
    Soort,
    Voorziening,
)
from connectors.istandaard.errors import PayloadRejected

__all__ = [
    "ACCEPTED",
    "NOT_ASSESSED",
    "RETOURCODES",
    "BerichtRef",
    "Melding",
    "MeldingRetour",
    "PayloadRejected",
    "Regeling",
    "Soort",
    "Voorziening",
    "namespace",
    "parse_melding",
    "parse_retour",
    "read_retour_codes",
    "render_melding",
    "render_retour",
    "schema_path",
]
