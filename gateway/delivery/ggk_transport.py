"""Sending a stored GGk Di01 over SOAP with httpx, and classifying the answer.

The transport never raises: every possible result - an answer, an error code, a
refused connection, a timeout - maps to an :class:`Outcome`.
"""

from __future__ import annotations

from typing import Protocol

import httpx

from connectors.ggk import is_retryable, parse_soap_response, soap_headers
from gateway.delivery.outcome import Outcome, OutcomeKind
from gateway.delivery.soap_poster import NoAnswerError, NotSentError, SoapPoster
from gateway.tls.client import tls_refusal

#: IB016: the referentienummer is not unique - after an unknown outcome that means the
#: GGk already has our message: it was delivered.
DUPLICATE_REFERENCE = "IB016"
_RETRYABLE_STATUS = frozenset({408, 425, 429, 502, 503, 504})


class Transport(Protocol):
    def send(self, wire_body: bytes, *, after_unknown: bool, operation: str = "") -> Outcome:
        """Put ``wire_body`` on the wire once.

        ``after_unknown``: an earlier try may have arrived. ``operation``: the message's
        transport operation (for the GGk: ``ggk_Di01``, ``ggk_Du01`` or ``Fo01``).
        """
        ...


class GgkSoapTransport:
    """The GGk's SOAP endpoint through ``client`` (httpx), or through ``poster`` when given
    (:mod:`gateway.delivery.soap_poster`: the same request for a third of the CPU, where
    it can do what httpx would)."""

    def __init__(self, url: str, client: httpx.Client, poster: SoapPoster | None = None) -> None:
        self.url = url
        self.client = client
        self.poster = poster
        # Parsed once, not per send: httpx takes a URL and Headers as they are (a str and a
        # dict it parses and copies on every request). Same request, same bytes on the wire.
        self._url = httpx.URL(url)
        self._plain_headers = {op: soap_headers(op) for op in ("ggk_Di01", "ggk_Du01", "Fo01")}
        self.headers = {op: httpx.Headers(plain) for op, plain in self._plain_headers.items()}

    def send(self, wire_body: bytes, *, after_unknown: bool, operation: str = "ggk_Di01") -> Outcome:
        headers = self.headers.get(operation)
        if headers is None:
            return Outcome(OutcomeKind.PERMANENT, detail=f"unknown GGk operation {operation!r}")
        if self.poster is not None:
            try:
                status, content = self.poster.post(wire_body, self._plain_headers[operation])
            except (NotSentError, NoAnswerError) as exc:
                return failed_post(exc)
            return classify(status, content, after_unknown=after_unknown)
        try:
            response = self.client.post(self._url, content=wire_body, headers=headers)
        except httpx.HTTPError as exc:
            return failed_send(exc)
        return classify(response.status_code, response.content, after_unknown=after_unknown)

    def close(self) -> None:
        if self.poster is not None:
            self.poster.close()


def failed_send(exc: httpx.HTTPError) -> Outcome:
    """The outcome of a send that got no HTTP answer.

    A TLS refusal (wrong or unknown certificate, wrong OIN: see :mod:`gateway.tls.client`)
    is permanent - an operator must fix the configuration; not connecting at all is
    retryable; a failure after sending leaves the outcome unknown.
    """
    refusal = tls_refusal(exc)
    if refusal is not None:
        return Outcome(OutcomeKind.PERMANENT, detail=refusal)
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return Outcome(OutcomeKind.RETRYABLE, detail=f"not sent: {type(exc).__name__}")
    if isinstance(exc, httpx.TimeoutException):
        return Outcome(OutcomeKind.UNKNOWN, detail=f"sent, no answer: {type(exc).__name__}")
    return Outcome(OutcomeKind.UNKNOWN, detail=f"sent, connection failed: {type(exc).__name__}")


def failed_post(exc: NotSentError | NoAnswerError) -> Outcome:
    """:func:`failed_send` for the :class:`~gateway.delivery.soap_poster.SoapPoster`'s failures."""
    refusal = tls_refusal(exc)
    if refusal is not None:
        return Outcome(OutcomeKind.PERMANENT, detail=refusal)
    if isinstance(exc, NotSentError):
        return Outcome(OutcomeKind.RETRYABLE, detail=f"not sent: {exc}")
    if exc.timed_out:
        return Outcome(OutcomeKind.UNKNOWN, detail=f"sent, no answer: {exc}")
    return Outcome(OutcomeKind.UNKNOWN, detail=f"sent, connection failed: {exc}")


def classify(status: int, body: bytes, *, after_unknown: bool) -> Outcome:
    answer = parse_soap_response(status, body)
    if answer.kind == "bv03" and 200 <= status < 300:
        return Outcome(OutcomeKind.DELIVERED, status)
    code = answer.code if answer.kind == "fo03" else None
    detail = answer.omschrijving
    if code:
        # A chain error code decides; a bare SOAP fault or an unreadable body falls to the status.
        if code == DUPLICATE_REFERENCE and after_unknown:
            return Outcome(
                OutcomeKind.DELIVERED, status, code, "already received by the GGk (earlier attempt)"
            )
        kind = OutcomeKind.RETRYABLE if is_retryable(code) else OutcomeKind.PERMANENT
        return Outcome(kind, status, code, detail)
    if status in _RETRYABLE_STATUS or status >= 500:
        return Outcome(OutcomeKind.RETRYABLE, status, None, detail or f"HTTP {status}")
    if 200 <= status < 300:
        return Outcome(OutcomeKind.UNKNOWN, status, None, "answer not understood")
    return Outcome(OutcomeKind.PERMANENT, status, None, detail or f"HTTP {status}")
