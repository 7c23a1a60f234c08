"""Configuration and steerable behaviour of the mock CORV hub."""

from __future__ import annotations

from pydantic import BaseModel, Field

from connectors.ebms import DEFAULT_CPA_ID, MAX_BODY_BYTES

#: A child with this (test) BSN is "unknown in the BRP" at the Raad: its VTO earns a Fo01.
UNKNOWN_CHILD_BSN = "999900055"


class MockCorvConfig(BaseModel):
    """How one mock CORV hub runs."""

    #: The gateway's ebMS endpoint, e.g. ``http://127.0.0.1:8080/corv/ebms``.
    callback_url: str
    gemeente_oin: str = Field(default="00000099000000000637", pattern=r"^[0-9]{20}$")
    hub_oin: str = Field(default="00000099000000001000", pattern=r"^[0-9]{20}$")
    cpa_id: str = DEFAULT_CPA_ID
    #: Delay between the ack of an incorrect VTO and its asynchronous Fo01.
    answer_delay_s: float = Field(default=0.2, ge=0)
    #: Delivery of the hub's own messages: attempts and backoff (doubling up to the max).
    callback_attempts: int = Field(default=10, ge=1)
    callback_backoff_s: float = Field(default=0.2, ge=0)
    callback_backoff_max_s: float = Field(default=2.0, ge=0)
    callback_timeout_s: float = Field(default=30.0, gt=0)
    max_body_bytes: int = Field(default=MAX_BODY_BYTES, gt=0)
    #: The published ``jz0100_msg_jzberichten*.xsd`` to check VTOs against (as the
    #: compliance platform does); None = the project's own schema.
    published_schema: str | None = None


class Behaviour(BaseModel):
    """Faults and answers for the next messages (``PUT /_mock/corv/behaviour`` sets the
    fields given, ``DELETE`` clears all). Counters count down per distinct message."""

    #: Process the next N user messages but answer 503 without ack (the sender retries).
    drop_acks: int = Field(default=0, ge=0)
    #: Answer the next N requests with this 5xx without taking them in.
    fail_5xx: int = Field(default=0, ge=0)
    fail_status: int = Field(default=503, ge=500, le=599)
    #: Answer the next N user messages with a MessageError (sender stops retrying).
    message_errors: int = Field(default=0, ge=0)
    message_error_code: str = "ValueNotRecognized"
    #: Reject the next N VTOs: ack now, Fo01 after the answer delay.
    reject_vtos: int = Field(default=0, ge=0)
    reject_code: str = Field(default="CORV02", max_length=7)
    reject_omschrijving: str = Field(
        default="Verzoek tot onderzoek niet in behandeling genomen", max_length=200
    )
    #: Seconds to wait before answering a request.
    delay_s: float = Field(default=0, ge=0)
    #: Override of the config's ``answer_delay_s`` (async Fo01 timing).
    answer_delay_s: float | None = Field(default=None, ge=0)
