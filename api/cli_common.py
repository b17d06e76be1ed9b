"""Pieces every ``collector`` command shares: state, error mapping, small I/O helpers."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
import segno

from api.config import PRIVATE_UMASK, Instance, NoMasterKey, Settings
from collector import collectqr
from collector.errors import CollectorError
from keys.errors import KeysError


class CLIState:
    """Settings plus a lazily opened instance, shared by every command of one invocation."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._instance: Instance | None = None
        self._umask: int | None = None

    def instance(self, *, create: bool = False) -> Instance:
        """Open the instance (database and master key) once."""
        if self._instance is None:
            # Whatever this process writes from now on (the database and its -wal and -shm,
            # key files, QR codes, exports; the server and workers it starts) is the owner's
            # only.
            if self._umask is None:
                self._umask = os.umask(PRIVATE_UMASK)
            self._instance = Instance(self.settings, create=create)
        return self._instance

    def restore_umask(self) -> None:
        """Put back the umask the invocation started with (it matters in-process only)."""
        if self._umask is not None:
            os.umask(self._umask)
            self._umask = None

    def close(self) -> None:
        """Close the instance if one was opened."""
        if self._instance is not None:
            self._instance.close()


class CollectorGroup(click.Group):
    """A group that turns expected failures into a one-line message and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (CollectorError, KeysError, NoMasterKey) as exc:
            raise click.ClickException(str(exc)) from None
        except (ValueError, OSError) as exc:
            if isinstance(exc, click.ClickException):
                raise
            raise click.ClickException(_one_line(exc)) from None
        finally:
            if ctx.parent is None and isinstance(ctx.obj, CLIState):
                ctx.obj.restore_umask()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


pass_state = click.make_pass_decorator(CLIState)


def read_secret_file(path: Path) -> str:
    """Read a passphrase file, dropping one trailing newline."""
    text = path.read_text(encoding="utf-8")
    return text[:-1] if text.endswith("\n") else text


def echo_json(value: Any) -> None:
    """Print a value as JSON on stdout."""
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


DEFAULT_ORIGIN = "http://127.0.0.1:8080"

#: ``--origin``: the public URL of this server, for the Collect server URLs a command prints.
origin_option = click.option(
    "--origin", default=None, help="Public URL of this server, for the Collect URL."
)
#: ``--qr FILE``: also write the Collect set-up QR code as a PNG.
qr_option = click.option(
    "--qr",
    "qr_png",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the Collect setup QR code as a PNG here.",
)
#: ``--form-id``: the xmlFormId of an XLSForm whose settings sheet gives none.
form_id_option = click.option(
    "--form-id",
    "form_id_fallback",
    default=None,
    help="The xmlFormId to use when the settings sheet gives none.",
)


def origin_of(state: CLIState, given: str | None) -> str:
    """Return the public origin for server URLs (flag, COLLECTOR_PUBLIC_URL, default)."""
    return (given or state.settings.public_url or DEFAULT_ORIGIN).rstrip("/")


def write_qr(path: Path | None, server_url: str, project_name: str) -> None:
    """Write (when asked) the QR code that sets Collect up for a server URL, and say where."""
    if path is None:
        return
    payload = collectqr.settings_payload(server_url, project_name)
    segno.make_qr(payload, error="l").save(str(path), scale=6)
    click.echo(f"QR code: {path}")
