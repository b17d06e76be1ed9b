"""The ``collector`` command line: set-up, projects, keys and offline decryption.

Every domain, crypto or form error becomes one line on stderr and exit status 1; never a
traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from api import (
    cli_audit,
    cli_export,
    cli_forms,
    cli_keys,
    cli_people,
    cli_projects,
    cli_publish,
    cli_server,
    cli_submissions,
    cli_vault,
)
from api.cli_common import CLIState, CollectorGroup
from api.config import load_settings


@click.group(cls=CollectorGroup)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the database and master key live (env COLLECTOR_DATA_DIR, default ./data).",
)
@click.version_option(package_name="collector")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None) -> None:
    """Secure ODK data collection: encrypted intake, managed keys, pseudonymised storage."""
    state = CLIState(load_settings({"data_dir": data_dir}))
    ctx.obj = state
    ctx.call_on_close(state.close)


@main.command()
@click.option(
    "--data-dir",
    "init_data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Same as the global --data-dir.",
)
@click.pass_context
def init(ctx: click.Context, init_data_dir: Path | None) -> None:
    """Create the database and, when no master key is configured, the master key file."""
    state: CLIState = ctx.obj
    if init_data_dir is not None:
        state.settings = load_settings({"data_dir": init_data_dir})
    instance = state.instance(create=True)
    instance.kek  # noqa: B018 - resolving the key creates the key file and the check value.
    where = instance.settings.db_url.split("@")[-1]
    click.echo(f"database ready: {where}")
    if not (instance.settings.master_key or instance.settings.master_passphrase is not None):
        click.echo(f"master key file: {instance.settings.key_file}")


main.add_command(cli_projects.projects)
main.add_command(cli_keys.keys_group)
main.add_command(cli_keys.decrypt)
main.add_command(cli_people.users_group)
main.add_command(cli_people.app_users_group)
main.add_command(cli_submissions.submissions_group)
main.add_command(cli_server.serve)
main.add_command(cli_server.worker_command)
main.add_command(cli_server.quickstart)
main.add_command(cli_audit.audit_group)
main.add_command(cli_vault.vault_group)
main.add_command(cli_export.export_command)
cli_forms.forms_group.add_command(cli_publish.publish)
cli_forms.forms_group.add_command(cli_publish.draft)
cli_forms.forms_group.add_command(cli_publish.publish_draft)
cli_forms.forms_group.add_command(cli_publish.discard_draft)
main.add_command(cli_forms.forms_group)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
