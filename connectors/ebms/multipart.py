"""A streaming multipart/related reader: parts go to spooled temp files, not memory.

Why not ``email`` or ``python-multipart``: the former holds the whole body in memory,
the latter is form-data oriented; a VTO is ~115 MB and must cross the gateway without
several copies, and a malformed body must be refused with ebMS's ``MimeProblem`` and a
precise reason.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from connectors.ebms.errors import MimeProblem, NotSupported
from connectors.ebms.names import SPOOL_IN_MEMORY_BYTES

_CHUNK = 256 * 1024
_MAX_HEADER_BYTES = 16 * 1024
_MAX_PARTS = 32


@dataclass(slots=True)
class ReceivedPart:
    """One MIME part: its headers and its content in a spooled temp file."""

    content_type: str
    content_id: str | None
    headers: dict[str, str]
    file: IO[bytes] = field(repr=False)
    size: int = 0

    def open(self) -> IO[bytes]:
        """The content as a binary stream, rewound (the same file each time)."""
        self.file.seek(0)
        return self.file

    def read(self) -> bytes:
        """The whole content (for small parts: StUF answers, notificaties)."""
        return self.open().read()

    def close(self) -> None:
        self.file.close()


class _Stream:
    def __init__(self, source: IO[bytes], max_bytes: int) -> None:
        self.source = source
        self.max_bytes = max_bytes
        self.total = 0
        self.buf = bytearray(b"\r\n")  # lets the first delimiter match without a leading CRLF

    def _fill(self) -> bool:
        chunk = self.source.read(_CHUNK)
        if not chunk:
            return False
        self.total += len(chunk)
        if self.total > self.max_bytes:
            raise NotSupported(f"message body is larger than the limit of {self.max_bytes} bytes")
        self.buf += chunk
        return True

    def until(self, delim: bytes, sink: Callable[[bytes], object]) -> bool:
        """Feed everything before ``delim`` to ``sink`` and consume ``delim``; False at EOF."""
        keep = len(delim) - 1
        while True:
            index = self.buf.find(delim)
            if index >= 0:
                if index:
                    sink(bytes(self.buf[:index]))
                del self.buf[: index + len(delim)]
                return True
            if len(self.buf) > keep:
                sink(bytes(self.buf[: len(self.buf) - keep]))
                del self.buf[: len(self.buf) - keep]
            if not self._fill():
                return False

    def peek(self, size: int) -> bytes:
        while len(self.buf) < size and self._fill():
            pass
        return bytes(self.buf[:size])

    def skip(self, size: int) -> None:
        del self.buf[:size]


class _Limited:
    """A sink that refuses more than ``limit`` bytes with a precise message."""

    def __init__(self, limit: int, what: str, target: Callable[[bytes], object] | None = None) -> None:
        self.limit, self.what, self.target, self.size = limit, what, target, 0

    def __call__(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise NotSupported(f"{self.what} is larger than the limit of {self.limit} bytes")
        if self.target is not None:
            self.target(data)


def _parse_headers(block: bytes, index: int) -> dict[str, str]:
    headers: dict[str, str] = {}
    try:
        text = block.decode("ascii")
    except UnicodeDecodeError:
        raise MimeProblem(f"part {index} has non-ASCII header bytes") from None
    for line in text.split("\r\n"):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or name != name.strip():
            raise MimeProblem(f"part {index} has a malformed header line {line[:60]!r}")
        headers[name.strip().lower()] = value.strip()
    return headers


def read_multipart(
    source: IO[bytes],
    boundary: str,
    *,
    max_bytes: int,
    max_part_bytes: int | None = None,
    spool_dir: str | None = None,
) -> list[ReceivedPart]:
    """Split a multipart body into parts (each in a spooled temp file).

    ``spool_dir``: where parts over 1 MB go on disk (the gateway passes its private spool
    directory under the data dir; None: the system's temporary directory).

    Raises :class:`MimeProblem` for a missing opening or closing boundary, malformed part
    headers or too many parts, and :class:`NotSupported` for a body or part over its limit.
    """
    if not boundary or len(boundary) > 70:
        raise MimeProblem("the Content-Type has no usable boundary parameter")
    stream = _Stream(source, max_bytes)
    delimiter = b"\r\n--" + boundary.encode("ascii", "replace")
    if not stream.until(delimiter, lambda _data: None):
        raise MimeProblem("the body does not contain the boundary given in the Content-Type")
    parts: list[ReceivedPart] = []
    try:
        while True:
            if stream.peek(2) == b"--":
                return parts
            line = _Limited(200, "boundary line")
            if not stream.until(b"\r\n", line):
                raise MimeProblem("the body ends right after a boundary")
            if len(parts) >= _MAX_PARTS:
                raise MimeProblem(f"more than {_MAX_PARTS} parts")
            index = len(parts) + 1
            block = bytearray()
            if stream.peek(2) == b"\r\n":
                stream.skip(2)
            elif not stream.until(
                b"\r\n\r\n", _Limited(_MAX_HEADER_BYTES, f"headers of part {index}", block.extend)
            ):
                raise MimeProblem(f"part {index} has no end of its headers")
            headers = _parse_headers(bytes(block), index)
            encoding = headers.get("content-transfer-encoding", "binary").lower()
            if encoding not in ("binary", "8bit", "7bit"):
                raise MimeProblem(
                    f"part {index} has Content-Transfer-Encoding {encoding[:20]!r}; only binary is used"
                )
            spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES, dir=spool_dir)  # noqa: SIM115 - owned by the part
            part = ReceivedPart(
                content_type=headers.get("content-type", "text/plain"),
                content_id=_strip_cid(headers.get("content-id")),
                headers=headers,
                file=spool,
            )
            parts.append(part)
            sink = _Limited(max_part_bytes or max_bytes, f"part {index}", spool.write)
            if not stream.until(delimiter, sink):
                raise MimeProblem(f"the body ends inside part {index}, without the closing boundary")
            part.size = sink.size
            spool.seek(0)
    except BaseException:
        for part in parts:
            part.close()
        raise


def _strip_cid(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    return value or None
