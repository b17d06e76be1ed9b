"""Web sessions: random bearer tokens, stored only as SHA-256 hashes, that expire.

Failed logins are counted per (email, remote address) in the database, so every server process
sees the same count; after ``MAX_FAILURES`` within ``FAILURE_WINDOW`` further attempts are
refused (429) until the window has passed. Each failure and each refusal is audited, with the
email and address but never the password.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from collector import audit, roles, users
from collector.appusers import TOKEN_ALPHABET, TOKEN_LENGTH
from collector.audit import Actor
from collector.errors import CollectorError, NotFound, Unauthorized
from collector.models import LoginFailure, User, UserSession, as_utc, utcnow

DEFAULT_TTL = timedelta(hours=24)
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=5)


class RateLimited(CollectorError):
    code = 429.1
    default_message = "too many failed login attempts; wait a few minutes and try again"


@dataclass(frozen=True)
class Limits:
    """How many failed logins are tolerated per (email, address), and for how long."""

    max_failures: int = MAX_FAILURES
    window: timedelta = FAILURE_WINDOW


@dataclass(frozen=True)
class Issued:
    """A new session: the token is shown once, to the client that logged in."""

    user: User
    token: str = field(repr=False)
    created_at: datetime
    expires_at: datetime


def token_hash(token: str) -> str:
    """Return the stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """Return a fresh 64-character token from Central's alphabet."""
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def _failure_key(email: str, remote: str) -> str:
    return hashlib.sha256(f"{email.strip().lower()}\n{remote}".encode()).hexdigest()


def _check_limit(
    session: Session, key: str, email: str, remote: str, limits: Limits, now: datetime
) -> None:
    row = session.get(LoginFailure, key)
    if row is None or row.failures < limits.max_failures:
        return
    wait = as_utc(row.first_at) + limits.window - now
    if wait <= timedelta(0):
        return
    audit.record(
        session, _anonymous(email), "user.session.limited", remote=remote, failures=row.failures
    )
    session.commit()
    raise RateLimited(retryAfter=int(wait.total_seconds()) + 1)


def _count_failure(session: Session, key: str, limits: Limits, now: datetime) -> int:
    row = session.get(LoginFailure, key)
    if row is None:
        row = LoginFailure(key=key, failures=0, first_at=now, last_at=now)
        session.add(row)
    elif as_utc(row.first_at) + limits.window <= now:
        row.failures, row.first_at = 0, now
    row.failures += 1
    row.last_at = now
    session.flush()
    return row.failures


def _refuse(
    session: Session, key: str, email: str, remote: str, limits: Limits, now: datetime
) -> NoReturn:
    """Count and audit a failed login, commit that, and raise 401."""
    try:
        failures = _count_failure(session, key, limits, now)
    except IntegrityError:
        # Another process counted this key's first failure at the same moment.
        session.rollback()
        failures = _count_failure(session, key, limits, now)
    audit.record(
        session, _anonymous(email), "user.session.failed", remote=remote, failures=failures
    )
    session.commit()
    raise Unauthorized()


def _anonymous(email: str) -> Actor:
    return Actor("user", None, email.strip().lower()[:320] or None)


def login(
    session: Session,
    email: str,
    password: str,
    *,
    remote: str,
    ttl: timedelta = DEFAULT_TTL,
    limits: Limits | None = None,
    now: datetime | None = None,
) -> Issued:
    """Open a session for a user; a failure is audited and committed before it is raised."""
    now = now or utcnow()
    user = check_password(session, email, password, remote=remote, limits=limits, now=now)
    session.execute(delete(UserSession).where(UserSession.expires_at <= now))
    return issue(session, user, ttl=ttl, now=now)


def check_password(
    session: Session,
    email: str,
    password: str,
    *,
    remote: str,
    limits: Limits | None = None,
    now: datetime | None = None,
) -> User:
    """Return the user of an email and password, with the login limits and failure audit.

    Sessions use it once at login; HTTP Basic clients (Excel, Power BI on OData) on every
    request.
    """
    limits, now = limits or Limits(), now or utcnow()
    key = _failure_key(email, remote)
    _check_limit(session, key, email, remote, limits, now)
    user = users.verify(session, email, password)
    if user is None:
        _refuse(session, key, email, remote, limits, now)
    session.execute(delete(LoginFailure).where(LoginFailure.key == key))
    return user


def issue(
    session: Session, user: User, *, ttl: timedelta = DEFAULT_TTL, now: datetime | None = None
) -> Issued:
    """Create a session for a user already authenticated (the caller's transaction)."""
    now = now or utcnow()
    token = new_token()
    row = UserSession(
        user_id=user.id, token_hash=token_hash(token), created_at=now, expires_at=now + ttl
    )
    session.add(row)
    session.flush()
    audit.record(session, roles.actor_for(user), "user.session.create", subject=f"user {user.id}")
    return Issued(user, token, row.created_at, row.expires_at)


def _live(session: Session, token: str, now: datetime) -> UserSession | None:
    row = session.scalars(
        select(UserSession).where(UserSession.token_hash == token_hash(token))
    ).one_or_none()
    if row is None or as_utc(row.expires_at) <= now:
        return None
    return row


def authenticate(session: Session, token: str, *, now: datetime | None = None) -> User | None:
    """Return the user of a live session token, or None (unknown, expired or disabled)."""
    if len(token) != TOKEN_LENGTH:
        return None
    row = _live(session, token, now or utcnow())
    if row is None:
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.disabled_at is None else None


def logout(session: Session, token: str, actor: Actor) -> None:
    """End a session: one's own, or anyone's for an admin."""
    row = _live(session, token, utcnow()) if len(token) == TOKEN_LENGTH else None
    if row is None:
        raise NotFound("no such session")
    if row.user_id != actor.id and actor.role != "admin":
        roles.deny(session, actor, "session.end", None)
    session.delete(row)
    audit.record(session, actor, "user.session.end", subject=f"user {row.user_id}")
