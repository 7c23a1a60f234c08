"""The gateway's API and inbound endpoint in a process of its own, without a delivery worker.

``gateway serve`` embeds a worker; the fault-injection run wants the workers as separate
processes it can kill, so it starts the API with this instead::

    python -m tests.faults.api_only      # settings from GATEWAY_* as usual
"""

from __future__ import annotations

import uvicorn

from gateway.app import create_app
from gateway.log_setup import configure_logging
from gateway.runtime import Runtime
from gateway.settings import load_settings


def main() -> None:
    settings = load_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    runtime = Runtime.create(settings)
    try:
        uvicorn.run(
            create_app(runtime),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
        )
    finally:
        runtime.close()


if __name__ == "__main__":
    main()
