"""``gateway operator ...``: operator accounts for the console and the ops API."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.log_setup import configure_logging
from gateway.ops.errors import OpsError
from gateway.ops.operators import Role, create_operator, list_operators, set_role
from gateway.runtime import Runtime
from gateway.settings import load_settings
from gateway.store.database import transaction

operator_app = typer.Typer(help="Operators of the console and the ops API.", no_args_is_help=True)


def _runtime() -> Runtime:
    settings = load_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    return Runtime.create(settings)


@operator_app.command("create")
def operator_create(
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[
        str, typer.Option(help=f"One of {', '.join(r.value for r in Role)}.")
    ] = Role.VIEWER.value,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input (scripts).")
    ] = False,
) -> None:
    """Create an operator; the password is prompted for (twice) or read from stdin, stored as Argon2id."""
    if password_stdin:
        password = typer.get_text_stream("stdin").readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    runtime = _runtime()
    try:
        with transaction(runtime.sessions) as session:
            operator = create_operator(session, runtime, name, password, role)
    except OpsError as exc:
        raise typer.BadParameter(str(exc)) from None
    finally:
        runtime.close()
    typer.echo(f"operator {operator.name} created with role {operator.role.value}")


@operator_app.command("role")
def operator_role(
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Argument(help=f"One of {', '.join(r.value for r in Role)}.")],
) -> None:
    """Change an operator's role."""
    runtime = _runtime()
    try:
        with transaction(runtime.sessions) as session:
            operator = set_role(session, name, role)
    except OpsError as exc:
        raise typer.BadParameter(str(exc)) from None
    finally:
        runtime.close()
    typer.echo(f"operator {operator.name} now has role {operator.role.value}")


@operator_app.command("list")
def operator_list() -> None:
    """Every operator with their role."""
    runtime = _runtime()
    try:
        with runtime.sessions() as session:
            for operator in list_operators(session):
                typer.echo(f"{operator.name}\t{operator.role.value}")
    finally:
        runtime.close()
