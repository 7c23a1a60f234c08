"""The GGk endpoint's hop to a worker thread keeps what Starlette's ``run_in_threadpool`` gave.

The caller's context variables (correlation id, log and trace context) go along; an
exception comes back to the caller; and a cancelled request waits for its thread to
finish before the cancellation goes on, as anyio's ``run_sync`` does.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from gateway.api.inbound_ggk import _in_thread

CORRELATION: contextvars.ContextVar[str] = contextvars.ContextVar("test_correlation", default="none")


def test_the_callers_context_variables_go_along() -> None:
    async def main() -> tuple[str, str]:
        CORRELATION.set("req-1")
        return await _in_thread(lambda: (CORRELATION.get(), threading.current_thread().name))

    seen, thread = asyncio.run(main())
    assert seen == "req-1"
    assert thread.startswith("ggk-inbound")


def test_an_exception_in_the_thread_reaches_the_caller() -> None:
    def fail() -> None:
        raise LookupError("no such message")

    with pytest.raises(LookupError, match="no such message"):
        asyncio.run(_in_thread(fail))


def test_a_cancelled_request_waits_for_its_thread() -> None:
    finished = threading.Event()

    def slow() -> str:
        time.sleep(0.3)
        finished.set()
        return "done"

    async def main() -> bool:
        task = asyncio.create_task(_in_thread(slow))
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.sleep(0.01)
        task.cancel()  # cancelled again while it waits: still waits
        with pytest.raises(asyncio.CancelledError):
            await task
        return finished.is_set()

    assert asyncio.run(main()) is True
