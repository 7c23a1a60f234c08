"""``gateway audit ...``, ``gateway keys ...`` and ``gateway prune``: the security commands.

Kept apart from :mod:`gateway.cli` (which only mounts them) so the security layer's
commands live with it. Settings are read the same way as every other command.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from gateway.audit import chain_head, verify_chain
from gateway.encryption import EncryptionError, KeyConfigurationError, check_key_id, new_key
from gateway.key_rotation import add_key_to_file, record_rotation, reencrypt
from gateway.retention import prune
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.store.encrypted_types import key_ring_for

audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


def _settings() -> Settings:
    from gateway.cli import _settings as read_settings  # the one place settings errors are shown

    return read_settings()


@audit_app.command("verify")
def audit_verify(
    batch_size: Annotated[int, typer.Option(help="Entries read per query.", min=1)] = 1000,
) -> None:
    """Check every link of the audit chain; report the first broken one (exit 1)."""
    runtime = Runtime.create(_settings())
    try:
        with runtime.sessions() as session:
            broken = verify_chain(session, batch_size=batch_size)
            seq, head_hash = chain_head(session)
    finally:
        runtime.close()
    if broken is not None:
        typer.echo(f"audit chain BROKEN at {broken}", err=True)
        raise typer.Exit(1)
    typer.echo(f"audit chain intact: {seq} entries, head {head_hash}")


keys_app = typer.Typer(help="Encryption-at-rest keys.", no_args_is_help=True)


@keys_app.command("rotate")
def keys_rotate(
    key_id: Annotated[str, typer.Argument(help="Id of the new key, e.g. 2027-01.")],
) -> None:
    """Create a new active key: written to the key file, or printed for GATEWAY_ENCRYPTION__KEYS."""
    settings = _settings()
    key_file = settings.encryption.key_file
    try:
        check_key_id(key_id)
    except KeyConfigurationError as exc:
        raise typer.BadParameter(str(exc)) from None
    if key_file is not None:
        try:
            add_key_to_file(key_file, key_id)
        except (ValueError, KeyConfigurationError) as exc:
            raise typer.BadParameter(str(exc)) from None
        typer.echo(f"key {key_id} added to {key_file} and made active.")
    else:
        if key_id in settings.encryption.keys:
            raise typer.BadParameter(f"key id {key_id!r} exists already")
        keys = {**settings.encryption.keys, key_id: new_key()}
        typer.echo("Set (keep the old keys until `gateway keys reencrypt` has run):")
        typer.echo(f"GATEWAY_ENCRYPTION__KEYS='{json.dumps(keys)}'")
        typer.echo(f"GATEWAY_ENCRYPTION__ACTIVE_KEY={key_id}")
    typer.echo("Then restart every gateway process and run: gateway keys reencrypt")
    runtime = Runtime.create(settings)
    try:
        record_rotation(runtime, key_id, actor="cli")
    finally:
        runtime.close()


@keys_app.command("reencrypt")
def keys_reencrypt(
    batch_size: Annotated[int, typer.Option(help="Rows per transaction.", min=1)] = 500,
) -> None:
    """Re-encrypt every stored value not under the active key (also plaintext from before 0003)."""
    runtime = Runtime.create(_settings())
    try:
        counts = reencrypt(runtime, batch_size=batch_size)
        active = key_ring_for(runtime.engine.dialect).active_id
    except EncryptionError as exc:
        typer.echo(f"re-encryption stopped: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        runtime.close()
    typer.echo(f"re-encrypted under key {active}: {sum(counts.values())} values")
    for column, count in counts.items():
        if count:
            typer.echo(f"  {column}: {count}")


def prune_command() -> None:
    """Remove what retention says is due now (bodies, then metadata) and record the run."""
    runtime = Runtime.create(_settings())
    try:
        removed = prune(runtime, trigger="cli", actor="cli")
    finally:
        runtime.close()
    typer.echo("pruned: " + ", ".join(f"{kind} {count}" for kind, count in removed.items()))
