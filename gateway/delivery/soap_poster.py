"""POSTing SOAP to the GGk over keep-alive connections, one per delivery thread (http.client).

Why: a delivery worker's only HTTP is one POST per message to one URL, and httpx spent
0.34 ms of CPU on each (its request and response models, httpcore's pool and h11's state
machine) where ``http.client`` on a kept-alive connection spends about 0.11 ms - at 300
round trips a second that is 7 % of one core, a third of the worker's CPU.
:func:`gateway.delivery.assembly.build_worker` uses this only where it does what httpx
would: plain http, or https with our own mutual-TLS context (the OIN check runs in its
``wrap_socket``, as with httpx); no proxy configured in the environment for the URL
(httpx honours ``HTTPS_PROXY``/``NO_PROXY``, this does not), no user and password in the
URL (httpx sends them as Basic authentication) and tracing off (the
``traceparent`` hook lives on the httpx client). Anything else keeps httpx.

Like httpcore, a kept-alive connection is looked at before it is reused: when the server
has closed it (readable while no answer is due), a new one is made, so a send never goes
out on a connection that is known dead. Failures say whether the request can have reached
the server (:class:`NotSentError` before the connection was made, :class:`NoAnswerError` after),
which decides between *retry* and *outcome unknown* (:mod:`gateway.delivery.ggk_transport`).
"""

from __future__ import annotations

import http.client
import select
import ssl
import threading
import urllib.parse
import urllib.request
from collections.abc import Mapping

from gateway import __version__

#: Sent with every request (httpx sent its own; some gateways refuse requests without one).
USER_AGENT = f"gemeente-gateway/{__version__}"


class NotSentError(Exception):
    """No connection to the server (refused, unreachable, connect timeout, TLS refused): nothing was sent."""


class NoAnswerError(Exception):
    """The request may have reached the server, but no complete answer came back."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(type(cause).__name__)
        self.timed_out = isinstance(cause, TimeoutError)


class SoapPoster:
    """POST to one URL; each calling thread keeps its own connection open between calls."""

    def __init__(
        self,
        url: str,
        *,
        context: ssl.SSLContext | None,
        connect_timeout_s: float,
        send_timeout_s: float,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        if parts.scheme == "https" and context is None:
            raise ValueError("https needs the party's TLS context")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._context = context
        self._connect_timeout_s = connect_timeout_s
        self._send_timeout_s = send_timeout_s
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[http.client.HTTPConnection] = set()

    def post(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
        """The answer's status and body; else :class:`NotSentError` or :class:`NoAnswerError`."""
        connection = self._connection()
        try:
            connection.request("POST", self._target, body=body, headers={**headers, "User-Agent": USER_AGENT})
            response = connection.getresponse()
            content = response.read()
            if response.status < 200:
                # http.client passes a 102/103 interim answer on as if final (httpx reads on
                # to the real one): the message may well have arrived, so "no answer".
                raise http.client.HTTPException(f"interim answer {response.status}")
        except (OSError, http.client.HTTPException) as exc:
            self._discard(connection)
            raise NoAnswerError(exc) from exc
        if response.will_close:
            self._discard(connection)
        return response.status, content

    def close(self) -> None:
        """Close every thread's connection (the worker is stopping)."""
        with self._lock:
            connections, self._open = self._open, set()
        for connection in connections:
            connection.close()

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is not None and not _reusable(connection):
            self._discard(connection)
            connection = None
        if connection is None:
            connection = self._connect()
            self._local.connection = connection
            with self._lock:
                self._open.add(connection)
        return connection

    def _connect(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection
        if self._https:
            connection = http.client.HTTPSConnection(
                self._host, self._port, timeout=self._connect_timeout_s, context=self._context
            )
        else:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=self._connect_timeout_s)
        try:
            connection.connect()  # TCP (no delay), and for https the handshake with the OIN check
            assert connection.sock is not None  # connect() set it
            connection.sock.settimeout(self._send_timeout_s)
        except (OSError, UnicodeError) as exc:  # ssl.SSLError and the OIN refusal are OSErrors too
            connection.close()
            raise NotSentError(type(exc).__name__) from exc
        return connection

    def _discard(self, connection: http.client.HTTPConnection) -> None:
        connection.close()
        if getattr(self._local, "connection", None) is connection:
            self._local.connection = None
        with self._lock:
            self._open.discard(connection)


def _reusable(connection: http.client.HTTPConnection) -> bool:
    """Idle and still open: nothing to read (a readable idle socket is the server closing it)."""
    sock = connection.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def proxied() -> bool:
    """Whether the environment configures any proxy (``HTTP_PROXY``, ``ALL_PROXY``, ...).

    Then httpx decides, with its own reading of ``NO_PROXY`` (which differs from urllib's
    in corner cases): only without any proxy is the lean client sure to do the same.
    """
    return any(scheme != "no" for scheme in urllib.request.getproxies_environment())
