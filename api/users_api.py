"""Web users and project memberships (admin, except a user reading themself).

GET    /v1/users                                       POST {email, role, password?, displayName?}
GET    /v1/users/<id>
GET    /v1/projects/<p>/assignments                    the project's data managers
POST   /v1/projects/<p>/assignments/<role>/<userId>    role ``data-manager``
DELETE /v1/projects/<p>/assignments/<role>/<userId>
"""

from __future__ import annotations

from flask import Blueprint, Response
from sqlalchemy import select

from api import context
from api.openapi import operation
from api.schemas.common import SuccessSchema
from api.schemas.users import MembershipSchema, UserCreateSchema, UserSchema
from collector import keyring, roles, users
from collector.errors import NotFound
from collector.models import Role, User
from collector.roles import Action

bp = Blueprint("users", __name__, url_prefix="/v1")


@bp.get("/users")
@operation("List web users", "admin", response=UserSchema, many=True)
def list_users() -> Response:
    """List every web user."""
    context.require(Action.USER_READ)
    rows = context.db().scalars(select(User).order_by(User.id))
    return context.answer(UserSchema(), list(rows), many=True)


@bp.post("/users")
@operation("Create a web user", "admin", body=UserCreateSchema, response=UserSchema, errors=(409,))
def create_user() -> Response:
    """Create an admin or a data manager (password hashed with argon2id)."""
    actor = context.require(Action.USER_MANAGE)
    body = context.load(UserCreateSchema(), context.json_body())
    user = users.create(
        context.db(),
        body["email"],
        body["role"],
        body.get("password"),
        body.get("display_name"),
        actor=actor,
    )
    context.commit()
    return context.answer(UserSchema(), user)


@bp.get("/users/<int:user_id>")
@operation("One web user (admins, or the user themself)", "admin", response=UserSchema)
def get_user(user_id: int) -> Response:
    """Return a user."""
    actor = context.actor()
    if actor.type != "user" or actor.id != user_id:
        context.require(Action.USER_READ)
    return context.answer(UserSchema(), users.get(context.db(), user_id))


# The project role, by this server's name and by Central's (its project manager).
PROJECT_ROLES = (Role.DATA_MANAGER.value, "manager")


def _membership(project_id: int, role: str, user_id: int) -> tuple[object, User]:
    if role not in PROJECT_ROLES:
        raise NotFound(f"role {role!r} is not a project role: use data-manager (or manager)")
    session = context.db()
    return keyring.get_project(session, project_id), users.get(session, user_id)


@bp.get("/projects/<int:project_id>/assignments")
@operation("A project's data managers", "admin", response=MembershipSchema, many=True)
def list_members(project_id: int) -> Response:
    """List the data managers of a project."""
    context.require(Action.MEMBERSHIP_MANAGE, project_id)
    session = context.db()
    keyring.get_project(session, project_id)
    return context.answer(MembershipSchema(), roles.members(session, project_id), many=True)


@bp.post("/projects/<int:project_id>/assignments/<role>/<int:user_id>")
@operation("Make a data manager a member of a project", "admin", response=SuccessSchema)
def add_member(project_id: int, role: str, user_id: int) -> Response:
    """Give a data manager a project."""
    actor = context.require(Action.MEMBERSHIP_MANAGE, project_id)
    session = context.db()
    project = keyring.get_project(session, project_id)
    _check, user = _membership(project_id, role, user_id)
    roles.add_member(session, project, user, actor=actor)
    context.commit()
    return context.success()


@bp.delete("/projects/<int:project_id>/assignments/<role>/<int:user_id>")
@operation("Remove a data manager from a project", "admin", response=SuccessSchema)
def remove_member(project_id: int, role: str, user_id: int) -> Response:
    """Take a project away from a data manager."""
    actor = context.require(Action.MEMBERSHIP_MANAGE, project_id)
    session = context.db()
    project = keyring.get_project(session, project_id)
    _check, user = _membership(project_id, role, user_id)
    if not roles.remove_member(session, project, user, actor=actor):
        raise NotFound(f"user {user_id} is not a member of project {project_id}")
    context.commit()
    return context.success()
