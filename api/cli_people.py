"""``collector users`` (admins, data managers) and ``collector app-users`` (field staff)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from api.cli_common import (
    CLIState,
    echo_json,
    origin_of,
    origin_option,
    pass_state,
    qr_option,
    write_qr,
)
from collector import appusers, collectqr, keyring, users
from collector.audit import CLI
from collector.db import transaction


@click.group("users")
def users_group() -> None:
    """Web users: admins and data managers."""


@users_group.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "data-manager"]), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_state
def create_user(state: CLIState, email: str, role: str, password_stdin: bool) -> None:
    """Create a user; without --password-stdin a password is generated and printed once."""
    generated = not password_stdin
    password = appusers.new_token()[:20] if generated else sys.stdin.readline().rstrip("\n")
    instance = state.instance()
    with transaction(instance.sessions) as session:
        user = users.create(session, email, role, password, actor=CLI)
        user_id = user.id
    click.echo(f"user {user_id} {email.strip().lower()} ({role})")
    if generated:
        click.echo(f"password (shown once): {password}")


@click.group("app-users")
def app_users_group() -> None:
    """App users: field staff with a token in ODK Collect's server URL."""


@app_users_group.command("create")
@click.option("--project", "project_id", type=int, required=True)
@click.argument("name")
@click.option("--forms", "form_ids", default="", help="Comma-separated xmlFormIds to assign.")
@click.option("--expires", type=click.DateTime(), default=None, help="Expiry (UTC).")
@origin_option
@qr_option
@pass_state
def create_app_user(
    state: CLIState,
    project_id: int,
    name: str,
    form_ids: str,
    expires: datetime | None,
    origin: str | None,
    qr_png: Path | None,
) -> None:
    """Create an app user; print its token and the Collect server URL."""
    instance = state.instance()
    forms = [f.strip() for f in form_ids.split(",") if f.strip()]
    with transaction(instance.sessions) as session:
        project = keyring.get_project(session, project_id)
        user, token = appusers.create(
            session,
            project_id,
            name,
            instance.kek,
            forms=forms,
            expires_at=expires.replace(tzinfo=UTC) if expires else None,
            actor=CLI,
        )
        user_id, project_name = user.id, project.name
    url = collectqr.server_url(origin_of(state, origin), token, project_id)
    click.echo(f"app user {user_id}: {name}")
    click.echo(f"token: {token}")
    click.echo(f"Collect server URL: {url}")
    write_qr(qr_png, url, project_name)


@app_users_group.command("list")
@click.option("--project", "project_id", type=int, required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def list_app_users(state: CLIState, project_id: int, as_json: bool) -> None:
    """List a project's app users (revoked ones show no token)."""
    instance = state.instance()
    with instance.sessions() as session:
        keyring.get_project(session, project_id)
        rows = [
            {
                "id": u.id,
                "displayName": u.display_name,
                "revoked": u.revoked_at is not None,
                "expiresAt": u.expires_at.isoformat() if u.expires_at else None,
            }
            for u in appusers.list_for(session, project_id)
        ]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(
            f"{row['id']}\t{row['displayName']}\t{'revoked' if row['revoked'] else 'active'}"
        )


@app_users_group.command("revoke")
@click.option("--project", "project_id", type=int, required=True)
@click.argument("user_id", type=int)
@pass_state
def revoke_app_user(state: CLIState, project_id: int, user_id: int) -> None:
    """Revoke an app user's token for good."""
    instance = state.instance()
    with transaction(instance.sessions) as session:
        appusers.revoke(session, appusers.get(session, project_id, user_id), actor=CLI)
    click.echo(f"app user {user_id} revoked")
