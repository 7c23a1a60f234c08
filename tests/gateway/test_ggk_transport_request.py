"""The GGk transport's request is the one ``client.post(url, headers=soap_headers(op))`` makes.

The transport hands httpx a parsed URL and prebuilt Headers (parsed once, not per send);
the request that goes out - method, URL, every header in order, body - must be the same.
"""

from __future__ import annotations

import httpx
import pytest

from connectors.ggk import soap_headers
from connectors.ggk.soap import Operation
from gateway.delivery.ggk_transport import GgkSoapTransport

URL = "https://ggk.example.test:8443/ggk/soap?x=1"
BV03 = b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'><soap:Body/></soap:Envelope>"


def seen_requests() -> tuple[list[tuple[str, str, list[tuple[bytes, bytes]], bytes]], httpx.Client]:
    seen: list[tuple[str, str, list[tuple[bytes, bytes]], bytes]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, str(request.url), list(request.headers.raw), request.read()))
        return httpx.Response(200, content=BV03)

    return seen, httpx.Client(transport=httpx.MockTransport(handler), headers={"X-Extra": "kept"})


@pytest.mark.parametrize("operation", ["ggk_Di01", "ggk_Du01", "Fo01"])
def test_the_transport_sends_what_a_plain_post_sends(operation: Operation) -> None:
    body = b"<soap:Envelope>" + operation.encode() + b"</soap:Envelope>"
    expected, plain = seen_requests()
    with plain:
        plain.post(URL, content=body, headers=soap_headers(operation))
    sent, client = seen_requests()
    with client:
        GgkSoapTransport(URL, client).send(body, after_unknown=False, operation=operation)
        GgkSoapTransport(URL, client).send(body, after_unknown=False, operation=operation)
    assert sent == expected * 2
    assert any(name.lower() == b"soapaction" for name, _value in sent[0][2])
