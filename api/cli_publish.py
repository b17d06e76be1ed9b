"""``collector forms publish``: publish an XLSForm encrypted for a project's active key."""

from __future__ import annotations

from pathlib import Path

import click

from api.cli_common import CLIState, pass_state
from collector import publishing
from collector.audit import CLI
from collector.db import transaction


@click.command("publish")
@click.argument("xlsform", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--project", "project_id", type=int, required=True)
@click.option(
    "--form-id",
    "form_id_fallback",
    default=None,
    help="The xmlFormId to use when the settings sheet gives none.",
)
@pass_state
def publish(state: CLIState, xlsform: Path, project_id: int, form_id_fallback: str | None) -> None:
    """Publish an XLSForm; print the form id and version."""
    instance = state.instance()
    with transaction(instance.sessions) as session:
        version = publishing.publish_xlsform(
            session, project_id, xlsform, form_id_fallback=form_id_fallback, actor=CLI
        )
        form_id, number = version.form.xml_form_id, version.version
    click.echo(f"{form_id} {number}")
