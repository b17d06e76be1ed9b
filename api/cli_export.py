"""``collector export``: a form's decrypted, pseudonymised data as CSV zip, JSON Lines or xlsx."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import BinaryIO

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from api.cli_common import CLIState, pass_state
from collector import drafts, export, exportrun, publishing, vault
from collector.audit import CLI
from collector.dataset import Viewer
from collector.models import Submission, in_scope


@click.command("export")
@click.option("--project", "project_id", type=int, required=True)
@click.option("--form", "xml_form_id", required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(export.FORMATS),
    default="csv.zip",
    show_default=True,
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Output file (default ./<form>.<format>).",
)
@click.option(
    "--profile",
    type=click.Choice(["pseudonymised", "reidentified"]),
    default="pseudonymised",
    show_default=True,
)
@click.option("--reason", default="", help="Required for a re-identified export (audited).")
@click.option("--include-sensitive", is_flag=True, help="Open sensitive values (audited).")
@click.option(
    "--attachments/--no-attachments",
    default=True,
    show_default=True,
    help="CSV zip: carry the decrypted files this export shows by name, under media/.",
)
@click.option(
    "--group-paths/--no-group-paths",
    default=True,
    show_default=True,
    help="CSV zip and xlsx: head columns with their groups' names (group-field), or not.",
)
@click.option(
    "--split-select-multiples",
    is_flag=True,
    help="CSV zip and xlsx: a 1/0 column per value of each select-multiple field.",
)
@click.option(
    "--draft",
    "of_draft",
    is_flag=True,
    help="The test submissions of the form's draft, in the draft's columns.",
)
@click.option(
    "--deleted-fields",
    is_flag=True,
    help="Also the fields only earlier published versions of the form have.",
)
@click.option(
    "--filter",
    "odata_filter",
    default=None,
    help="Only the submissions an OData $filter on their metadata matches "
    "(e.g. \"__system/reviewState eq 'approved'\").",
)
@click.option(
    "-k",
    "k",
    default=exportrun.K_DEFAULT,
    show_default=True,
    help="Warn about quasi-identifier combinations with fewer rows than this.",
)
@pass_state
def export_command(
    state: CLIState,
    project_id: int,
    xml_form_id: str,
    fmt: str,
    out: Path | None,
    profile: str,
    reason: str,
    include_sensitive: bool,
    attachments: bool,
    group_paths: bool,
    split_select_multiples: bool,
    of_draft: bool,
    deleted_fields: bool,
    odata_filter: str | None,
    k: int,
) -> None:
    """Export a form's processed submissions; print the reconciliation summary."""
    instance = state.instance()
    out = out or Path(f"{xml_form_id}.{fmt}")
    if out.exists():
        raise click.UsageError(f"{out} exists; choose another --out")
    viewer = Viewer(
        vault.Secrets(instance.kek),
        sensitive=include_sensitive,
        reidentify=profile == "reidentified",
    )
    write = export.writer_for(
        fmt,
        attachments=attachments,
        group_paths=group_paths,
        split_select_multiples=split_select_multiples,
        deleted_fields=deleted_fields,
    )
    with instance.sessions() as session:
        form = publishing.get_form(session, project_id, xml_form_id)
        draft = drafts.get_draft(session, form) if of_draft else None
        total = (
            session.query(Submission)
            .filter(
                Submission.form_id == form.id,
                Submission.state == "processed",
                in_scope(None if draft is None else draft.id),
            )
            .count()
        )
        unfinished = out.with_name(out.name + ".partial")
        try:
            with _bar() as bar, _private_file(unfinished) as handle:
                task = bar.add_task("exporting", total=total)
                summary = write(
                    handle,
                    session,
                    form,
                    actor=CLI,
                    viewer=viewer,
                    profile=profile,
                    reason=reason,
                    k=k,
                    progress=lambda n: bar.update(task, completed=n),
                    odata_filter=odata_filter,
                    draft=draft,
                )
        except BaseException:
            # A refused or failed export leaves no file behind (it may hold re-identified rows).
            unfinished.unlink(missing_ok=True)
            raise
        unfinished.replace(out)
    click.echo(json.dumps(summary, indent=2, ensure_ascii=False), err=True)
    click.echo(str(out))


def _private_file(path: Path) -> BinaryIO:
    """Open ``path`` for writing, the owner's only (0600) before it holds a byte.

    A re-identified export is the most sensitive file this program writes; an older file of
    that name (an interrupted export) is emptied and tightened too.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if os.name == "posix":
            os.fchmod(fd, 0o600)
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def _bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), transient=True
    )
