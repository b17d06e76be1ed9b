"""Logging in and out, and who am I.

POST   /v1/sessions            {email, password} -> 200 {token, createdAt, expiresAt}
DELETE /v1/sessions/<token>    log out (``current`` = the session of this request)
GET    /v1/users/current       the logged-in user
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, request

from api import context
from api.openapi import operation
from api.schemas.common import SuccessSchema
from api.schemas.sessions import LoginSchema, SessionSchema
from api.schemas.users import UserSchema
from collector import sessions, users
from collector.errors import Unauthorized
from collector.roles import Action

bp = Blueprint("auth", __name__, url_prefix="/v1")
# The path word that names the session of the request itself.
CURRENT = "current"


@bp.post("/sessions")
@operation(
    "Log in (pyodk needs exactly 200)",
    "public",
    body=LoginSchema,
    response=SessionSchema,
    errors=(401, 429),
)
def login() -> Response:
    """Open a session; failures are audited and rate-limited per email and address."""
    body = context.load(LoginSchema(), context.json_body())
    settings = context.instance().settings
    issued = sessions.login(
        context.db(),
        body["email"],
        body["password"],
        remote=request.remote_addr or "unknown",
        ttl=timedelta(seconds=settings.session_ttl_seconds),
    )
    context.commit()
    return context.answer(SessionSchema(), issued)


@bp.delete("/sessions/<token>")
@operation("Log out (``current`` ends this request's session)", "user", response=SuccessSchema)
def logout(token: str) -> Response:
    """End a session."""
    actor = context.require(Action.SELF)
    if token == CURRENT:
        token = context.bearer() or ""
    sessions.logout(context.db(), token, actor)
    context.commit()
    return context.success()


@bp.get("/users/current")
@operation("The logged-in user (pyodk needs exactly 200)", "user", response=UserSchema)
def current_user() -> Response:
    """Return the user of this session."""
    actor = context.require(Action.SELF)
    if actor.id is None:
        raise Unauthorized()
    return context.answer(UserSchema(), users.get(context.db(), actor.id))
