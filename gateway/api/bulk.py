"""``POST /api/v1/beschikkingen/bulk``: many beschikkingen as NDJSON, one result line each.

The body is spooled (to a temporary file beyond 8 MB), then handled in batches
(:mod:`gateway.bulk_intake`) and each batch's results are streamed as soon as its
transaction is committed, so a client sees progress and memory stays flat however long
the file. The status code is 200 once the stream starts; each line carries its own
outcome, and a last line ``{"summary": {...}}`` says the stream ended normally (a
stream without it was cut off: send the file again - accepted lines come back
``duplicate``).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import AsyncIterator, Iterator
from typing import IO, Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from gateway.api.auth import require_law, require_scope
from gateway.api.beschikking_models import BeschikkingIn
from gateway.api.problems import PROBLEM_JSON
from gateway.api_keys import SCOPE_BESCHIKKINGEN_WRITE
from gateway.bulk_intake import MAX_LINE_BYTES, LineResult, Summary, numbered_batches, process_batch
from gateway.runtime import Runtime
from gateway.store.tables import ApiClient

router = APIRouter(prefix="/api/v1", tags=["beschikkingen"])

_PROBLEM = {"content": {PROBLEM_JSON: {}}, "description": "problem+json"}
_NDJSON = "application/x-ndjson"


def _lines(spool: IO[bytes]) -> Iterator[bytes]:
    """Lines of the spooled body; a line longer than the limit is cut (and refused as too large)."""
    while line := spool.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := spool.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
        yield line


@router.post(
    "/beschikkingen/bulk",
    responses={
        200: {
            "content": {_NDJSON: {}},
            "description": "One JSON object per input line: line, status "
            "(accepted | duplicate | rejected | error), beschikkingnummer, id, berichten or problem; "
            'then {"summary": {"accepted": n, "duplicate": n, "rejected": n, "error": n}}',
        },
        401: _PROBLEM,
        403: _PROBLEM,
    },
    summary="Accept many beschikkingen (NDJSON, one per line); a result line per line",
)
async def post_bulk(
    request: Request,
    client: Annotated[ApiClient, Depends(require_scope(SCOPE_BESCHIKKINGEN_WRITE))],
) -> StreamingResponse:
    """Each line is the body of ``POST /api/v1/beschikkingen`` and gets the same checks.

    Lines are stored 200 to a transaction, each in its own savepoint: a rejected line
    never undoes another. ``accepted`` means committed. A beschikkingnummer that already
    exists is ``duplicate`` (with its id) and is not sent again, so re-sending a file is safe.
    """
    runtime: Runtime = request.app.state.runtime
    worker = getattr(request.app.state, "worker", None)
    client_id = client.id

    def permitted(data: Any) -> BeschikkingIn:
        """A line's beschikking, if this client may write its law (else the line gets 403)."""
        beschikking = BeschikkingIn.model_validate(data)
        require_law(client, beschikking.wet.value, "write")  # scopes per law: jeugdwet/wmo:write
        return beschikking

    # The body is spooled first (to disk beyond 8 MB, so memory stays flat): while the
    # response streams, the server reads the connection for a disconnect, not for body.
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - closed below
    async for chunk in request.stream():
        spool.write(chunk)
    spool.seek(0)

    async def results() -> AsyncIterator[bytes]:
        summary = Summary()
        try:
            for batch in numbered_batches(_lines(spool)):
                done: list[LineResult] = await run_in_threadpool(
                    process_batch, runtime, batch, client_id, permitted
                )
                if worker is not None:
                    worker.wake()
                out: list[dict[str, Any]] = []
                for result in done:
                    summary.add(result)
                    out.append(result.as_dict())
                yield "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in out).encode()
        finally:
            spool.close()
        yield (json.dumps({"summary": summary.as_dict()}) + "\n").encode()

    return StreamingResponse(results(), media_type=_NDJSON)
