"""App users (Central's field keys) and their form assignments.

GET    /v1/projects/<p>/app-users
POST   /v1/projects/<p>/app-users                               {displayName}
DELETE /v1/projects/<p>/app-users/<id>                          revoke the token for good
GET    /v1/projects/<p>/forms/<f>/assignments[/<role>]
POST   /v1/projects/<p>/forms/<f>/assignments/<role>/<id>       role 2 (``app-user``)
DELETE /v1/projects/<p>/forms/<f>/assignments/<role>/<id>

Tokens are shown to those who manage the project's app users (admins and its data managers):
they configure Collect with them. A revoked app user shows ``token: null``.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from flask import Blueprint, Response

from api import context
from api.openapi import operation
from api.schemas.common import SuccessSchema
from api.schemas.projects import AppUserCreateSchema, AppUserSchema, AssignmentSchema
from collector import appusers, audit, keyring, publishing
from collector.errors import NotFound
from collector.models import AppUser
from collector.roles import Action

bp = Blueprint("app_users", __name__, url_prefix="/v1/projects/<int:project_id>")

APP_USER_ROLE = 2
APP_USER_ROLES = {"2", "app-user"}


def _view(user: AppUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "project_id": user.project_id,
        "display_name": user.display_name,
        "token": appusers.token_of(user, context.instance().kek),
        "created_at": user.created_at,
        "updated_at": user.updated_at,
        "revoked_at": user.revoked_at,
        "expires_at": user.expires_at,
    }


@bp.get("/app-users")
@operation("List app users", "project", response=AppUserSchema, many=True)
def list_app_users(project_id: int) -> Response:
    """List a project's app users, revoked ones included."""
    context.require(Action.APP_USER_MANAGE, project_id)
    session = context.db()
    keyring.get_project(session, project_id)
    rows = [_view(u) for u in appusers.list_for(session, project_id)]
    return context.answer(AppUserSchema(), rows, many=True)


@bp.post("/app-users")
@operation("Create an app user", "project", body=AppUserCreateSchema, response=AppUserSchema)
def create_app_user(project_id: int) -> Response:
    """Create an app user; its token goes in Collect's server URL."""
    actor = context.require(Action.APP_USER_MANAGE, project_id)
    body = context.load(AppUserCreateSchema(), context.json_body())
    expires = body.get("expires_at")
    user, _token = appusers.create(
        context.db(),
        project_id,
        body["display_name"],
        context.instance().kek,
        expires_at=expires.astimezone(UTC) if expires else None,
        actor=actor,
    )
    result = _view(user)
    context.commit()
    return context.answer(AppUserSchema(), result)


@bp.delete("/app-users/<int:user_id>")
@operation("Revoke an app user", "project", response=SuccessSchema)
def revoke_app_user(project_id: int, user_id: int) -> Response:
    """Revoke an app user's token for good (its submissions stay)."""
    actor = context.require(Action.APP_USER_MANAGE, project_id)
    session = context.db()
    user = appusers.get(session, project_id, user_id)
    if user.revoked_at is None:
        appusers.revoke(session, user, actor=actor)
    context.commit()
    return context.success()


def _check_role(role: str) -> None:
    if role not in APP_USER_ROLES:
        raise NotFound(f"role {role!r} cannot be assigned to forms here: use 2 (app-user)")


@bp.get("/forms/<xml_form_id>/assignments")
@operation("List a form's app-user assignments", "project", response=AssignmentSchema, many=True)
def list_assignments(project_id: int, xml_form_id: str) -> Response:
    """List who is assigned to a form."""
    context.require(Action.APP_USER_MANAGE, project_id)
    form = publishing.get_form(context.db(), project_id, xml_form_id)
    rows = [
        {"actor_id": i, "role_id": APP_USER_ROLE}
        for i in appusers.assigned_users(context.db(), form)
    ]
    return context.answer(AssignmentSchema(), rows, many=True)


@bp.get("/forms/<xml_form_id>/assignments/<role>")
@operation("List a form's assignments of one role", "project", response=AssignmentSchema, many=True)
def list_role_assignments(project_id: int, xml_form_id: str, role: str) -> Response:
    """List who is assigned to a form in a role (only app users are)."""
    _check_role(role)
    return list_assignments(project_id, xml_form_id)


@bp.post("/forms/<xml_form_id>/assignments/<role>/<int:user_id>")
@operation("Assign a form to an app user", "project", response=SuccessSchema)
def assign(project_id: int, xml_form_id: str, role: str, user_id: int) -> Response:
    """Let an app user see and submit to a form."""
    actor = context.require(Action.APP_USER_MANAGE, project_id)
    _check_role(role)
    session = context.db()
    form = publishing.get_form(session, project_id, xml_form_id)
    user = appusers.get(session, project_id, user_id)
    appusers.assign(session, user, form)
    audit.record(
        session,
        actor,
        "app-user.assign",
        project_id=project_id,
        subject=f"app user {user.id}",
        form=xml_form_id,
    )
    context.commit()
    return context.success()


@bp.delete("/forms/<xml_form_id>/assignments/<role>/<int:user_id>")
@operation("Take a form away from an app user", "project", response=SuccessSchema)
def unassign(project_id: int, xml_form_id: str, role: str, user_id: int) -> Response:
    """Remove an app user's assignment to a form."""
    actor = context.require(Action.APP_USER_MANAGE, project_id)
    _check_role(role)
    session = context.db()
    form = publishing.get_form(session, project_id, xml_form_id)
    user = appusers.get(session, project_id, user_id)
    if not appusers.unassign(session, user, form):
        raise NotFound(f"app user {user_id} is not assigned to {xml_form_id!r}")
    audit.record(
        session,
        actor,
        "app-user.unassign",
        project_id=project_id,
        subject=f"app user {user.id}",
        form=xml_form_id,
    )
    context.commit()
    return context.success()
