"""Web users: admins and data managers, with argon2id password hashes."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import audit
from collector.audit import Actor
from collector.errors import Conflict, InvalidInput, NotFound
from collector.models import Role, User, utcnow

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MIN_PASSWORD = 10
_hasher = PasswordHasher()
# A hash of nothing in particular, verified when the email is unknown so that a login takes the
# same time whether or not the account exists.
_DUMMY = _hasher.hash("collector: no such user")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(
            f"a password needs at least {MIN_PASSWORD} characters", code=400.21, field="password"
        )


def create(
    session: Session,
    email: str,
    role: str,
    password: str | None,
    display_name: str | None = None,
    *,
    actor: Actor = audit.SYSTEM,
) -> User:
    """Create a user; the email is case-folded and must be unique."""
    email = email.strip().lower()
    if not EMAIL.fullmatch(email):
        raise InvalidInput(f"{email!r} is not an email address", code=400.21, field="email")
    if role not in {r.value for r in Role}:
        raise InvalidInput(
            f"unknown role {role!r}: use admin or data-manager", code=400.21, field="role"
        )
    if password is not None:
        _check_password(password)
    if session.scalars(select(User).where(User.email == email)).first() is not None:
        raise Conflict(f"a user with email {email} exists", code=409.3, field="email")
    user = User(
        email=email,
        role=role,
        display_name=display_name,
        password_hash=_hasher.hash(password) if password is not None else None,
    )
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.create", subject=f"user {user.id}", role=role)
    return user


def set_password(user: User, password: str) -> None:
    """Replace a user's password."""
    _check_password(password)
    user.password_hash = _hasher.hash(password)
    user.updated_at = utcnow()


def verify(session: Session, email: str, password: str) -> User | None:
    """Return the user if the email and password match an enabled account."""
    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    stored = user.password_hash if user is not None and user.disabled_at is None else None
    try:
        _hasher.verify(stored or _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return None
    if stored is None or user is None:
        return None
    if _hasher.check_needs_rehash(stored):
        user.password_hash = _hasher.hash(password)
    return user


def get(session: Session, user_id: int) -> User:
    """Return a user or raise NotFound."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user
