"""Mock CORV hub (JUBES): ebMS2 + StUF jz0100, like the CORV compliance test platform.

``create_app(MockCorvConfig(callback_url=...))`` → FastAPI app with ``POST /corv/ebms``
and the control routes under ``/_mock/corv/`` (see README.md).
"""

from mocks.corv.app import create_app
from mocks.corv.config import UNKNOWN_CHILD_BSN, Behaviour, MockCorvConfig

__all__ = ["UNKNOWN_CHILD_BSN", "Behaviour", "MockCorvConfig", "create_app"]
