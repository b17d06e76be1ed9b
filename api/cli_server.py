"""``collector serve``, ``collector worker`` and ``collector quickstart``."""

from __future__ import annotations

import gc
import multiprocessing
import signal
import socket
import threading
from pathlib import Path

import click
import segno
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.cli_common import CLIState, pass_state
from api.config import Instance, Settings
from collector import appusers, collectqr, keyring, publishing, users
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


def _stop_on_signals(stop: threading.Event) -> None:
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())


def _work(settings: Settings) -> None:
    from api.server import configure_logging

    configure_logging()
    instance = Instance(settings)
    stop = threading.Event()
    _stop_on_signals(stop)
    try:
        decryptor = instance.decryptor()
        # What start-up built (modules, mappers, keys) lives as long as the process: kept out
        # of the cyclic collector, it is not walked again by every full collection.
        gc.freeze()
        decryptor.run(stop, idle=settings.worker_poll_seconds)
    finally:
        instance.close()


@click.command("worker")
@click.option("--processes", default=1, show_default=True, type=int)
@pass_state
def worker_command(state: CLIState, processes: int) -> None:
    """Run decryption workers as separate processes until interrupted (SIGTERM or Ctrl-C)."""
    state.instance().kek  # noqa: B018 - fail early on a wrong master key.
    state.close()
    click.echo(f"collector worker: {max(processes, 1)} decryption processes", err=True)
    if processes <= 1:
        _work(state.settings)
        return
    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=_work, args=(state.settings,)) for _ in range(processes)]
    for child in children:
        child.start()
    stop = threading.Event()
    _stop_on_signals(stop)
    while not stop.is_set() and all(child.is_alive() for child in children):
        stop.wait(0.5)
    # Stopping one stops all: a half-sized pool would hide a crash from whoever runs it.
    for child in children:
        child.terminate()
    for child in children:
        child.join(30)


QUICKSTART_PROJECT = "Migration field work"
QUICKSTART_ADMIN = "admin@example.org"
QR_FILE = "collect-qr.png"


@click.command("quickstart")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Set up only; do not start the server.")
@pass_state
def quickstart(state: CLIState, host: str, port: int, no_serve: bool) -> None:
    """Set up a working instance on an empty data dir, then serve it."""
    instance = state.instance(create=True)
    origin = public_origin(state.settings, host, port)
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


def _publish_surveys(session: Session, project_id: int) -> list[str]:
    from forms import surveys

    form_ids = []
    for name in surveys.SURVEYS:
        version = publishing.publish_xlsform(session, project_id, surveys.path(name))
        form_ids.append(version.form.xml_form_id)
    return form_ids


def _set_up(instance: Instance, origin: str, data_dir: Path) -> None:
    kek = instance.kek
    with transaction(instance.sessions) as session:
        project = keyring.create_project(
            session, QUICKSTART_PROJECT, kek, bits=instance.settings.rsa_bits
        )
        form_ids = _publish_surveys(session, project.id)
        password = appusers.new_token()[:20]
        users.create(session, QUICKSTART_ADMIN, "admin", password)
        _user, token = appusers.create(session, project.id, "Field team 1", kek, forms=form_ids)
        project_id, project_name = project.id, project.name
    url = collectqr.server_url(origin, token, project_id)
    qr = segno.make_qr(collectqr.settings_payload(url, project_name), error="l")
    png = data_dir / QR_FILE
    png.parent.mkdir(parents=True, exist_ok=True)
    qr.save(str(png), scale=6)
    click.echo(f"project {project_id}: {project_name}; forms: {', '.join(form_ids)}")
    click.echo(f"admin: {QUICKSTART_ADMIN}  password (shown once): {password}")
    click.echo(f"Collect server URL: {url}")
    click.echo(f"scan this in ODK Collect (also saved as {png}):")
    qr.terminal(compact=True)


def public_origin(settings: Settings, host: str, port: int) -> str:
    """Return the origin tablets should use: COLLECTOR_PUBLIC_URL, else this host's address."""
    if settings.public_url:
        return settings.public_url
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - reading the bind address, not binding.
        host = _lan_address()
    return f"http://{host}:{port}"


def _lan_address() -> str:
    # Connecting a UDP socket sends nothing; it only asks the kernel which address it would use.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"
