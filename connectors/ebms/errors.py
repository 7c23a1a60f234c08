"""Typed ebMS errors: each carries the ebMS2 ``errorCode`` to answer with.

A receiver catches :class:`EbmsError` and answers with
:func:`connectors.ebms.build_message_error`; the sender that gets such a MessageError
stops retrying. The message text is precise (what, where, the limit) and never holds
payload content, so it is safe to log.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ErrorItem:
    """One ``eb:Error`` of an ``eb:ErrorList``."""

    code: str
    description: str
    location: str = ""
    severity: str = "Error"


class EbmsError(ValueError):
    """A received message is refused at the ebMS level; ``error_code`` is ebMS2's code."""

    error_code = "Unknown"

    def __init__(self, description: str, *, location: str = "") -> None:
        self.description = description
        self.location = location
        super().__init__(f"{self.error_code}: {description}" + (f" (at {location})" if location else ""))

    def item(self) -> ErrorItem:
        """This error as an ``eb:Error`` for a MessageError."""
        return ErrorItem(code=self.error_code, description=self.description, location=self.location)


class MimeProblem(EbmsError):  # noqa: N818 - named after the ebMS2 errorCode
    """The multipart/related body is malformed (boundary, headers, start part, cid)."""

    error_code = "MimeProblem"


class ValueNotRecognized(EbmsError):  # noqa: N818 - named after the ebMS2 errorCode
    """A value is not known here: an unknown OIN, CPAId, Service or Action."""

    error_code = "ValueNotRecognized"


class NotSupported(EbmsError):  # noqa: N818 - named after the ebMS2 errorCode
    """Something the subset does not support (also: a body or part over the size limit)."""

    error_code = "NotSupported"


class Inconsistent(EbmsError):  # noqa: N818 - named after the ebMS2 errorCode
    """The header contradicts itself or the body (missing part for a Manifest reference)."""

    error_code = "Inconsistent"


class OtherXml(EbmsError):  # noqa: N818 - named after the ebMS2 errorCode
    """The SOAP part is not well-formed or lacks a required ebMS element."""

    error_code = "OtherXml"


class SecurityFailure(EbmsError):  # noqa: N818 - named after the ebMS2 errorCode
    """The sender is not authorised for this CPA (e.g. TLS identity does not match From)."""

    error_code = "SecurityFailure"


class UnknownError(EbmsError):
    """Any other refusal (ebMS2 ``Unknown``)."""

    error_code = "Unknown"


ERROR_CLASSES: dict[str, type[EbmsError]] = {
    cls.error_code: cls
    for cls in (
        MimeProblem,
        ValueNotRecognized,
        NotSupported,
        Inconsistent,
        OtherXml,
        SecurityFailure,
        UnknownError,
    )
}
