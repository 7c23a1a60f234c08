"""Run an ASGI app on a real loopback port in a background thread, for tests.

Tests talk to the gateway and the mocks over real HTTP; this starts uvicorn on a free
port and stops it again, without a subprocess.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def live_server(app: Any, port: int | None = None, **options: Any) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 and yield its base URL (``http://127.0.0.1:PORT``).

    ``options`` go to ``uvicorn.Config`` (e.g. ``ssl_certfile``: the URL is then https).
    """
    port = port or free_port()
    options = {"log_level": "warning", "lifespan": "on", **options}
    with live_config(uvicorn.Config(app, host="127.0.0.1", port=port, **options)) as url:
        yield url


@contextmanager
def live_config(config: uvicorn.Config) -> Iterator[str]:
    """Serve a ready uvicorn config in a thread; yield ``http(s)://127.0.0.1:PORT``."""
    port = config.port
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"live-server-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"server on port {port} did not start")
        time.sleep(0.01)
    try:
        yield f"{'https' if config.is_ssl else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
