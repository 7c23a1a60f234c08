"""The mock CORV hub next to the mock GGk, on the same port (``serve --with-mocks``, ``mocks``)."""

from __future__ import annotations

from typing import Any

from gateway.corv.config import default_party, inbound_url
from gateway.settings import Settings


def mount_mock_hub(mock_app: Any, settings: Settings) -> Any:
    """Mount the mock hub (``POST /corv/ebms``, ``/_mock/corv/...``) under ``mock_app``.

    Mounted at the root after the mock GGk's own routes, which therefore match first;
    the hub delivers notificaties and zorgmeldingen to this gateway's ``/corv/ebms``.
    """
    from mocks.corv import MockCorvConfig
    from mocks.corv import create_app as create_hub

    party = default_party(settings)
    hub = create_hub(
        MockCorvConfig(
            callback_url=inbound_url(settings),
            gemeente_oin=settings.corv.oin,
            hub_oin=party.oin,
            cpa_id=party.cpa_id,
        )
    )
    mock_app.mount("/", hub)
    return mock_app


def banner_line(settings: Settings) -> str:
    party = default_party(settings)
    return f"mock CORV hub on http://127.0.0.1:{settings.mock_port}/corv/ebms (OIN {party.oin})"
