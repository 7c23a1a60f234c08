"""``gateway`` command line: serve, worker, mocks, db, apikey.

Every command reads the same settings (``GATEWAY_*`` env vars, ``gateway.env``);
flags override them for one run.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from typing import Annotated

import structlog
import typer
import uvicorn
from pydantic import ValidationError
from sqlalchemy import select

from gateway import __version__
from gateway.api_keys import ALL_SCOPES, create_client
from gateway.app import create_app
from gateway.deadlines import OverdueScanner
from gateway.delivery.assembly import build_worker
from gateway.eigen_bijdrage import sweep_ended
from gateway.log_setup import configure_logging
from gateway.runtime import Runtime
from gateway.settings import DEV_API_KEY, Mode, Settings, load_settings
from gateway.store.database import transaction
from gateway.store.migrate import upgrade
from gateway.store.tables import ApiClient

app = typer.Typer(
    help="Integration gateway for Dutch municipalities (iJw/iWmo 3.2 via the GGk).",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
apikey_app = typer.Typer(help="Back-office API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(apikey_app, name="apikey")
log = structlog.get_logger("gateway.cli")

Host = Annotated[str | None, typer.Option(help="Interface to listen on (GATEWAY_HOST).")]
Port = Annotated[int | None, typer.Option(help="Port to listen on (GATEWAY_PORT).")]


def _settings(host: str | None = None, port: int | None = None) -> Settings:
    overrides: dict[str, object] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    try:
        settings = load_settings(**overrides)
    except ValidationError as exc:
        # One line per problem, without pydantic's echo of the input (it holds secrets).
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "settings"
            typer.echo(f"invalid setting {where}: {error['msg']}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, json=settings.log_json)
    return settings


def seed_development_client(runtime: Runtime) -> None:
    """Development mode: make sure the Quickstart's well-known key works."""
    with transaction(runtime.sessions) as session:
        if session.scalar(select(ApiClient.id).where(ApiClient.name == "quickstart")) is None:
            create_client(session, "quickstart", list(ALL_SCOPES), runtime.clock.now(), key=DEV_API_KEY)


def _prepare(settings: Settings) -> Runtime:
    upgrade(settings.effective_database_url)
    runtime = Runtime.create(settings)
    if settings.mode is Mode.DEVELOPMENT:
        seed_development_client(runtime)
    return runtime


def _mock_app(settings: Settings):  # type: ignore[no-untyped-def]
    from mocks.ggk import MockGgkConfig
    from mocks.ggk import create_app as create_mock_app

    return create_mock_app(
        MockGgkConfig(callback_url=settings.inbound_ggk_url, retour_delay_s=settings.mock_retour_delay_s)
    )


async def _serve_together(servers: list[uvicorn.Server]) -> None:
    await asyncio.gather(*(server.serve() for server in servers))


def _banner(settings: Settings, with_mocks: bool) -> None:
    base = settings.effective_public_base_url
    lines = [
        f"gateway {__version__} on {base}  (OpenAPI: {base}/docs)",
        f"database: {settings.effective_database_url.split('@')[-1]}",
        f"GGk endpoint: {settings.effective_ggk_url}",
    ]
    if with_mocks:
        lines.append(
            f"mock GGk + aanbieders on http://127.0.0.1:{settings.mock_port} (AGB 99990001..99990005)"
        )
    if settings.mode is Mode.DEVELOPMENT:
        lines += [
            "DEVELOPMENT MODE: plain HTTP, well-known API key, development BSN hash key.",
            f"  API key for curl:  X-API-Key: {DEV_API_KEY}",
            "  Never run development mode with real personal data.",
        ]
    width = max(len(line) for line in lines) + 4
    typer.echo("=" * width)
    for line in lines:
        typer.echo(f"  {line}")
    typer.echo("=" * width)


@app.command()
def serve(
    with_mocks: Annotated[
        bool, typer.Option("--with-mocks", help="Also run the mock GGk + aanbieders.")
    ] = False,
    host: Host = None,
    port: Port = None,
) -> None:
    """API and delivery worker in one process (migrates the database first)."""
    settings = _settings(host, port)
    runtime = _prepare(settings)
    worker = build_worker(runtime)
    servers = [
        uvicorn.Server(
            uvicorn.Config(
                create_app(runtime, worker),
                host=settings.host,
                port=settings.port,
                log_config=None,
                access_log=False,
            )
        )
    ]
    if with_mocks:
        servers.append(
            uvicorn.Server(
                uvicorn.Config(
                    _mock_app(settings),
                    host="127.0.0.1",
                    port=settings.mock_port,
                    log_config=None,
                    access_log=False,
                )
            )
        )
    _banner(settings, with_mocks)
    # ``docker stop`` sends SIGTERM: shut down like Ctrl+C (gracefully, exit code 0).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        asyncio.run(_serve_together(servers))
    except KeyboardInterrupt:
        # uvicorn shuts down gracefully on Ctrl+C, then re-raises the captured SIGINT.
        pass
    finally:
        runtime.close()


@app.command()
def worker() -> None:
    """Only the delivery worker (run several, on several machines, against PostgreSQL)."""
    settings = _settings()
    runtime = Runtime.create(settings)
    delivery = build_worker(runtime)
    stop = threading.Event()

    def _stop(*_: object) -> None:
        stop.set()
        delivery.wake()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stop)
    scanner = threading.Thread(
        target=OverdueScanner(runtime, jobs=[sweep_ended]).run,
        args=(stop,),
        name="overdue-scanner",
        daemon=True,
    )
    scanner.start()
    delivery.run(stop)
    scanner.join(timeout=10)
    runtime.close()


@app.command()
def mocks(
    port: Annotated[int | None, typer.Option(help="Port of the mock GGk (GATEWAY_MOCK_PORT).")] = None,
    callback_url: Annotated[str | None, typer.Option(help="The gateway's inbound GGk endpoint.")] = None,
) -> None:
    """Only the mock chain parties (GGk with its aanbieders)."""
    from mocks.ggk import MockGgkConfig
    from mocks.ggk import create_app as create_mock_app

    settings = _settings()
    config = MockGgkConfig(
        callback_url=callback_url or settings.inbound_ggk_url, retour_delay_s=settings.mock_retour_delay_s
    )
    typer.echo(
        f"mock GGk on http://127.0.0.1:{port or settings.mock_port}/ggk/soap"
        f" -> retours to {config.callback_url}"
    )
    uvicorn.run(create_mock_app(config), host="127.0.0.1", port=port or settings.mock_port, log_config=None)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Create or migrate the database schema."""
    settings = _settings()
    upgrade(settings.effective_database_url, revision)
    typer.echo(f"database at {revision}: {settings.effective_database_url.split('@')[-1]}")


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Argument(help="The back-office system's name.")],
    scope: Annotated[
        list[str] | None, typer.Option(help=f"Repeatable; default all: {', '.join(ALL_SCOPES)}")
    ] = None,
) -> None:
    """Register a back-office client and print its key (shown once, stored hashed)."""
    settings = _settings()
    runtime = Runtime.create(settings)
    try:
        with transaction(runtime.sessions) as session:
            _client, key = create_client(session, name, list(scope or ALL_SCOPES), runtime.clock.now())
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    finally:
        runtime.close()
    typer.echo(key)


def main() -> None:
    app()
