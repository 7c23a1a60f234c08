"""A multipart/form-data upload read as a stream: file parts go straight to spool files.

Starlette's form parser spools files too, but has no per-file limit: a 2 GB "document"
would fill the disk before anything could refuse it. Here each part is counted while
it streams; the first byte over the limit ends the upload with :class:`UploadTooLargeError`
naming the part (and its file name), and every spool file is closed (deleted).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header


class MalformedUploadError(ValueError):
    """The body is not a readable multipart/form-data body."""


class UploadTooLargeError(ValueError):
    def __init__(self, part: str, filename: str | None, limit: int) -> None:
        self.part = part
        self.filename = filename
        self.limit = limit
        what = f"file {filename!r} in part {part!r}" if filename else f"part {part!r}"
        super().__init__(f"the {what} is larger than {limit} bytes")


@dataclass
class UploadedPart:
    name: str
    filename: str | None
    content_type: str | None
    #: File parts: the spooled content (at position 0 once the upload is complete).
    file: BinaryIO | None = None
    #: Other parts: their bytes.
    data: bytearray = field(default_factory=bytearray)
    size: int = 0


@dataclass
class Upload:
    parts: dict[str, UploadedPart]

    def close(self) -> None:
        for part in self.parts.values():
            if part.file is not None:
                part.file.close()


async def read_form(
    chunks: AsyncIterator[bytes],
    content_type: str,
    *,
    new_file: Callable[[], BinaryIO],
    max_file_bytes: int,
    max_field_bytes: int,
    max_total_bytes: int,
    max_parts: int = 20,
) -> Upload:
    """Read the whole form. Raises MalformedUploadError / UploadTooLargeError (nothing left behind)."""
    media, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if media != b"multipart/form-data" or not boundary:
        raise MalformedUploadError("the Content-Type is not multipart/form-data with a boundary")
    parts: dict[str, UploadedPart] = {}
    current: list[UploadedPart] = []
    headers: dict[bytes, bytes] = {}
    header_field = bytearray()
    header_value = bytearray()
    finished: list[bool] = []

    def on_part_begin() -> None:
        headers.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers[bytes(header_field).lower()] = bytes(header_value)
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        disposition, options = parse_options_header(headers.get(b"content-disposition", b""))
        name = options.get(b"name")
        if disposition != b"form-data" or not name:
            raise MalformedUploadError("a part has no Content-Disposition: form-data with a name")
        part_name = name.decode("utf-8", "replace")[:100]
        if part_name in parts:
            raise MalformedUploadError(f"the part {part_name!r} occurs twice")
        if len(parts) >= max_parts:
            raise MalformedUploadError(f"more than {max_parts} parts")
        filename = options.get(b"filename")
        part = UploadedPart(
            name=part_name,
            filename=filename.decode("utf-8", "replace")[:255] if filename is not None else None,
            content_type=headers.get(b"content-type", b"").decode("latin-1")[:100] or None,
        )
        if part.filename is not None:
            part.file = new_file()
        parts[part_name] = part
        current[:] = [part]

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part = current[0]
        part.size += end - start
        limit = max_file_bytes if part.file is not None else max_field_bytes
        if part.size > limit:
            raise UploadTooLargeError(part.name, part.filename, limit)
        if part.file is not None:
            part.file.write(data[start:end])
        else:
            part.data.extend(data[start:end])

    def on_part_end() -> None:
        if current and current[0].file is not None:
            current[0].file.seek(0)

    def on_end() -> None:
        finished.append(True)

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_end": on_end,
        },
    )
    upload = Upload(parts)
    total = 0
    try:
        async for chunk in chunks:
            total += len(chunk)
            if total > max_total_bytes:
                raise UploadTooLargeError("body", None, max_total_bytes)
            parser.write(chunk)
        parser.finalize()
        if not parts or not finished:
            raise MalformedUploadError("the multipart body is incomplete (no closing boundary)")
    except (MalformedUploadError, UploadTooLargeError):
        upload.close()
        raise
    except MultipartParseError as exc:
        upload.close()
        raise MalformedUploadError(f"the multipart body cannot be read: {type(exc).__name__}") from None
    except BaseException:
        upload.close()
        raise
    return upload
