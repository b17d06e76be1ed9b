"""``collector forms publish``: publish an XLSForm encrypted for a project's active key; and
``forms draft`` / ``publish-draft`` / ``discard-draft``: test a new version on a device first."""

from __future__ import annotations

from pathlib import Path

import click

from api.cli_common import (
    CLIState,
    form_id_option,
    origin_of,
    origin_option,
    pass_state,
    qr_option,
    write_qr,
)
from collector import collectqr, drafts, keyring, publishing, submissions
from collector.audit import CLI
from collector.db import transaction
from collector.errors import NotFound


@click.command("publish")
@click.argument("xlsform", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--project", "project_id", type=int, required=True)
@form_id_option
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


@click.command("draft")
@click.argument("xlsform", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--project", "project_id", type=int, required=True)
@form_id_option
@origin_option
@qr_option
@pass_state
def draft(
    state: CLIState,
    xlsform: Path,
    project_id: int,
    form_id_fallback: str | None,
    origin: str | None,
    qr_png: Path | None,
) -> None:
    """Make an XLSForm the draft of its form (a new form if there is none) to test it on a
    device; print the Collect server URL that opens the draft."""
    instance = state.instance()
    kind = drafts.XLS_TYPE if xlsform.suffix.lower() == ".xls" else publishing.XLSX_TYPE
    with transaction(instance.sessions) as session:
        definition = drafts.definition_from(
            session, project_id, xlsform.read_bytes(), kind, form_id_fallback=form_id_fallback
        )
        try:
            form = publishing.get_form(session, project_id, definition.form_id)
        except NotFound:
            form = drafts.create_form(session, project_id, definition, publish=False, actor=CLI)
            version = drafts.get_draft(session, form)
        else:
            version = drafts.save_draft(session, form, definition, actor=CLI)
        token = drafts.draft_token(instance.kek, version)
        form_id, number, name = form.xml_form_id, version.version, form.name or form.xml_form_id
        project_name = keyring.get_project(session, project_id).name
    url = collectqr.draft_url(origin_of(state, origin), token, project_id, form_id)
    click.echo(f"{form_id} {number} (draft)")
    click.echo(f"Collect server URL: {url}")
    write_qr(qr_png, url, f"[Draft] {name} ({project_name})")


@click.command("publish-draft")
@click.argument("xml_form_id")
@click.option("--project", "project_id", type=int, required=True)
@click.option("--version", default=None, help="Publish under this version instead.")
@pass_state
def publish_draft(state: CLIState, xml_form_id: str, project_id: int, version: str | None) -> None:
    """Publish a form's draft; its test submissions are deleted."""
    instance = state.instance()
    with transaction(instance.sessions) as session:
        form = publishing.get_form(session, project_id, xml_form_id)
        tests = len(submissions.list_tests(session, drafts.get_draft(session, form)))
        published = drafts.publish_draft(session, form, version=version, actor=CLI)
        number = published.version
    click.echo(f"{xml_form_id} {number} ({tests} test submissions deleted)")


@click.command("discard-draft")
@click.argument("xml_form_id")
@click.option("--project", "project_id", type=int, required=True)
@pass_state
def discard_draft(state: CLIState, xml_form_id: str, project_id: int) -> None:
    """Discard a form's draft and its test submissions."""
    instance = state.instance()
    with transaction(instance.sessions) as session:
        form = publishing.get_form(session, project_id, xml_form_id)
        if not drafts.discard_draft(session, form, actor=CLI):
            raise NotFound(f"form {xml_form_id!r} has no draft")
    click.echo(f"{xml_form_id}: draft discarded")
