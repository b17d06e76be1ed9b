"""Serving: the app under gunicorn, with logs that never show an app-user token.

The token sits in every OpenRosa URL (as in ODK Central), so every log line this process
writes, access and error alike, goes through a filter that blanks it.
"""

from __future__ import annotations

import gc
import logging
import re
import sys
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from api.config import Settings
from api.openrosa import redact, redact_path

LOG_FORMAT = "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"


class RedactingFilter(logging.Filter):
    """Blank app-user tokens in a record's message and traceback before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """Send this process's own log records (workers, errors) to stderr, tokens blanked."""
    root = logging.getLogger()
    if any(isinstance(f, RedactingFilter) for h in root.handlers for f in h.filters):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    # Each process checks the schema at start-up; alembic would announce it at INFO.
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))


class RedactingLogger(Logger):  # type: ignore[misc]
    """Gunicorn's logger with the token segment of OpenRosa URLs blanked everywhere."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.addFilter(RedactingFilter())

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        return {k: _scrub(k, v) if isinstance(v, str) else v for k, v in atoms.items()}


_QUERY = re.compile(r"\?[^\s\"]*")


def _scrub(name: str, value: str) -> str:
    """Blank tokens and query strings: an OData $filter may hold a name somebody typed."""
    if name == "q":
        return "?" if value else ""
    if name == "U":
        # The decoded path, whole: a decoded space must not end it as it ends a URL in text.
        return redact_path(value)
    return _QUERY.sub("?…", redact(value))


class CollectorServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn, configured in code; each worker process builds the app after the fork."""

    def __init__(self, settings: Settings, options: dict[str, Any]):
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        self.cfg.set("logger_class", RedactingLogger)
        if "control_socket_disable" in self.cfg.settings:
            # Gunicorn >= 25 opens a control socket at one per-user path: two instances on a
            # host would fight over it, and nothing here manages workers through it.
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Any:
        from api import create_app

        configure_logging()
        app = create_app(settings=self.settings)
        # The app and everything imported for it live as long as this worker process: kept out
        # of the cyclic collector, they are not walked again by every full collection.
        gc.freeze()
        return app


def serve(
    settings: Settings, *, host: str, port: int, workers: int, threads: int, access_log: bool = True
) -> None:
    """Run the server until interrupted."""
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 120,
        "graceful_timeout": 10,
        "accesslog": "-" if access_log else None,
        "errorlog": "-",
        "limit_request_line": 8190,
    }
    CollectorServer(settings, options).run()
