"""Serving: the app under gunicorn, with access logs that never show an app-user token."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from api.config import Settings
from api.openrosa import redact


class RedactingLogger(Logger):
    """Gunicorn's logger with the token segment of OpenRosa URLs blanked in access lines."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for name in ("r", "U", "{raw_uri}e"):
            if isinstance(atoms.get(name), str):
                atoms[name] = redact(atoms[name])
        return atoms


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

    def load(self) -> Any:
        from api import create_app

        return create_app(settings=self.settings)


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
