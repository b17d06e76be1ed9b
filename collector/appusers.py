"""App users: field staff whose token sits in ODK Collect's server URL, like ODK Central's."""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from collector import audit, keyring
from collector.audit import Actor
from collector.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from collector.models import AppUser, Form, FormAssignment, as_utc, utcnow
from collector.publishing import get_form
from keys import seal

TOKEN_ALPHABET = string.ascii_letters + string.digits + "!$"
TOKEN_LENGTH = 64
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9!$]{64}")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token_aad(token_hash: str) -> bytes:
    return b"collector/app-user-token/" + token_hash.encode()


def new_token() -> str:
    """Return a fresh 64-character token from Central's alphabet."""
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def create(
    session: Session,
    project_id: int,
    display_name: str,
    kek: bytes,
    *,
    forms: Sequence[str] = (),
    expires_at: datetime | None = None,
    actor: Actor = audit.SYSTEM,
) -> tuple[AppUser, str]:
    """Create an app user, assign it forms, and return it with its token (shown to admins)."""
    keyring.get_project(session, project_id)
    display_name = display_name.strip()
    if not display_name:
        raise InvalidInput("an app user needs a display name", field="displayName")
    token = new_token()
    digest = _token_hash(token)
    user = AppUser(
        project_id=project_id,
        display_name=display_name,
        token_hash=digest,
        sealed_token=seal.seal(kek, token.encode(), _token_aad(digest)),
        expires_at=expires_at,
    )
    session.add(user)
    session.flush()
    for xml_form_id in forms:
        assign(session, user, get_form(session, project_id, xml_form_id))
    audit.record(
        session,
        actor,
        "app-user.create",
        project_id=project_id,
        subject=f"app user {user.id}",
        forms=list(forms),
    )
    return user, token


def token_of(user: AppUser, kek: bytes) -> str | None:
    """Return an active app user's token (None once revoked)."""
    if user.token_hash is None or user.sealed_token is None:
        return None
    return seal.unseal(kek, user.sealed_token, _token_aad(user.token_hash)).decode()


def assign(session: Session, user: AppUser, form: Form) -> None:
    """Let an app user see and submit to a form (idempotent)."""
    if form.project_id != user.project_id:
        raise InvalidInput("the form belongs to another project")
    if session.get(FormAssignment, (user.id, form.id)) is None:
        session.add(FormAssignment(app_user_id=user.id, form_id=form.id))
        session.flush()


def assigned_form_ids(session: Session, user: AppUser | Caller) -> set[int]:
    """Return the ids of the forms an app user may use."""
    stmt = select(FormAssignment.form_id).where(FormAssignment.app_user_id == user.id)
    return set(session.scalars(stmt))


def get(session: Session, project_id: int, user_id: int) -> AppUser:
    """Return an app user of a project, or raise NotFound."""
    user = session.get(AppUser, user_id)
    if user is None or user.project_id != project_id:
        raise NotFound(f"app user {user_id} does not exist in project {project_id}")
    return user


def list_for(session: Session, project_id: int) -> list[AppUser]:
    """Return a project's app users, revoked ones included."""
    stmt = select(AppUser).where(AppUser.project_id == project_id).order_by(AppUser.id)
    return list(session.scalars(stmt))


def revoke(session: Session, user: AppUser, *, actor: Actor = audit.SYSTEM) -> None:
    """Revoke an app user's token for good (its submissions stay)."""
    user.token_hash = None
    user.sealed_token = None
    user.revoked_at = user.updated_at = utcnow()
    audit.record(
        session, actor, "app-user.revoke", project_id=user.project_id, subject=f"app user {user.id}"
    )


@dataclass(frozen=True)
class Caller:
    """An authenticated app user, as an OpenRosa request needs it (not a loaded row)."""

    id: int
    project_id: int


# Built once and run as Core on the session's connection: every OpenRosa request
# authenticates, and loading an ORM row would cost more than the query.
_BY_TOKEN_HASH = select(AppUser.id, AppUser.project_id, AppUser.expires_at).where(
    AppUser.token_hash == bindparam("token_hash")
)


def authenticate(session: Session, token: str, project_id: int) -> Caller:
    """Return the app user of a token: 401 when malformed, 403 when unknown, revoked or expired."""
    if not TOKEN_PATTERN.fullmatch(token):
        raise Unauthorized("the app-user token is malformed")
    row = (
        session.connection()
        .execute(_BY_TOKEN_HASH, {"token_hash": _token_hash(token)})
        .one_or_none()
    )
    if row is None or row.project_id != project_id:
        raise Forbidden("this app-user token is not valid for this project")
    if row.expires_at is not None and as_utc(row.expires_at) <= utcnow():
        raise Forbidden("this app-user token has expired")
    return Caller(row.id, row.project_id)


def find_by_token(session: Session, token: str) -> AppUser | None:
    """Return the live app user a token belongs to, whatever its project, or None."""
    if not TOKEN_PATTERN.fullmatch(token):
        return None
    user = session.scalars(
        select(AppUser).where(AppUser.token_hash == _token_hash(token))
    ).one_or_none()
    if user is None or (user.expires_at is not None and as_utc(user.expires_at) <= utcnow()):
        return None
    return user


def unassign(session: Session, user: AppUser, form: Form) -> bool:
    """Take a form away from an app user; return False if it was not assigned."""
    row = session.get(FormAssignment, (user.id, form.id))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def assigned_users(session: Session, form: Form) -> list[int]:
    """Return the ids of the app users a form is assigned to."""
    stmt = (
        select(FormAssignment.app_user_id)
        .where(FormAssignment.form_id == form.id)
        .order_by(FormAssignment.app_user_id)
    )
    return list(session.scalars(stmt))
