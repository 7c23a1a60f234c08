"""Schemas compiled by many threads at once (the API's thread pool at start-up) all work:
libxml2's compiler is not thread-safe, so connectors.xsd compiles one at a time."""

from __future__ import annotations

import threading

from connectors import xsd
from connectors.istandaard import Law


def test_threads_compiling_at_once_all_get_a_working_schema() -> None:
    failures: list[BaseException] = []
    start = threading.Barrier(16)

    def compile_and_validate() -> None:
        start.wait()
        try:
            for law in (Law.JEUGDWET, Law.WMO) * 3:
                xsd._per_thread.schemas = {}  # as a fresh thread of the pool
                schema = xsd.load_schema(law.schema_path(301))
                assert schema.validate is not None
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=compile_and_validate) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
