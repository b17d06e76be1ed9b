"""The ODK Central-compatible REST API that pyodk and scripts use, as one set of blueprints."""

from __future__ import annotations

from flask import Flask

from api import (
    app_users_api,
    audits,
    auth,
    context,
    entities,
    forms_api,
    openapi,
    projects,
    submissions_api,
    users_api,
)

BLUEPRINTS = (
    auth.bp,
    users_api.bp,
    projects.bp,
    app_users_api.bp,
    forms_api.bp,
    submissions_api.bp,
    entities.bp,
    audits.bp,
    openapi.bp,
)


def init_app(app: Flask) -> None:
    """Register the REST API's blueprints and its per-request context."""
    context.init_app(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
