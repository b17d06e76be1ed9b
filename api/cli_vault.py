"""``collector vault``: re-identify or erase a subject, rotate the pseudonym key."""

from __future__ import annotations

import click
from rich.progress import Progress

from api.cli_common import CLIState, echo_json, pass_state
from collector import pseudorotate, vault
from collector.audit import CLI
from collector.db import transaction


@click.group("vault")
def vault_group() -> None:
    """The identity vault (admin operations; every one is audited)."""


@vault_group.command("reveal")
@click.argument("subject")
@click.option("--project", "project_id", type=int, required=True)
@click.option("--reason", required=True, help="Why re-identification is needed (audited).")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def reveal(state: CLIState, subject: str, project_id: int, reason: str, as_json: bool) -> None:
    """Print the original value behind a pseudonym."""
    instance = state.instance()
    with transaction(instance.sessions) as session:
        found = vault.reveal(session, instance.kek, project_id, subject, actor=CLI, reason=reason)
    if as_json:
        echo_json(
            {
                "subject": found.subject_id,
                "pseudonym": found.pseudonym,
                "kind": found.kind,
                "original": found.original,
            }
        )
    else:
        click.echo(f"{found.pseudonym}\t{found.kind}\t{found.original}")


@vault_group.command("erase")
@click.argument("subject")
@click.option("--project", "project_id", type=int, required=True)
@click.option("--reason", required=True, help="Why (e.g. the person's erasure request).")
@pass_state
def erase(state: CLIState, subject: str, project_id: int, reason: str) -> None:
    """Destroy a subject's originals for good; its pseudonym stays in the data."""
    instance = state.instance()
    with transaction(instance.sessions) as session:
        found = vault.erase(session, project_id, subject, actor=CLI, reason=reason)
        token = found.pseudonym
    click.echo(f"{token} erased")


@vault_group.command("rotate-key")
@click.option("--project", "project_id", type=int, required=True)
@click.option("--batch", default=500, show_default=True)
@pass_state
def rotate_key(state: CLIState, project_id: int, batch: int) -> None:
    """Rotate the pseudonym key: every live pseudonym is re-derived (resumable)."""
    instance = state.instance()
    with Progress(transient=True) as bar:
        task = bar.add_task("re-deriving pseudonyms", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = pseudorotate.rotate(
            instance.sessions, instance.kek, project_id, actor=CLI, batch=batch, progress=progress
        )
    click.echo(
        f"project {project_id}: pseudonym key version {result.version} active; "
        f"{result.rederived} re-derived, {result.kept_erased} erased kept"
    )
