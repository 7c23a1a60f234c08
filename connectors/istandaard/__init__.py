"""iJw 3.2 and iWmo 3.2: one implementation, parameterised by :class:`Law`."""

from connectors.istandaard.law import Law

__all__ = ["Law"]
