"""The GGk endpoint's hop to a worker thread keeps what Starlette's ``run_in_threadpool`` gave.

The caller's context variables (correlation id, log and trace context) go along; an
exception comes back to the caller; and a cancelled request waits for its thread to
finish before the cancellation goes on, as anyio's ``run_sync`` does.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import signal
import threading
import time
from typing import Any

import anyio
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


def test_an_anyio_cancel_scope_does_not_make_the_wait_spin(monkeypatch: pytest.MonkeyPatch) -> None:
    """anyio re-delivers a scope's cancellation at every loop pass; unshielded, the wait
    for the thread became a busy loop of tens of thousands of ``asyncio.wait`` calls."""
    finished = threading.Event()
    waits = 0
    real_wait = asyncio.wait

    async def counting_wait(*args: Any, **kwargs: Any) -> Any:
        nonlocal waits
        waits += 1
        return await real_wait(*args, **kwargs)

    def slow() -> str:
        time.sleep(0.3)
        finished.set()
        return "done"

    async def main() -> None:
        with anyio.move_on_after(0.05):
            await _in_thread(slow)

    monkeypatch.setattr(asyncio, "wait", counting_wait)
    asyncio.run(main())
    assert finished.is_set()  # the scope ended only once the thread was done
    assert waits < 10


def test_a_forked_child_starts_its_own_pool() -> None:
    """A child of ``serve --processes`` forked after the pool existed gets a new one; the
    inherited one has no threads in the child and would leave requests waiting forever."""
    asyncio.run(_in_thread(lambda: None))  # the parent's pool now exists
    pid = os.fork()
    if pid == 0:  # the child: answer within 5 s or fail
        signal.signal(signal.SIGALRM, lambda *_: os._exit(1))
        signal.alarm(5)
        code = 1
        try:
            code = 0 if asyncio.run(_in_thread(lambda: "ok")) == "ok" else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
