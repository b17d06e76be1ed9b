"""Who may do what: admins everything, data managers their projects, app users OpenRosa only.

| action group                         | admin | data manager            | app user |
|--------------------------------------|-------|-------------------------|----------|
| users, memberships, projects.create, |  yes  | no                      | no       |
| audit log                            |       |                         |          |
| self, project.list                   |  all  | themselves, their projects | no    |
| anything else inside a project       |  yes  | members of that project | no       |

App users authenticate to OpenRosa with the token in the URL; presented to the REST API they are
refused like any other escalation attempt. Every refusal of an authenticated actor is an
``auth.denied`` audit entry, committed although the request itself fails.
"""

from __future__ import annotations

import enum
from typing import NoReturn

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import audit
from collector.audit import Actor
from collector.errors import Forbidden, InvalidInput
from collector.models import Project, ProjectMembership, Role, User


class Action(enum.StrEnum):
    SELF = "self"
    PROJECT_LIST = "project.list"
    PROJECT_CREATE = "project.create"
    PROJECT_READ = "project.read"
    APP_USER_MANAGE = "app-user.manage"
    FORM_READ = "form.read"
    FORM_MANAGE = "form.manage"
    SUBMISSION_READ = "submission.read"
    SUBMISSION_WRITE = "submission.write"
    SUBMISSION_REVIEW = "submission.review"
    SUBMISSION_DELETE = "submission.delete"
    EXPORT = "export"
    ENTITY_READ = "entity.read"
    ENTITY_WRITE = "entity.write"
    USER_READ = "user.read"
    USER_MANAGE = "user.manage"
    MEMBERSHIP_MANAGE = "membership.manage"
    AUDIT_READ = "audit.read"


ADMIN_ONLY = frozenset(
    {
        Action.PROJECT_CREATE,
        Action.USER_READ,
        Action.USER_MANAGE,
        Action.MEMBERSHIP_MANAGE,
        Action.AUDIT_READ,
    }
)
# What any web user may do: see themselves, list (their) projects.
ANY_USER = frozenset({Action.SELF, Action.PROJECT_LIST})
# Trusted callers that reach the domain without the web: the command line and the system.
TRUSTED = frozenset({"cli", "system"})


def actor_for(user: User) -> Actor:
    """Return the audit actor of a web user (the one place it is built)."""
    return Actor("user", user.id, user.email, user.role)


def is_member(session: Session, user_id: int, project_id: int) -> bool:
    """Tell whether a user is a data manager of a project."""
    return session.get(ProjectMembership, (user_id, project_id)) is not None


def allowed(session: Session, actor: Actor, action: Action, project_id: int | None) -> bool:
    """Tell whether an actor may do an action (in a project, when it is project-scoped)."""
    if actor.type in TRUSTED:
        return True
    if actor.type != "user" or actor.id is None:
        return False
    if actor.role == Role.ADMIN.value:
        return True
    if actor.role != Role.DATA_MANAGER.value or action in ADMIN_ONLY:
        return False
    if action in ANY_USER:
        return True
    return project_id is not None and is_member(session, actor.id, project_id)


def deny(session: Session, actor: Actor, action: str, project_id: int | None) -> NoReturn:
    """Refuse: drop whatever the request changed, audit the attempt, commit, raise 403."""
    session.rollback()
    audit.record(
        session,
        actor,
        "auth.denied",
        project_id=project_id,
        subject=action,
        role=actor.role,
        actor_type=actor.type,
    )
    session.commit()
    raise Forbidden(action=str(action))


def require(session: Session, actor: Actor, action: Action, project_id: int | None = None) -> None:
    """Raise Forbidden (and audit it) unless the actor may do the action."""
    if not allowed(session, actor, action, project_id):
        deny(session, actor, action, project_id)


def visible_project_ids(session: Session, actor: Actor) -> set[int] | None:
    """Return the projects an actor may see; None means all of them."""
    if actor.type in TRUSTED or actor.role == Role.ADMIN.value:
        return None
    if actor.type != "user" or actor.id is None:
        return set()
    stmt = select(ProjectMembership.project_id).where(ProjectMembership.user_id == actor.id)
    return set(session.scalars(stmt))


def members(session: Session, project_id: int) -> list[ProjectMembership]:
    """Return the data managers of a project."""
    stmt = (
        select(ProjectMembership)
        .where(ProjectMembership.project_id == project_id)
        .order_by(ProjectMembership.user_id)
    )
    return list(session.scalars(stmt))


def add_member(session: Session, project: Project, user: User, *, actor: Actor) -> bool:
    """Make a data manager a member of a project; return False if it already was."""
    if user.role != Role.DATA_MANAGER.value:
        raise InvalidInput(
            "only data managers are project members (admins see every project)", code=400.8
        )
    if is_member(session, user.id, project.id):
        return False
    session.add(ProjectMembership(user_id=user.id, project_id=project.id))
    session.flush()
    audit.record(
        session, actor, "project.member.add", project_id=project.id, subject=f"user {user.id}"
    )
    return True


def remove_member(session: Session, project: Project, user: User, *, actor: Actor) -> bool:
    """Remove a data manager from a project; return False if it was not a member."""
    row = session.get(ProjectMembership, (user.id, project.id))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    audit.record(
        session, actor, "project.member.remove", project_id=project.id, subject=f"user {user.id}"
    )
    return True
