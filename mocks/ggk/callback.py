"""How the mock aanbieders post their answers (Du01, Fo01) to the gateway's inbound endpoint.

A plain HTTP/1.1 POST over a few kept-alive asyncio connections. The round-trip bench
sends one callback per message, and httpx (with httpcore and anyio under it) spent more
CPU on each post than the mock spends on the message itself: per request it builds a
request model, checks every pooled connection for expiry with a socket poll, runs the
response through three layers of streams. The gateway's endpoint needs none of that: a
POST with Content-Length, an answer with Content-Length (or chunked, or until close).

An ``https`` callback URL (a gateway serving TLS) still goes through httpx, which does
the certificate handling; there the speed does not matter.

Failures are raised as httpx's exception types (``ConnectError``, ``ReadTimeout``,
``RemoteProtocolError`` ...), so what the ledger records for an unreachable gateway
(``callback_failed:<type>``) does not depend on which path posted.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

#: Callbacks posted at once by one mock; more wait their turn (and at most this many
#: connections stay open to the gateway).
CALLBACK_SLOTS = 8
#: The largest response head (status line and headers) the client reads.
_MAX_HEAD_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class CallbackResponse:
    """The gateway's answer to one post."""

    status_code: int
    content: bytes


class _Connection:
    """One kept-alive TCP connection to the gateway."""

    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @property
    def usable(self) -> bool:
        """Whether the peer has not closed it while it was idle."""
        return not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


class CallbackClient:
    """Posts to one base URL from one event loop, at most :data:`CALLBACK_SLOTS` at once.

    Waiting posts queue on a semaphore, not in a connection pool, so a burst of
    thousands of retours costs nothing per waiting post.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.slots = asyncio.Semaphore(CALLBACK_SLOTS)
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._https: httpx.AsyncClient | None = None
        #: (url, headers) -> host, port and the request head before Content-Length.
        self._routes: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[str, int, bytes] | None] = {}

    async def post(
        self, url: str, body: bytes, headers: dict[str, str], *, timeout: float
    ) -> CallbackResponse:
        """POST ``body`` to ``url``; raise an :class:`httpx.HTTPError` when there is no answer."""
        async with self.slots:
            route = self._route(url, headers)
            if route is None:
                return await self._post_httpx(url, body, headers, timeout)
            host, port, head_start = route
            head = head_start + b"Content-Length: %d\r\n\r\n" % len(body)
            connection = self._take_idle((host, port))
            if connection is not None:
                try:
                    return await self._exchange((host, port), connection, head, body, timeout)
                except _StaleConnectionError:
                    pass  # closed by the gateway while idle, before it read the request: once more
            try:
                async with asyncio.timeout(timeout):
                    reader, writer = await asyncio.open_connection(host, port)
            except TimeoutError:
                raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
            except OSError as exc:
                raise httpx.ConnectError(f"{type(exc).__name__}: {exc}") from None
            try:
                return await self._exchange((host, port), _Connection(reader, writer), head, body, timeout)
            except _StaleConnectionError:
                raise httpx.RemoteProtocolError("server disconnected without sending a response") from None

    async def aclose(self) -> None:
        """Close the idle connections (and the https client, if one was made)."""
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()
        if self._https is not None:
            client, self._https = self._https, None
            await client.aclose()

    def _route(self, url: str, headers: dict[str, str]) -> tuple[str, int, bytes] | None:
        """Host, port and request head up to Content-Length; None for a URL that is not plain http."""
        key = (url, tuple(headers.items()))
        if key not in self._routes:
            parts = urlsplit(url)
            if parts.scheme != "http" or parts.hostname is None:
                self._routes[key] = None
            else:
                target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                lines = [f"POST {target} HTTP/1.1", f"Host: {parts.netloc}"]
                lines.extend(f"{name}: {value}" for name, value in headers.items())
                start = ("\r\n".join(lines) + "\r\n").encode("latin-1")
                self._routes[key] = (parts.hostname, parts.port or 80, start)
        return self._routes[key]

    def _take_idle(self, key: tuple[str, int]) -> _Connection | None:
        connections = self._idle.get(key)
        while connections:
            connection = connections.pop()
            if connection.usable:
                return connection
            connection.close()
        return None

    async def _exchange(
        self, key: tuple[str, int], connection: _Connection, head: bytes, body: bytes, timeout: float
    ) -> CallbackResponse:
        keep = False
        try:
            async with asyncio.timeout(timeout):
                connection.writer.write(head + body)
                status, content, keep = await _read_response(connection.reader)
        except TimeoutError:
            raise httpx.ReadTimeout("no answer within the callback timeout") from None
        except _StaleConnectionError:
            raise
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            raise httpx.RemoteProtocolError(f"unreadable answer: {type(exc).__name__}") from None
        except OSError as exc:
            raise httpx.ReadError(f"{type(exc).__name__}: {exc}") from None
        finally:
            if keep and connection.usable:
                self._idle.setdefault(key, []).append(connection)
            else:
                connection.close()
        return CallbackResponse(status, content)

    async def _post_httpx(
        self, url: str, body: bytes, headers: dict[str, str], timeout: float
    ) -> CallbackResponse:
        if self._https is None:
            limits = httpx.Limits(max_connections=None, max_keepalive_connections=CALLBACK_SLOTS)
            self._https = httpx.AsyncClient(limits=limits)
        response = await self._https.post(url, content=body, headers=headers, timeout=timeout)
        return CallbackResponse(response.status_code, response.content)


class _StaleConnectionError(Exception):
    """The connection closed before a single byte of the answer: the request never arrived."""


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body and whether the connection may be kept, of one HTTP/1.1 response."""
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise _StaleConnectionError from None
            raise
        if len(head) > _MAX_HEAD_BYTES:
            raise ValueError("response head too large")
        lines = head[:-4].split(b"\r\n")
        version, _, rest = lines[0].partition(b" ")
        status = int(rest[:3])
        if status >= 200 or status == 101:
            break  # 1xx (100 Continue, 103 Early Hints) precede the real answer
    fields: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise ValueError("malformed header line")
        fields[name.strip().lower()] = value.strip()
    keep = version == b"HTTP/1.1" and fields.get(b"connection", b"").lower() != b"close"
    if b"chunked" in fields.get(b"transfer-encoding", b"").lower():
        return status, await _read_chunked(reader), keep
    length = fields.get(b"content-length")
    if length is not None:
        return status, await reader.readexactly(int(length)), keep
    if status in (204, 304):
        return status, b"", keep
    return status, await reader.read(), False


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                pass
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise ValueError("chunk not terminated by CRLF")
