"""``collector submissions``: what arrived, what failed and why, retrying failures, destroying
the envelopes of submissions processed long ago, and purging deleted submissions."""

from __future__ import annotations

from datetime import timedelta

import click
from rich.progress import Progress
from sqlalchemy import select

from api.cli_common import CLIState, echo_json, pass_state
from collector import keyring, publishing, retention, submissions, worker
from collector.audit import CLI
from collector.db import transaction
from collector.models import Form, Submission, SubmissionState, on_view, utcnow


@click.group("submissions")
def submissions_group() -> None:
    """Submissions as stored: received, processed or failed (with a reason)."""


@submissions_group.command("list")
@click.option("--project", "project_id", type=int, required=True)
@click.option("--form", "xml_form_id", default=None)
@click.option(
    "--state", "wanted", type=click.Choice([s.value for s in SubmissionState]), default=None
)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def list_submissions(
    state: CLIState, project_id: int, xml_form_id: str | None, wanted: str | None, as_json: bool
) -> None:
    """List submissions with their state and failure reason."""
    rows = _rows(state, project_id, xml_form_id, wanted)
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        reason = f"\t{row['reason']}" if row["reason"] else ""
        click.echo(f"{row['id']}\t{row['formId']}\t{row['instanceId']}\t{row['state']}{reason}")


@submissions_group.command("retry")
@click.option("--project", "project_id", type=int, required=True)
@click.argument("ids", nargs=-1, type=int)
@click.option(
    "--process/--no-process",
    default=True,
    help="Also process them now in this process (default), not only re-queue them.",
)
@pass_state
def retry_submissions(
    state: CLIState, project_id: int, ids: tuple[int, ...], process: bool
) -> None:
    """Re-queue failed submissions (all of the project's, or the given ids) and process them."""
    instance = state.instance()
    with transaction(instance.sessions) as session:
        keyring.get_project(session, project_id)
    with instance.sessions() as session:
        count = worker.retry(session, list(ids) or None, project_id=project_id)
    click.echo(f"{count} submissions re-queued")
    if process and count:
        instance.decryptor().drain()
        rows = _rows(state, project_id, None, SubmissionState.FAILED.value)
        click.echo(f"{len(rows)} submissions still failed")


@submissions_group.command("process")
@pass_state
def process_now(state: CLIState) -> None:
    """Process every waiting submission now, in this process, then exit."""
    total = state.instance().decryptor().drain()
    click.echo(f"{total} submissions processed or failed")


def _rows(
    state: CLIState, project_id: int, xml_form_id: str | None, wanted: str | None
) -> list[dict[str, object]]:
    instance = state.instance()
    with instance.sessions() as session:
        keyring.get_project(session, project_id)
        stmt = (
            select(Submission, Form)
            .join(Form, Form.id == Submission.form_id)
            .where(Submission.project_id == project_id, on_view())
            .order_by(Submission.id)
        )
        if xml_form_id:
            stmt = stmt.where(Form.xml_form_id == xml_form_id)
        if wanted:
            stmt = stmt.where(Submission.state == wanted)
        found = session.execute(stmt).all()
        # The name as lists give it: stored in plain text, once processed (never unsealed).
        names: dict[int, str] = {}
        for form in {form for _s, form in found}:
            names |= submissions.instance_names(session, form)
        return [
            {
                "id": sub.id,
                "instanceId": sub.instance_id,
                "formId": form.xml_form_id,
                "instanceName": names.get(sub.id),
                "state": sub.state,
                "reason": sub.reason,
                "reasonDetail": sub.reason_detail,
                "signature": sub.signature,
                "parts": f"{sub.received_parts}/{sub.expected_parts}",
                "createdAt": sub.created_at.isoformat(),
                "processedAt": sub.processed_at.isoformat() if sub.processed_at else None,
            }
            for sub, form in found
        ]


@submissions_group.command("purge-envelopes")
@click.option("--project", "project_id", type=int, required=True)
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=0),
    required=True,
    help="Destroy the envelopes of submissions processed more than this many days ago.",
)
@click.option("--dry-run", is_flag=True, help="Only count them.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def purge_envelopes(state: CLIState, project_id: int, days: int, dry_run: bool, yes: bool) -> None:
    """Destroy the raw envelopes of long-processed submissions (their records stay)."""
    instance = state.instance()
    before = utcnow() - timedelta(days=days)
    with instance.sessions() as session:
        count = retention.due(session, project_id, before)
    click.echo(f"{count} processed submissions keep an envelope older than {days} days")
    if dry_run or not count:
        return
    if not yes:
        click.confirm(
            "Destroy them? They can never be decrypted again (records, vault and media stay)",
            abort=True,
        )
    with Progress(transient=True) as bar:
        task = bar.add_task("destroying envelopes", total=count)
        done = retention.purge(
            instance.sessions,
            project_id,
            before,
            actor=CLI,
            progress=lambda n: bar.update(task, completed=n),
        )
    click.echo(f"{done} envelopes destroyed")


@submissions_group.command("purge")
@click.option("--project", "project_id", type=int, default=None, help="Only this project's.")
@click.option("--form", "xml_form_id", default=None, help="Only this form's (with --project).")
@click.option("--instance", "instance_id", default=None, help="Only this submission (with --form).")
@click.option(
    "--force",
    is_flag=True,
    help=f"Also those deleted less than {submissions.PURGE_AFTER.days} days ago.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (with --force).")
@pass_state
def purge_deleted(
    state: CLIState,
    project_id: int | None,
    xml_form_id: str | None,
    instance_id: str | None,
    force: bool,
    yes: bool,
) -> None:
    """Remove deleted submissions for good (records, media, envelopes, comments), and
    crypto-shred the vault subjects only they named. The decryption workers already do it
    hourly for those deleted more than 30 days ago; this does it now."""
    if xml_form_id is not None and project_id is None:
        raise click.UsageError("--form needs --project")
    if instance_id is not None and xml_form_id is None:
        raise click.UsageError("--instance needs --form")
    if force and not yes:
        click.confirm(
            "Purge every deleted submission, however recently deleted? It cannot be undone",
            abort=True,
        )
    instance = state.instance()
    with transaction(instance.sessions) as session:
        form = None
        if project_id is not None:
            keyring.get_project(session, project_id)
            if xml_form_id is not None:
                form = publishing.get_form(session, project_id, xml_form_id)
        count = submissions.purge(
            session,
            actor=CLI,
            force=force,
            project_id=project_id,
            form=form,
            instance_id=instance_id,
        )
    click.echo(f"{count} deleted submissions purged")
