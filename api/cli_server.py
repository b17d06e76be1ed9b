"""``collector serve``, ``collector worker`` and ``collector quickstart``."""

from __future__ import annotations

import multiprocessing
import signal
import threading
from pathlib import Path

import click
import segno
from sqlalchemy import select

from api.cli_common import CLIState, pass_state
from api.config import Instance, Settings
from collector import appusers, collectqr, keyring, publishing, users, worker
from collector.db import transaction
from collector.models import Project


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=int,
    help="Web worker processes; each also runs a decryption thread.",
)
@click.option("--threads", default=4, show_default=True, type=int)
@click.option("--no-decrypt", is_flag=True, help="Receive only; run `collector worker` apart.")
@pass_state
def serve(
    state: CLIState, host: str, port: int, workers: int, threads: int, no_decrypt: bool
) -> None:
    """Serve OpenRosa (and the API) under gunicorn, with decryption workers."""
    from dataclasses import replace

    from api.server import serve as run

    state.instance().kek  # noqa: B018 - a wrong key or missing init fails here, clearly.
    state.close()
    settings = replace(state.settings, in_process_workers=not no_decrypt)
    click.echo(f"collector serving on http://{host}:{port}", err=True)
    run(settings, host=host, port=port, workers=workers, threads=threads)


def _work(settings: Settings, stop: threading.Event | None = None) -> None:
    instance = Instance(settings)
    stop = stop or threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker.Decryptor(instance.sessions, instance.kek).run(stop, idle=0.5)
    instance.close()


@click.command("worker")
@click.option("--processes", default=1, show_default=True, type=int)
@pass_state
def worker_command(state: CLIState, processes: int) -> None:
    """Run decryption workers as separate processes until interrupted."""
    state.instance().kek  # noqa: B018 - fail early on a wrong master key.
    state.close()
    if processes <= 1:
        _work(state.settings)
        return
    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=_work, args=(state.settings,)) for _ in range(processes)]
    for child in children:
        child.start()
    try:
        for child in children:
            child.join()
    except KeyboardInterrupt:
        for child in children:
            child.terminate()


QUICKSTART_PROJECT = "Migration field work"


@click.command("quickstart")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Set up only; do not start the server.")
@pass_state
def quickstart(state: CLIState, host: str, port: int, no_serve: bool) -> None:
    """Set up a working instance on an empty data dir, then serve it."""
    instance = state.instance(create=True)
    origin = state.settings.public_url or f"http://{host}:{port}"
    with instance.sessions() as session:
        existing = session.scalars(
            select(Project).where(Project.name == QUICKSTART_PROJECT)
        ).first()
    if existing is None:
        _set_up(instance, origin, state.settings.data_dir)
    else:
        click.echo(f"already set up (project {existing.id}); serving it")
    if not no_serve:
        state.close()
        from api.server import serve as run

        click.echo(f"collector serving on {origin}", err=True)
        run(state.settings, host=host, port=port, workers=2, threads=4)


def _set_up(instance: Instance, origin: str, data_dir: Path) -> None:
    from forms import surveys

    kek = instance.kek
    with transaction(instance.sessions) as session:
        project = keyring.create_project(
            session, QUICKSTART_PROJECT, kek, bits=instance.settings.rsa_bits
        )
        form_ids = []
        for name in surveys.SURVEYS:
            version = publishing.publish_xlsform(session, project.id, surveys.path(name))
            form_ids.append(version.form.xml_form_id)
        password = appusers.new_token()[:20]
        users.create(session, "admin@example.org", "admin", password)
        _user, token = appusers.create(session, project.id, "Field team 1", kek, forms=form_ids)
        project_id, project_name = project.id, project.name
    url = collectqr.server_url(origin, token, project_id)
    payload = collectqr.settings_payload(url, project_name)
    qr = segno.make(payload, error="l")
    png = data_dir / "collect-qr.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    qr.save(str(png), scale=6)
    click.echo(f"project {project_id}: {project_name}; forms: {', '.join(form_ids)}")
    click.echo(f"admin: admin@example.org  password (shown once): {password}")
    click.echo(f"Collect server URL: {url}")
    click.echo(f"scan this in ODK Collect (also saved as {png}):")
    qr.terminal(compact=True)
