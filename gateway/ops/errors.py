"""What an operations service refuses, and why - mapped to HTTP by ``gateway.ops.api``.

The console (gateway.console) catches the same exceptions and shows ``str(error)``;
messages never hold a BSN or other personal data.
"""

from __future__ import annotations


class OpsError(Exception):
    """Base class; ``status`` is the HTTP status the API answers with."""

    status = 400
    kind = "bad-request"


class NotAuthenticated(OpsError):  # noqa: N818 - read as the answer (like Problem), not as an error name
    """No, an unknown or an expired session; or a wrong name/password."""

    status = 401
    kind = "unauthorized"


class Forbidden(OpsError):  # noqa: N818 - read as the answer (like Problem), not as an error name
    """The operator's role does not allow this."""

    status = 403
    kind = "forbidden"


class NotFound(OpsError):  # noqa: N818 - read as the answer (like Problem), not as an error name
    status = 404
    kind = "not-found"


class Conflict(OpsError):  # noqa: N818 - read as the answer (like Problem), not as an error name
    """The subject is not in a state that allows the action (e.g. replaying a queued message)."""

    status = 409
    kind = "conflict"


class InvalidInput(OpsError):  # noqa: N818 - read as the answer (like Problem), not as an error name
    """A missing reason, an unknown state or role, a bad date range."""

    status = 422
    kind = "validation"
