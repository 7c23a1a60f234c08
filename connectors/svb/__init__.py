"""The SVB (PGB under trekkingsrecht): the project's own model of iPgb 1.0.

Public surface: render and parse the TKB toekenningsbericht and its retour, the BAB
budgetafsluitbericht and its retour. Anything that is not a valid message of the
expected kind raises :class:`~connectors.istandaard.errors.PayloadRejected` (StUF055);
its text never holds a BSN. No official iPgb XSD is public: the schemas are the
project's own (``schemas/ipgb-1.0``), and :mod:`connectors.svb.names` holds every fact
that would change when the official ones are adopted.
"""

from connectors.svb.bab import parse_bab, parse_bab_retour, render_bab, render_bab_retour
from connectors.svb.model import (
    Budgetafsluitbericht,
    Budgetafsluiting,
    BudgetafsluitRetour,
    PgbClient,
    PgbHeader,
    Toekenning,
    ToekenningRetour,
    Toekenningsbericht,
    Vertegenwoordiger,
)
from connectors.svb.names import SVB, Budgethouder, Hulpverlener, Kind, Mutatie, functies
from connectors.svb.tkb import (
    parse_tkb,
    parse_tkb_retour,
    read_tkb_retour_codes,
    render_tkb,
    render_tkb_retour,
)

__all__ = [
    "SVB",
    "BudgetafsluitRetour",
    "Budgetafsluitbericht",
    "Budgetafsluiting",
    "Budgethouder",
    "Hulpverlener",
    "Kind",
    "Mutatie",
    "PgbClient",
    "PgbHeader",
    "Toekenning",
    "ToekenningRetour",
    "Toekenningsbericht",
    "Vertegenwoordiger",
    "functies",
    "parse_bab",
    "parse_bab_retour",
    "parse_tkb",
    "parse_tkb_retour",
    "read_tkb_retour_codes",
    "render_bab",
    "render_bab_retour",
    "render_tkb",
    "render_tkb_retour",
]
