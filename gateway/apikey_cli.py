"""``gateway apikey create|rotate|revoke|list``: back-office clients and their keys.

Kept apart from :mod:`gateway.cli` (which only mounts it). Every change is recorded in
the audit log (actor kind ``cli``) in the same transaction. Keys are printed once and
stored only as a hash; ``list`` shows prefixes.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import structlog
import typer

from gateway.api_keys import ALL_SCOPES, create_client, list_clients, revoke_exact_key, revoke_key, rotate_key
from gateway.audit import ActorKind, record_audit
from gateway.runtime import Runtime
from gateway.settings import DEV_API_KEY, Settings
from gateway.store.database import transaction

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = structlog.get_logger("gateway.api")


def retire_development_key(runtime: Runtime) -> int:
    """Production start-up: revoke the Quickstart's published key if this database has it.

    A database first run in development mode (``gateway quickstart``) holds a client whose
    key is printed in the README; it must not open the API of the production gateway that
    takes the database over.
    """
    with transaction(runtime.sessions) as session:
        count = revoke_exact_key(session, DEV_API_KEY, runtime.clock.now())
        if count:
            record_audit(
                session,
                actor="gateway",
                actor_kind=ActorKind.SYSTEM,
                action="apikey.revoked",
                target="api_key:dev",
                reason="the development (Quickstart) key is published; production mode revokes it",
                now=runtime.clock.now(),
            )
    if count:
        log.warning("development_api_key_revoked", keys=count)
    return count


apikey_app = typer.Typer(help="Back-office API keys.", no_args_is_help=True)


def _settings() -> Settings:
    from gateway.cli import _settings as read_settings  # the one place settings errors are shown

    return read_settings()


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except OSError:
        return "cli"


@contextmanager
def _audited_change(runtime: Runtime) -> Iterator[Session]:
    """One transaction for the change and its audit entry; a refused change is a bad parameter."""
    try:
        with transaction(runtime.sessions) as session:
            yield session
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    finally:
        runtime.close()


def _record(
    session: Session, runtime: Runtime, action: str, target: str, details: dict[str, Any] | None = None
) -> None:
    record_audit(
        session,
        actor=_actor(),
        actor_kind=ActorKind.CLI,
        action=action,
        target=target,
        details=details,
        now=runtime.clock.now(),
    )


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Argument(help="The back-office system's name.")],
    scope: Annotated[
        list[str] | None, typer.Option(help=f"Repeatable; default all: {', '.join(ALL_SCOPES)}")
    ] = None,
    rate_per_minute: Annotated[
        int | None, typer.Option(min=1, help="Sustained requests per minute (default: GATEWAY_API_LIMITS).")
    ] = None,
    burst: Annotated[int | None, typer.Option(min=1, help="Requests at once above the rate.")] = None,
    max_body_bytes: Annotated[
        int | None, typer.Option(min=1024, help="Largest request body for this client (all routes).")
    ] = None,
) -> None:
    """Register a back-office client and print its key (shown once, stored hashed)."""
    runtime = Runtime.create(_settings())
    with _audited_change(runtime) as session:
        client, key = create_client(
            session,
            name,
            list(scope or ALL_SCOPES),
            runtime.clock.now(),
            rate_per_minute=rate_per_minute,
            burst=burst,
            max_body_bytes=max_body_bytes,
        )
        _record(
            session,
            runtime,
            "apikey.created",
            f"api_client:{client.name}",
            {"scopes": client.scopes, "rate_per_minute": rate_per_minute, "burst": burst},
        )
    typer.echo(key)


@apikey_app.command("rotate")
def apikey_rotate(
    name: Annotated[str, typer.Argument(help="The client whose key is rotated.")],
    old_valid_hours: Annotated[
        float | None,
        typer.Option(min=0, help="The old keys stop working after this many hours (default: until revoked)."),
    ] = None,
) -> None:
    """Print a new key for the client; its old keys keep working until revoked (or the grace ends)."""
    runtime = Runtime.create(_settings())
    grace = timedelta(hours=old_valid_hours) if old_valid_hours is not None else None
    with _audited_change(runtime) as session:
        row, key = rotate_key(session, name, runtime.clock.now(), grace)
        _record(
            session,
            runtime,
            "apikey.rotated",
            f"api_client:{name}",
            {"new_prefix": row.prefix, "old_valid_hours": old_valid_hours},
        )
    typer.echo(key)


@apikey_app.command("revoke")
def apikey_revoke(
    prefix: Annotated[str, typer.Argument(help="The key's prefix (gw_<prefix>_..., see `apikey list`).")],
) -> None:
    """Revoke a key at once (its client's other keys keep working)."""
    runtime = Runtime.create(_settings())
    with _audited_change(runtime) as session:
        count = revoke_key(session, prefix, runtime.clock.now())
        if count:
            _record(session, runtime, "apikey.revoked", f"api_key:{prefix}")
    if not count:
        typer.echo(f"no active key with prefix {prefix!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {count} key(s) with prefix {prefix}")


@apikey_app.command("list")
def apikey_list() -> None:
    """Every client: scopes, limits and keys (prefix, created, expires, revoked)."""
    runtime = Runtime.create(_settings())
    try:
        with runtime.sessions() as session:
            listings = list_clients(session)
    finally:
        runtime.close()
    for client in listings:
        limits = f"rate={client.rate_per_minute or 'default'}/min burst={client.burst or 'default'}"
        size = f"max_body={client.max_body_bytes or 'default'}"
        state = "" if client.active else " (inactive)"
        typer.echo(f"{client.name}{state}  scopes={','.join(client.scopes)}  {limits}  {size}")
        for key in client.keys:
            status = (
                "revoked"
                if key.revoked_at
                else (f"expires {key.expires_at:%Y-%m-%d %H:%M}" if key.expires_at else "active")
            )
            typer.echo(f"  gw_{key.prefix}_…  created {key.created_at:%Y-%m-%d %H:%M}  {status}")
