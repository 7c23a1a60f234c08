"""A runnable fake of the GGk and the zorgaanbieders behind it (see ``README.md`` here)."""

from mocks.ggk.aanbieders import MOCK_AANBIEDERS, is_mock_agb
from mocks.ggk.app import MockGgk, MockGgkConfig, create_app
from mocks.ggk.behaviour import Behaviour, RuleBook
from mocks.ggk.faults import Faults
from mocks.ggk.retouren import AanbiederLog
from mocks.ggk.sending import SendRequest

__all__ = [
    "MOCK_AANBIEDERS",
    "AanbiederLog",
    "Behaviour",
    "Faults",
    "MockGgk",
    "MockGgkConfig",
    "RuleBook",
    "SendRequest",
    "create_app",
    "is_mock_agb",
]
