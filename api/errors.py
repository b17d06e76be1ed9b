"""Errors at the edge: one handler per base class, logged once here.

JSON endpoints answer ``{"code", "message", "details"}`` with status ``int(code)``; OpenRosa
endpoints answer an ``OpenRosaResponse`` document instead, because that is what Collect shows.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from api.openrosa import redact
from collector.errors import CollectorError
from keys.errors import KeysError

log = logging.getLogger("collector.api")

HTTP_CODES = {
    400: 400.1,
    401: 401.2,
    403: 403.1,
    404: 404.1,
    405: 405.1,
    409: 409.1,
    413: 413.1,
    415: 415.1,
}


def is_openrosa() -> bool:
    """Tell whether the current request is an OpenRosa (Collect) request."""
    return request.blueprint == "openrosa" or "/v1/key/" in request.path


def problem(code: float, message: str, details: dict[str, Any] | None = None) -> Response:
    """Render a problem in the request's dialect (OpenRosa XML or JSON)."""
    status = int(code)
    if is_openrosa():
        from api.openrosa import openrosa_message

        return openrosa_message(message, status=status, nature="error")
    response = jsonify({"code": code, "message": message, "details": details or {}})
    response.status_code = status
    if status == 401 and ".svc" in request.path:
        # Excel and Power BI ask for a user name and password only when challenged.
        response.headers["WWW-Authenticate"] = 'Basic realm="collector", charset="UTF-8"'
    return response


def init_app(app: Flask) -> None:
    """Attach the error handlers."""

    @app.errorhandler(CollectorError)
    def domain_error(exc: CollectorError) -> Response:
        if exc.status >= 500:
            log.error("%s %s: %s", request.method, redact(request.path), exc.message)
        return problem(exc.code, exc.message, exc.details)

    @app.errorhandler(KeysError)
    def keys_error(exc: KeysError) -> Response:
        return problem(400.2, str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        return problem(HTTP_CODES.get(status, float(status)), exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("%s %s: unexpected error", request.method, redact(request.path))
        return problem(500.1, "internal error")
