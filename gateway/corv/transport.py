"""The delivery worker's ebMS transport for CORV: stream the stored bytes, read the answer.

Classification (never raises; see :mod:`gateway.delivery.outcome`):

- an ``eb:Acknowledgment`` of our MessageId -> ``delivered``; a StUF answer (Bv01/Fo03)
  in the same response is recorded first (if that fails: ``unknown``, so the message is
  sent again and the hub answers the duplicate with the same ack + answer);
- an ``eb:ErrorList`` (MessageError) -> ``permanent``: parked, no more retries;
- a TLS refusal of the party's server certificate (wrong OIN, unknown CA, expired: see
  :mod:`gateway.tls.client`) -> ``permanent``: parked with the reason, nothing was sent;
- a refused connection -> ``retryable``; a timeout or dropped connection after sending,
  a 2xx without an ack, a 5xx without ErrorList -> ``unknown``/``retryable``: sent again
  later with the same MessageId and bytes (the hub eliminates duplicates);
- an Acknowledgment that already arrived on its own (standalone) -> ``delivered``
  without sending again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import httpx
import structlog

from connectors.ebms import EbmsError, MessageKind, parse_message
from gateway.corv.config import OPERATION_EBMS, endpoint_url, party_by_oin
from gateway.corv.outbound import spool_dir
from gateway.corv.wire import WireDescriptor, iter_chunks
from gateway.delivery.ggk_transport import failed_send
from gateway.delivery.outcome import Outcome, OutcomeKind
from gateway.runtime import Runtime

log = structlog.get_logger("gateway.corv")
#: An answer (ack, maybe with a Bv01/Fo03) is small; anything bigger is not one.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024


class AckRecorder(Protocol):
    """What the transport needs from the store (see :mod:`gateway.corv.answers`)."""

    def lookup(self, message_id: int) -> tuple[str, bool] | None:
        """(our ebMS MessageId, acknowledged already) of an outbound message, or None."""
        ...

    def record_ack(self, message_id: int, answer_content_type: str | None, answer: bytes | None) -> None:
        """The hub acknowledged the message, maybe with a functional StUF answer."""
        ...

    def record_message_error(self, message_id: int, code: str, description: str) -> None: ...


class CorvEbmsTransport:
    def __init__(
        self,
        runtime: Runtime,
        client: httpx.Client,
        recorder: AckRecorder,
        party_clients: Mapping[str, httpx.Client] | None = None,
    ) -> None:
        self.runtime = runtime
        self.client = client
        self.recorder = recorder
        #: OIN -> the mutual-TLS client of a party with ``tls`` configured; others use ``client``.
        self.party_clients = dict(party_clients or {})

    def send(self, wire_body: bytes, *, after_unknown: bool, operation: str = OPERATION_EBMS) -> Outcome:
        try:
            descriptor = WireDescriptor.decode(wire_body)
        except ValueError:
            return Outcome(OutcomeKind.PERMANENT, detail="not a stored CORV message")
        settings = self.runtime.settings
        party = party_by_oin(settings, descriptor.to_oin)
        if party is None:
            return Outcome(OutcomeKind.PERMANENT, detail=f"CORV party {descriptor.to_oin} is not configured")
        try:
            known = self.recorder.lookup(descriptor.message_id)
        except Exception as exc:  # the database is away: try later
            return Outcome(
                OutcomeKind.RETRYABLE, detail=f"not sent: store unavailable ({type(exc).__name__})"
            )
        if known is None:
            return Outcome(OutcomeKind.PERMANENT, detail="no ebMS record for this message")
        ebms_message_id, acked = known
        if acked:
            return Outcome(OutcomeKind.DELIVERED, detail="acknowledged by a standalone Acknowledgment")
        headers = {
            "Content-Type": descriptor.content_type,
            "Content-Length": str(descriptor.size),
            "SOAPAction": '"ebXML"',
        }
        try:
            with self.party_clients.get(party.oin, self.client).stream(
                "POST",
                endpoint_url(settings, party),
                content=iter_chunks(self.runtime.sessions, descriptor),
                headers=headers,
            ) as response:
                status = response.status_code
                content_type = response.headers.get("content-type")
                body = _read_capped(response)
        except httpx.HTTPError as exc:
            # A TLS refusal (wrong OIN, unknown CA, expired) is permanent: parked with the reason.
            return failed_send(exc)
        except LookupError as exc:
            return Outcome(OutcomeKind.PERMANENT, detail=str(exc))
        except Exception as exc:  # never raise to the worker
            return Outcome(OutcomeKind.UNKNOWN, detail=f"send failed: {type(exc).__name__}")
        return self._classify(descriptor.message_id, ebms_message_id, status, content_type, body)

    def _classify(
        self, message_id: int, ebms_message_id: str, status: int, content_type: str | None, body: bytes | None
    ) -> Outcome:
        if body is None:
            return Outcome(OutcomeKind.UNKNOWN, status, None, "answer larger than any acknowledgement")
        try:
            received = parse_message(
                content_type,
                body,
                own_party=self.runtime.settings.corv.oin,
                spool_dir=str(spool_dir(self.runtime.settings)),
            )
        except EbmsError as exc:
            kind = OutcomeKind.RETRYABLE if status >= 500 or status in (408, 429) else OutcomeKind.UNKNOWN
            return Outcome(kind, status, None, f"no acknowledgement (HTTP {status}): {exc.error_code}")
        with received:
            if received.kind is MessageKind.ERROR:
                error = received.first_error()
                code = error.error_code if error is not None else "Unknown"
                description = error.description if error is not None else "MessageError without items"
                try:
                    self.recorder.record_message_error(message_id, code, description)
                except Exception:
                    log.exception("corv_message_error_not_recorded")
                return Outcome(OutcomeKind.PERMANENT, status, code[:20], f"MessageError: {description}")
            if received.kind is not MessageKind.ACK or received.acked_message_id != ebms_message_id:
                return Outcome(
                    OutcomeKind.UNKNOWN, status, None, "the answer is not an acknowledgement of it"
                )
            part = received.payload
            try:
                self.recorder.record_ack(
                    message_id,
                    part.content_type if part is not None else None,
                    part.read() if part is not None else None,
                )
            except Exception as exc:
                log.exception("corv_answer_not_recorded")
                return Outcome(
                    OutcomeKind.UNKNOWN,
                    status,
                    None,
                    f"answer not recorded: {type(exc).__name__}",
                )
        return Outcome(OutcomeKind.DELIVERED, status)


def _read_capped(response: httpx.Response) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
