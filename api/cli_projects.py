"""``collector projects``: create and list projects (each with its keyring)."""

from __future__ import annotations

import click
from sqlalchemy import select

from api.cli_common import CLIState, echo_json, pass_state
from collector import keyring
from collector.audit import CLI
from collector.db import transaction
from collector.models import Project


@click.group("projects")
def projects() -> None:
    """Projects: each has its own keyring, forms and app users."""


@projects.command("create")
@click.argument("name")
@click.option(
    "--bits",
    type=click.Choice(["2048", "3072", "4096"]),
    default=None,
    help="RSA size of the first key generation (default 3072).",
)
@pass_state
def create(state: CLIState, name: str, bits: str | None) -> None:
    """Create a project with its keyring and print its id."""
    instance = state.instance()
    size = int(bits) if bits else instance.settings.rsa_bits
    with transaction(instance.sessions) as session:
        project = keyring.create_project(session, name, instance.kek, bits=size, actor=CLI)
        project_id = project.id
    click.echo(project_id)


@projects.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_state
def list_(state: CLIState, as_json: bool) -> None:
    """List projects."""
    instance = state.instance()
    with instance.sessions() as session:
        rows = [
            {"id": p.id, "name": p.name, "createdAt": p.created_at.isoformat()}
            for p in session.scalars(select(Project).order_by(Project.id))
        ]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['id']}\t{row['name']}")
