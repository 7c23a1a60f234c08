"""``gateway`` command line: serve, worker, mocks, db, apikey.

Every command reads the same settings (``GATEWAY_*`` env vars, ``gateway.env``);
flags override them for one run.
"""

from __future__ import annotations

import gc
import signal
import socket
import threading
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import structlog
import typer
from pydantic import ValidationError
from sqlalchemy import select

from gateway import __version__, tracing
from gateway.api_keys import ALL_SCOPES, create_client
from gateway.apikey_cli import apikey_app, retire_development_key
from gateway.log_setup import configure_logging
from gateway.ops.cli_operator import operator_app
from gateway.ops.operators import retire_development_operator, seed_development_operator
from gateway.runtime import Runtime
from gateway.security_cli import audit_app, keys_app, prune_command
from gateway.settings import (
    DEV_API_KEY,
    DEV_OPERATOR_NAME,
    DEV_OPERATOR_PASSWORD,
    Mode,
    Settings,
    load_settings,
)
from gateway.store.database import transaction
from gateway.store.tables import ApiClient

# The API, the console, uvicorn, the delivery worker, TLS and alembic are imported inside
# the commands that use them: every command pays for this module's imports (and so does
# the fork server of ``gateway import --jobs N``, which preloads it for its jobs), and e.g.
# the FastAPI application alone is ~0.7 s CPU that an import run or ``--help`` never uses.
# The sub-command apps above stay: typer needs them to build ``--help``, and they import
# little beyond the runtime and the store that every command needs anyway.
if TYPE_CHECKING:
    import uvicorn

app = typer.Typer(
    help="Integration gateway for Dutch municipalities (iJw/iWmo 3.2 via the GGk).",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(apikey_app, name="apikey")
app.add_typer(operator_app, name="operator")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
app.command("prune")(prune_command)
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
    try:
        tracing.configure(settings.otel)  # GATEWAY_OTEL__ENABLED; a no-op when off
    except tracing.TracingUnavailableError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    return settings


def seed_development_client(runtime: Runtime) -> None:
    """Development mode: make sure the Quickstart's well-known key works."""
    with transaction(runtime.sessions) as session:
        if session.scalar(select(ApiClient.id).where(ApiClient.name == "quickstart")) is None:
            create_client(session, "quickstart", list(ALL_SCOPES), runtime.clock.now(), key=DEV_API_KEY)


def _prepare(settings: Settings) -> Runtime:
    from gateway.audit_recorders import record_configuration
    from gateway.store.migrate import upgrade

    upgrade(settings.effective_database_url)
    runtime = Runtime.create(settings)
    if settings.mode is Mode.DEVELOPMENT:
        seed_development_client(runtime)
        with transaction(runtime.sessions) as session:
            seed_development_operator(session, runtime)  # the console's documented dev login
    else:
        retire_development_key(runtime)  # a database taken over from the Quickstart
        retire_development_operator(runtime)  # ... and its published console login
    record_configuration(runtime)  # audit: a config.changed entry when the settings differ
    return runtime


def _mock_app(settings: Settings):  # type: ignore[no-untyped-def]
    from gateway.corv.quickstart import mount_mock_hub
    from mocks.ggk import MockGgkConfig
    from mocks.ggk import create_app as create_mock_app

    ggk = create_mock_app(
        MockGgkConfig(callback_url=settings.inbound_ggk_url, retour_delay_s=settings.mock_retour_delay_s)
    )
    return mount_mock_hub(ggk, settings)  # CORV: /corv/ebms and /_mock/corv/... on the same port


async def _serve_together(servers: list[tuple[uvicorn.Server, socket.socket | None]]) -> None:
    """Run the servers side by side; a pre-bound socket (``--processes``) is served as is."""
    import asyncio

    await asyncio.gather(
        *(server.serve(sockets=[sock]) if sock is not None else server.serve() for server, sock in servers)
    )


def _banner(settings: Settings, with_mocks: bool) -> None:
    from gateway.corv.quickstart import banner_line
    from gateway.tls.startup import announce

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
        lines.append(banner_line(settings))
    if settings.mode is Mode.DEVELOPMENT:
        lines += [
            "DEVELOPMENT MODE: plain HTTP, well-known API key, development BSN hash key.",
            "  Stored personal data is encrypted with the PUBLIC development key"
            " unless GATEWAY_ENCRYPTION__KEYS is set.",
            f"  API key for curl:  X-API-Key: {DEV_API_KEY}",
            f"  Console: {base}/console/  (login {DEV_OPERATOR_NAME} / {DEV_OPERATOR_PASSWORD})",
            "  Never run development mode with real personal data.",
        ]
    lines += announce(settings)  # transport security; logs insecure_development_mode
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
    with_worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="Run a delivery worker (and the overdue scanner) in this process. With "
            "--no-worker the process serves the API only; run `gateway worker` processes beside it.",
        ),
    ] = True,
    processes: Annotated[
        int,
        typer.Option(
            "--processes",
            min=1,
            max=64,
            help="Fork this many gateway processes sharing the listening socket, each with its "
            "own pool and (unless --no-worker) delivery worker: uses more than one core. PostgreSQL only.",
        ),
    ] = 1,
) -> None:
    """API and delivery worker in one process (migrates the database first)."""
    from gateway.serve_processes import listening_socket, run_children
    from gateway.tls.startup import production_problems

    settings = _settings(host, port)
    problems = production_problems(settings)
    for problem in problems:
        typer.echo(f"refusing to start: {problem}", err=True)
    if problems:
        raise typer.Exit(2)
    if processes > 1:
        refusal = _processes_problem(settings, with_mocks)
        if refusal:
            typer.echo(f"refusing to start: {refusal}", err=True)
            raise typer.Exit(2)
        _prepare(settings).close()  # migrate, seed and audit once; each child opens its own
        api_socket = listening_socket(settings.host, settings.port)
        chain_socket = (
            listening_socket(settings.host, settings.chain_tls.port) if settings.chain_tls.enabled else None
        )
        _banner(settings, with_mocks)
        typer.echo(f"  {processes} processes share the listening socket(s), each with its own pool.")
        if not with_worker:
            typer.echo(
                "  --no-worker: these processes serve the API only; messages wait for `gateway worker`."
            )

        def child(_index: int) -> None:
            _serve_process(settings, with_worker, False, api_socket, chain_socket)

        # What every child needs is imported once, here, before the fork: the children share
        # those pages instead of each paying ~0.7 s CPU and ~35 MB to import them again.
        import uvicorn  # noqa: F401

        import gateway.app
        import gateway.delivery.assembly
        import gateway.tls.startup  # noqa: F401

        gc.collect()
        gc.freeze()
        raise typer.Exit(run_children(processes, child))
    _banner(settings, with_mocks)
    if not with_worker:
        typer.echo("  --no-worker: this process serves the API only; messages wait for `gateway worker`.")
    _serve_process(settings, with_worker, with_mocks, None, None, runtime=_prepare(settings))


def _processes_problem(settings: Settings, with_mocks: bool) -> str | None:
    if settings.effective_database_url.startswith("sqlite"):
        return "--processes needs PostgreSQL (SQLite is one process by design)"
    if with_mocks:
        return "--processes cannot be combined with --with-mocks (run `gateway mocks` beside it)"
    return None


def _serve_process(
    settings: Settings,
    with_worker: bool,
    with_mocks: bool,
    api_socket: socket.socket | None,
    chain_socket: socket.socket | None,
    runtime: Runtime | None = None,
) -> None:
    """One gateway process: the API (and the chain listener), its worker unless told not."""
    import asyncio

    import uvicorn

    from gateway.app import create_app
    from gateway.delivery.assembly import build_worker
    from gateway.tls.startup import api_tls_options, chain_listener

    runtime = runtime or Runtime.create(settings)
    worker = build_worker(runtime) if with_worker else None
    gateway_app = create_app(runtime, worker)
    servers = [
        (
            uvicorn.Server(
                uvicorn.Config(
                    gateway_app,
                    host=settings.host,
                    port=settings.port,
                    log_config=None,
                    access_log=False,
                    **api_tls_options(settings),
                )
            ),
            api_socket,
        )
    ]
    # Production: the chain endpoints on their own mutual-TLS listener (docs/security-transport.md).
    chain_server = chain_listener(gateway_app, settings, log_config=None, access_log=False)
    if chain_server is not None:
        servers.append((chain_server, chain_socket))
    if with_mocks:
        servers.append(
            (
                uvicorn.Server(
                    uvicorn.Config(
                        _mock_app(settings),
                        host="127.0.0.1",
                        port=settings.mock_port,
                        log_config=None,
                        access_log=False,
                    )
                ),
                None,
            )
        )
    # ``docker stop`` sends SIGTERM: shut down like Ctrl+C (gracefully, exit code 0).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    # Everything alive now (modules, the app, schemas, templates) lives as long as the
    # process: kept out of the collector, a full collection no longer walks it (~0.1 ms per
    # decision in bulk, measured).
    gc.freeze()
    try:
        # uvicorn's own loop choice (uvloop when installed): Server.serve() under a plain
        # asyncio.run() would ignore Config(loop=...) and run the stock loop, ~3 % more CPU
        # per request (measured with callgrind).
        with asyncio.Runner(loop_factory=servers[0][0].config.get_loop_factory()) as runner:
            runner.run(_serve_together(servers))
    except KeyboardInterrupt:
        # uvicorn shuts down gracefully on Ctrl+C, then re-raises the captured SIGINT.
        pass
    finally:
        runtime.close()


@app.command()
def worker() -> None:
    """Only the delivery worker (run several, on several machines, against PostgreSQL)."""
    from gateway.app import SCANNER_JOBS
    from gateway.audit_recorders import record_configuration
    from gateway.deadlines import OverdueScanner
    from gateway.delivery import wakeups
    from gateway.delivery.assembly import build_worker
    from gateway.delivery.wakeups import libpq_url, listener_thread

    settings = _settings()
    runtime = Runtime.create(settings)
    record_configuration(runtime)  # audit: a config.changed entry when the settings differ
    delivery = build_worker(runtime)
    stop = threading.Event()

    def _stop(*_: object) -> None:
        stop.set()
        delivery.wake()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stop)
    scanner = threading.Thread(
        target=OverdueScanner(runtime, jobs=list(SCANNER_JOBS)).run,
        args=(stop,),
        name="overdue-scanner",
        daemon=True,
    )
    scanner.start()
    # PostgreSQL: woken when another process queues work, not only at the next poll.
    listener = (
        listener_thread(libpq_url(runtime.engine), delivery, stop) if wakeups.enabled(runtime) else None
    )
    if listener is not None:
        listener.start()
    gc.freeze()  # start-up's objects stay for the process's life; see _serve_process
    delivery.run(stop)
    scanner.join(timeout=10)
    if listener is not None:
        listener.join(timeout=5)
    runtime.close()


@app.command()
def mocks(
    port: Annotated[int | None, typer.Option(help="Port of the mock GGk (GATEWAY_MOCK_PORT).")] = None,
    callback_url: Annotated[str | None, typer.Option(help="The gateway's inbound GGk endpoint.")] = None,
) -> None:
    """Only the mock chain parties (GGk with its aanbieders)."""
    import uvicorn

    from gateway.corv.quickstart import banner_line, mount_mock_hub
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
    typer.echo(banner_line(settings))
    mock_app = mount_mock_hub(create_mock_app(config), settings)
    uvicorn.run(mock_app, host="127.0.0.1", port=port or settings.mock_port, log_config=None)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Create or migrate the database schema."""
    from gateway.store.migrate import upgrade

    settings = _settings()
    upgrade(settings.effective_database_url, revision)
    typer.echo(f"database at {revision}: {settings.effective_database_url.split('@')[-1]}")


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="NDJSON, one per line.")],
    indicaties: Annotated[
        bool, typer.Option("--indicaties", help="Lines are legacy CIZ/BJZ indications (overgangsrecht 2015).")
    ] = False,
    results: Annotated[Path | None, typer.Option(help="Write every line's result here (NDJSON).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=5000, help="Lines per transaction.")] = 200,
    jobs: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Worker processes, lines partitioned by client (PostgreSQL only; SQLite has one writer).",
        ),
    ] = 1,
) -> None:
    """Bulk intake of beschikkingen (or legacy indications); re-run it after a crash to continue."""
    from gateway.bulk_import_forkserver import start_fork_server

    settings = _settings()
    if jobs > 1 and settings.effective_database_url.startswith("sqlite"):
        typer.echo("--jobs > 1 needs PostgreSQL: SQLite has one writer (use --jobs 1)", err=True)
        raise typer.Exit(2)
    if jobs > 1:
        start_fork_server()  # it imports the intake while this process does so and checks the schema
    from gateway.bulk_import_cli import run_import
    from gateway.bulk_import_jobs import ImportIncomplete, line_ranges
    from gateway.store.migrate import upgrade

    upgrade(settings.effective_database_url)
    runtime = Runtime.create(settings)
    incomplete: ImportIncomplete | None = None
    # For the run, what is loaded by now (the gateway, its schema) is left out of the
    # garbage collector's full collections: they walk the whole heap (~0.1 s each, a
    # dozen per 10,000 lines, ~20% of the CPU of an import). Undone after the run.
    gc.freeze()
    try:
        with results.open("w", encoding="utf-8") if results else nullcontext() as out:
            try:
                summary, problems = run_import(
                    runtime, file, indicaties=indicaties, results=out, batch_size=batch_size, jobs=jobs
                )
            except ImportIncomplete as exc:
                incomplete, summary, problems = exc, exc.summary, exc.problems
    finally:
        gc.unfreeze()
        runtime.close()
    for problem in problems:
        detail = (problem.problem or {}).get("detail") or (problem.problem or {}).get("title", "")
        typer.echo(f"line {problem.line}: {problem.status}: {detail}", err=True)
    counts = summary.as_dict()
    typer.echo(", ".join(f"{name} {count}" for name, count in counts.items()))
    if incomplete is not None:
        unknown = line_ranges(incomplete.unknown) or "none"
        typer.echo(
            f"import incomplete: {incomplete.reason}; lines without a result: {unknown}; "
            "run the same command again (what was accepted is reported duplicate)",
            err=True,
        )
        raise typer.Exit(130 if incomplete.reason.startswith("interrupted") else 3)
    if summary.rejected or summary.error:
        raise typer.Exit(1)


def main() -> None:
    app()
