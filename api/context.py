"""What every REST handler shares: the request's database session, its actor, bodies, answers.

Authentication happens here and only here: a ``Bearer`` token is a web session (a user) or an
app user's token (refused by every REST endpoint, but audited as the app user). The actor is
built once per request (``collector.roles.actor_for``) and every domain call receives it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, jsonify, request
from marshmallow import Schema, ValidationError
from sqlalchemy.orm import Session

from api.config import Instance
from collector import appusers, roles, sessions
from collector.audit import Actor
from collector.errors import InvalidInput, TooLarge, Unauthorized
from collector.roles import Action
from collector.vault import Secrets

T = TypeVar("T")
#: Route defaults of a view served for a form's data and, under ``/draft``, for its draft's
#: test submissions, as Central serves both (the OpenAPI document tells them apart by it).
PUBLISHED, DRAFT = {"draft": False}, {"draft": True}
TRUE = frozenset({"true", "1", "yes"})
FALSE = frozenset({"false", "0", "no"})


def instance() -> Instance:
    """Return the app's opened instance."""
    found: Instance = current_app.extensions["collector"]
    return found


def db() -> Session:
    """Return this request's database session (opened on first use, closed at teardown)."""
    if "api_db" not in g:
        g.api_db = instance().sessions()
    session: Session = g.api_db
    return session


def origin() -> str:
    """Return the public origin (COLLECTOR_PUBLIC_URL, else what the request came to)."""
    return instance().settings.public_url or request.host_url.rstrip("/")


def streamed(body: Iterator[T], session: Session) -> Iterator[T]:
    """Send a streamed body after the view has returned, then end the transaction it was read in.

    The request's teardown has closed the session by the time the server iterates; reading
    opens a new transaction on it, which nothing else would close (on PostgreSQL an open
    transaction holds locks), so the stream closes it, also when the client goes away.
    """
    try:
        yield from body
    finally:
        session.close()


def secrets() -> Secrets:
    """Return this request's project-key cache (it holds the master key)."""
    if "api_secrets" not in g:
        g.api_secrets = Secrets(instance().kek)
    found: Secrets = g.api_secrets
    return found


def bearer() -> str | None:
    """Return the bearer token of the request, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def basic_credentials() -> tuple[str, str] | None:
    """Return HTTP Basic email and password (what Excel and Power BI send to OData), if any."""
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username:
        return None
    return auth.username, auth.password or ""


def actor() -> Actor:
    """Return the authenticated actor, or raise 401 (no or unknown credentials)."""
    if "api_actor" in g:
        found: Actor = g.api_actor
        return found
    basic = basic_credentials()
    if basic is not None:
        checked = sessions.check_password(db(), *basic, remote=request.remote_addr or "unknown")
        g.api_actor = roles.actor_for(checked)
        found = g.api_actor
        return found
    token = bearer()
    if token is None:
        raise Unauthorized("this request needs a session: log in with POST /v1/sessions")
    user = sessions.authenticate(db(), token)
    if user is not None:
        g.api_actor = roles.actor_for(user)
    else:
        app_user = appusers.find_by_token(db(), token)
        if app_user is None:
            raise Unauthorized()
        g.api_actor = Actor("app-user", app_user.id, app_user.display_name, "app-user")
    found = g.api_actor
    return found


def require(action: Action, project_id: int | None = None) -> Actor:
    """Authenticate and authorise (a refusal is audited); return the actor."""
    who = actor()
    roles.require(db(), who, action, project_id)
    return who


def json_body() -> Any:
    """Return the parsed JSON body, or raise 400.1."""
    data = request.get_json(silent=True, force=True)
    if data is None:
        raise InvalidInput("the request body is not valid JSON", code=400.1)
    return data


def load(schema: Schema, data: Any) -> Any:
    """Validate a body with a schema; marshmallow's messages become the problem's details."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        missing = any(
            "Missing data for required field." in (v if isinstance(v, list) else [v])
            for v in messages.values()
        )
        problem = InvalidInput(
            "the request does not match the expected schema", code=400.2 if missing else 400.8
        )
        # Field names go in as data, not keywords: a field may be called "message" or "code".
        problem.details = {str(k): v for k, v in messages.items()}
        raise problem from None


def device_id() -> str | None:
    """The ``deviceID`` the client sends, as stored: at most 200 printable characters (a NUL
    or a longer value would be refused by the database, not by the client's mistake)."""
    raw = request.args.get("deviceID") or ""
    return "".join(c for c in raw if c.isprintable())[:200] or None


def raw_body() -> bytes:
    """Return the raw body (chunked uploads have no Content-Length), bounded by the limit."""
    limit = instance().settings.max_request_bytes
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise TooLarge()
    return data


def flag(name: str, default: bool) -> bool:
    """Read a boolean query parameter, case-insensitively (pyodk sends ``True``/``False``)."""
    value = request.args.get(name)
    if value is None or value == "":
        return default
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise InvalidInput(f"query parameter {name} must be true or false", code=400.11, name=name)


def answer(schema: Schema, value: Any, status: int = 200, *, many: bool = False) -> Response:
    """Serialise a value with its schema."""
    response = jsonify(schema.dump(value, many=many))
    response.status_code = status
    return response


def success() -> Response:
    """Central's ``{"success": true}``."""
    return jsonify({"success": True})


def commit() -> None:
    """Commit this request's work."""
    db().commit()


def init_app(app: Flask) -> None:
    """Close the request's session at the end of every request."""

    @app.teardown_appcontext
    def close_db(_exc: BaseException | None) -> None:
        session = g.pop("api_db", None)
        if session is not None:
            session.close()
        g.pop("api_secrets", None)
