"""The edges: the Flask app factory, blueprints, schemas and the ``collector`` CLI."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from functools import partial
from typing import IO, Any

from flask import Flask, Request, request

from api.config import Instance, Settings, load_settings
from collector.groupcommit import Committer
from keys.manifest import MAX_MEDIA_FILES

log = logging.getLogger(__name__)


class CollectorRequest(Request):
    """A request that closes every temporary file its body was spooled to.

    Werkzeug closes the files of a parsed form, but not those of a body it gave up on
    (truncated, over the size limit); this closes them too when the request ends.
    """

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        stream = super()._get_file_stream(
            total_content_length, content_type, filename, content_length
        )
        self.__dict__.setdefault("_spooled", []).append(stream)
        return stream

    def close(self) -> None:
        super().close()
        for stream in self.__dict__.pop("_spooled", []):
            stream.close()


def create_app(
    config: Mapping[str, Any] | None = None,
    *,
    settings: Settings | None = None,
    start_workers: bool | None = None,
) -> Flask:
    """Create the WSGI app; ``config`` overrides settings by field name (tests use it)."""
    from api import admin_api, central, drafttest, errors, exports_api, odata, openrosa

    settings = settings or load_settings(config)
    app = Flask(__name__)
    app.request_class = CollectorRequest
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    # Form fields other than files are tiny in OpenRosa; files stream to temporary files.
    app.config["MAX_FORM_MEMORY_SIZE"] = 1024 * 1024
    # A submission has a part per file its manifest names, and the manifest names at most
    # MAX_MEDIA_FILES: werkzeug's default (1000 parts) would refuse some that Collect sends.
    app.config["MAX_FORM_PARTS"] = MAX_MEDIA_FILES + 16
    instance = Instance(settings)
    instance.kek  # noqa: B018 - fail at start-up, not on the first request, on a wrong key.
    app.extensions["collector"] = instance
    app.extensions["collector.wake"] = threading.Event()
    app.extensions["collector.committer"] = Committer()
    errors.init_app(app)
    app.before_request(partial(_bound_idle_time, settings.idle_timeout_seconds))
    app.register_blueprint(openrosa.bp)
    app.register_blueprint(drafttest.bp)
    central.init_app(app)
    app.register_blueprint(odata.bp)
    app.register_blueprint(exports_api.bp)
    app.register_blueprint(admin_api.bp)
    if start_workers if start_workers is not None else settings.in_process_workers:
        start_worker_thread(app)
    return app


def _bound_idle_time(seconds: float) -> None:
    """Under gunicorn, end a request whose client stalls for ``seconds`` (read or write).

    A body that stops arriving (a tablet losing its network mid-upload, or a client holding
    connections open on purpose) would otherwise hold a server thread for ever. The timeout is
    per socket operation, so a slow but live upload goes on; gunicorn resets the socket for
    the connection's next request.
    """
    sock = request.environ.get("gunicorn.socket")
    if sock is not None:
        sock.settimeout(seconds)


def start_worker_thread(app: Flask) -> threading.Thread:
    """Run a decryption worker beside the web server in this process."""
    instance: Instance = app.extensions["collector"]
    stop = threading.Event()
    decryptor = instance.decryptor()
    thread = threading.Thread(
        target=decryptor.run,
        args=(stop, app.extensions["collector.wake"], instance.settings.worker_poll_seconds),
        name="collector-decryptor",
        daemon=True,
    )
    app.extensions["collector.stop"] = stop
    thread.start()
    return thread
