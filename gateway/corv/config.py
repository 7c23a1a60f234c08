"""Who we talk to over CORV and how patiently: parties by OIN, endpoints, retry policies."""

from __future__ import annotations

from datetime import timedelta

from gateway.delivery.retry_policy import RetryPolicy, stop_after_attempt, wait_fixed
from gateway.settings import CorvParty, Settings

PARTY_CORV = "corv"
#: The transport operation of every outbound CORV message (an ebMS user message).
OPERATION_EBMS = "corv_ebms"


def corv_route(oin: str) -> str:
    return f"{PARTY_CORV}:{oin}"


def party_by_oin(settings: Settings, oin: str) -> CorvParty | None:
    for party in settings.corv.parties:
        if party.oin == oin:
            return party
    return None


def default_party(settings: Settings) -> CorvParty:
    """Where VTOs go: the first configured party (the CORV hub)."""
    return settings.corv.parties[0]


def endpoint_url(settings: Settings, party: CorvParty) -> str:
    """The party's ebMS endpoint; by default the mock hub of ``serve --with-mocks``."""
    return party.url or f"http://127.0.0.1:{settings.mock_port}/corv/ebms"


def inbound_url(settings: Settings) -> str:
    """Where the hub reaches us."""
    return f"{settings.effective_public_base_url}/corv/ebms"


def retry_policy(party: CorvParty) -> RetryPolicy:
    """The CORV contract: ``retries`` re-sends at a fixed interval, then give up (expired)."""
    return RetryPolicy(wait_fixed(party.retry_interval_s), stop_after_attempt(party.retries))


def retry_policies(settings: Settings) -> dict[str, RetryPolicy]:
    """Per route ``corv:<oin>``, for the delivery worker."""
    return {corv_route(party.oin): retry_policy(party) for party in settings.corv.parties}


def duplicate_window(party: CorvParty | None, settings: Settings) -> timedelta:
    """How long a received MessageId is remembered: at least (1 + retries) x interval.

    An unknown sender gets the longest window of any configured party.
    """
    parties = [party] if party is not None else settings.corv.parties
    seconds = max((1 + p.retries) * p.retry_interval_s for p in parties)
    return timedelta(seconds=seconds)
