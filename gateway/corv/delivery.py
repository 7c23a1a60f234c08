"""The CORV transport as the delivery worker needs it (wired in gateway.delivery.assembly)."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from gateway.corv.answers import StoreRecorder
from gateway.corv.inbound import parse_answer
from gateway.corv.transport import CorvEbmsTransport
from gateway.runtime import Runtime


def corv_transport(
    runtime: Runtime, client: httpx.Client, party_clients: Mapping[str, httpx.Client] | None = None
) -> CorvEbmsTransport:
    """``party_clients``: OIN -> mutual-TLS client for the parties with ``tls`` configured."""
    return CorvEbmsTransport(runtime, client, StoreRecorder(runtime, parse_answer), party_clients)
