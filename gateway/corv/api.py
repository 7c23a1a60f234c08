"""``/api/v1/corv``: VTOs to the Raad, notificaties and zorgmeldingen from the justice chain.

``POST /vto`` takes ``multipart/form-data`` (a JSON part ``vto`` plus one file part
per document, streamed to disk) or, for small documents, ``application/json`` with
each document's ``inhoud`` in base64.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from gateway.api.auth import require_scope
from gateway.api.problems import PROBLEM_JSON, FieldError, Problem, validation_problem
from gateway.api_keys import SCOPE_CORV_READ, SCOPE_CORV_WRITE
from gateway.corv.api_models import (
    NotificatieList,
    NotificatieOut,
    TerugkoppelingIn,
    VtoIn,
    VtoOut,
    ZorgmeldingList,
    ZorgmeldingOut,
)
from gateway.corv.outbound import spool_file
from gateway.corv.upload import MalformedUploadError, Upload, UploadTooLargeError, read_form
from gateway.corv.views import NOTIFICATIE_SOORTEN, notificatie_out, vto_out, zorgmelding_out
from gateway.corv.vto import DocumentContent, accept_vto, too_large
from gateway.corv.zorgmeldingen import send_terugkoppeling
from gateway.runtime import Runtime
from gateway.store.corv_tables import CorvInbound, CorvVto, CorvZorgmelding
from gateway.store.tables import ApiClient

router = APIRouter(prefix="/api/v1/corv", tags=["corv"])
_PROBLEM = {"content": {PROBLEM_JSON: {}}, "description": "problem+json"}
Reader = Annotated[ApiClient, Depends(require_scope(SCOPE_CORV_READ))]
Writer = Annotated[ApiClient, Depends(require_scope(SCOPE_CORV_WRITE))]
#: The JSON part of a multipart VTO (the documents are separate parts).
VTO_PART = "vto"
_MAX_JSON_PART = 1024 * 1024

_VTO_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [VTO_PART],
                    "properties": {
                        VTO_PART: {
                            "type": "string",
                            "description": "The VtoIn JSON; documents name their part.",
                        },
                    },
                    "additionalProperties": {"type": "string", "format": "binary"},
                }
            },
            "application/json": {"schema": {"$ref": "#/components/schemas/VtoIn"}},
        },
    }
}


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _invalid(exc: ValidationError, prefix: str) -> RequestValidationError:
    errors = [{**e, "loc": (prefix, *e.get("loc", ()))} for e in exc.errors(include_input=False)]
    return RequestValidationError(errors)


async def _read_json(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, "request-too-large", "The request is too large", f"at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _json_documents(runtime: Runtime, body: VtoIn) -> list[DocumentContent]:
    limit = runtime.settings.corv.max_document_bytes
    contents: list[DocumentContent] = []
    try:
        for i, document in enumerate(body.documenten):
            field = f"documenten[{i}].inhoud"
            if document.inhoud is None:
                raise validation_problem([FieldError(field, "required", "the document's content, base64")])
            if len(document.inhoud) * 3 // 4 > limit + 3:
                raise too_large(f"documenten[{i}]", document.bestandsnaam, limit)
            try:
                data = base64.b64decode(document.inhoud, validate=True)
            except (binascii.Error, ValueError):
                raise validation_problem([FieldError(field, "base64", "not valid base64")]) from None
            file = spool_file(runtime.settings)
            file.write(data)
            file.seek(0)
            contents.append(DocumentContent(f"documenten[{i}]", file, len(data)))
    except BaseException:
        for content in contents:
            content.file.close()
        raise
    return contents


def _multipart_documents(upload: Upload, body: VtoIn) -> list[DocumentContent]:
    errors: list[FieldError] = []
    contents: list[DocumentContent] = []
    used = {VTO_PART}
    for i, document in enumerate(body.documenten):
        part = upload.parts.get(document.part or "")
        if document.inhoud is not None:
            errors.append(
                FieldError(f"documenten[{i}].inhoud", "multipart-no-inhoud", "send the file as a part")
            )
        elif part is None or part.file is None:
            errors.append(
                FieldError(
                    f"documenten[{i}].part", "part-missing", "name the file part holding this document"
                )
            )
        elif part.name in used:
            errors.append(
                FieldError(f"documenten[{i}].part", "part-reused", "each document needs its own part")
            )
        else:
            used.add(part.name)
            contents.append(DocumentContent(f"documenten[{i}]", part.file, part.size))
    unused = sorted(set(upload.parts) - used)
    if unused:
        errors.append(FieldError(unused[0][:100], "part-unused", "a file part no document refers to"))
    if errors:
        raise validation_problem(errors)
    return contents


@router.post(
    "/vto",
    status_code=201,
    response_model=VtoOut,
    summary="Send a verzoek tot onderzoek (vtoDi01) to the Raad voor de Kinderbescherming",
    responses={400: _PROBLEM, 409: _PROBLEM, 413: _PROBLEM, 415: _PROBLEM, 422: _PROBLEM},
    openapi_extra=_VTO_BODY,
)
async def post_vto(request: Request, client: Writer, response: Response) -> VtoOut:
    runtime = _runtime(request)
    settings = runtime.settings.corv
    content_type = request.headers.get("content-type", "")
    upload: Upload | None = None
    contents: list[DocumentContent] = []
    try:
        if content_type.lower().startswith("multipart/form-data"):
            try:
                upload = await read_form(
                    request.stream(),
                    content_type,
                    new_file=lambda: spool_file(runtime.settings),
                    max_file_bytes=settings.max_document_bytes,
                    max_field_bytes=_MAX_JSON_PART,
                    max_total_bytes=settings.max_message_bytes,
                )
            except MalformedUploadError as exc:
                raise Problem(
                    400, "malformed-multipart", "The multipart body cannot be read", str(exc)
                ) from None
            except UploadTooLargeError as exc:
                if exc.part == "body":
                    raise Problem(413, "request-too-large", "The request is too large", str(exc)) from None
                raise too_large(exc.part, exc.filename, exc.limit) from None
            part = upload.parts.get(VTO_PART)
            if part is None:
                raise validation_problem(
                    [FieldError(VTO_PART, "required", "the VTO as a JSON part named 'vto'")]
                )
            raw = bytes(part.data) if part.file is None else part.file.read(_MAX_JSON_PART + 1)
            try:
                body = VtoIn.model_validate_json(raw)
            except ValidationError as exc:
                raise _invalid(exc, VTO_PART) from None
            contents = _multipart_documents(upload, body)
        elif content_type.lower().startswith("application/json"):
            raw = await _read_json(request, settings.max_message_bytes)
            try:
                body = VtoIn.model_validate_json(raw)
            except ValidationError as exc:
                raise _invalid(exc, "body") from None
            del raw
            contents = _json_documents(runtime, body)
        else:
            raise Problem(
                415,
                "unsupported-media-type",
                "Send multipart/form-data or application/json",
                content_type[:80],
            )
        vto_id = await run_in_threadpool(accept_vto, runtime, body, contents, client.id)
    finally:
        for content in contents:
            content.file.close()
        if upload is not None:
            upload.close()
    response.headers["Location"] = f"/api/v1/corv/vto/{vto_id}"
    with runtime.sessions() as session:
        vto = session.get(CorvVto, vto_id)
        assert vto is not None
        return vto_out(session, vto)


@router.get("/vto/{vto_id}", response_model=VtoOut, responses={404: _PROBLEM})
def get_vto(vto_id: int, request: Request, _client: Reader) -> VtoOut:
    """The VTO's state (queued, sent, acknowledged, accepted, rejected, parked, expired) and notificaties."""
    with _runtime(request).sessions() as session:
        vto = session.get(CorvVto, vto_id)
        if vto is None:
            raise Problem(404, "not-found", "No such VTO", f"VTO {vto_id} does not exist")
        return vto_out(session, vto)


@router.get("/notificaties", response_model=NotificatieList)
def list_notificaties(
    request: Request,
    _client: Reader,
    status: Annotated[
        str | None, Query(pattern="^(matched|unmatched)$", description="matched: linked to a VTO")
    ] = None,
    soort: Annotated[str | None, Query(pattern="^(notificatie|notificatiejr)$")] = None,
    zaak_identificatie: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> NotificatieList:
    """Notificaties (Raad) and notificatiejr (jeugdreclassering); ``status=unmatched``: no VTO of ours."""
    query = select(CorvInbound).where(
        CorvInbound.soort.in_(NOTIFICATIE_SOORTEN), CorvInbound.status == "accepted"
    )
    if status:
        query = query.where(CorvInbound.koppeling == status)
    if soort:
        query = query.where(CorvInbound.soort == soort)
    if zaak_identificatie:
        query = query.where(CorvInbound.zaak_identificatie == zaak_identificatie)
    with _runtime(request).sessions() as session:
        rows = session.scalars(query.order_by(CorvInbound.id).limit(limit)).all()
        return NotificatieList(items=[notificatie_out(row) for row in rows])


@router.get("/notificaties/{notificatie_id}", response_model=NotificatieOut, responses={404: _PROBLEM})
def get_notificatie(notificatie_id: int, request: Request, _client: Reader) -> NotificatieOut:
    with _runtime(request).sessions() as session:
        row = session.get(CorvInbound, notificatie_id)
        if row is None or row.soort not in NOTIFICATIE_SOORTEN:
            raise Problem(
                404, "not-found", "No such notificatie", f"notificatie {notificatie_id} does not exist"
            )
        return notificatie_out(row)


@router.get("/zorgmeldingen", response_model=ZorgmeldingList)
def list_zorgmeldingen(
    request: Request,
    _client: Reader,
    status: Annotated[str | None, Query(pattern="^(open|teruggekoppeld)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ZorgmeldingList:
    query = select(CorvZorgmelding)
    if status:
        query = query.where(CorvZorgmelding.status == status)
    with _runtime(request).sessions() as session:
        rows = session.scalars(query.order_by(CorvZorgmelding.id).limit(limit)).all()
        return ZorgmeldingList(items=[zorgmelding_out(session, row) for row in rows])


@router.get("/zorgmeldingen/{zorgmelding_id}", response_model=ZorgmeldingOut, responses={404: _PROBLEM})
def get_zorgmelding(zorgmelding_id: int, request: Request, _client: Reader) -> ZorgmeldingOut:
    with _runtime(request).sessions() as session:
        row = session.get(CorvZorgmelding, zorgmelding_id)
        if row is None:
            raise Problem(
                404, "not-found", "No such zorgmelding", f"zorgmelding {zorgmelding_id} does not exist"
            )
        return zorgmelding_out(session, row)


@router.post(
    "/zorgmeldingen/{zorgmelding_id}/terugkoppeling",
    response_model=ZorgmeldingOut,
    responses={404: _PROBLEM, 409: _PROBLEM, 422: _PROBLEM},
)
def post_terugkoppeling(
    zorgmelding_id: int, body: TerugkoppelingIn, request: Request, _client: Writer
) -> ZorgmeldingOut:
    """Answer a zorgmelding: geen actie nodig / vervolgactie nodig (zorgmeldingTerugkoppelingDi01)."""
    runtime = _runtime(request)
    send_terugkoppeling(runtime, zorgmelding_id, body)
    with runtime.sessions() as session:
        row = session.get(CorvZorgmelding, zorgmelding_id)
        assert row is not None
        return zorgmelding_out(session, row)
