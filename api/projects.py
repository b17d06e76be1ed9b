"""Projects.

GET  /v1/projects          the projects the user may see (admins: all)
POST /v1/projects          create one, with its keyring (admin)
GET  /v1/projects/<p>      one project
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api import context
from api.openapi import operation
from api.schemas.projects import ProjectCreateSchema, ProjectSchema
from collector import keyring, roles
from collector.models import (
    AppUser,
    Form,
    KeyGeneration,
    KeyState,
    Project,
    Submission,
    on_view,
)
from collector.roles import Action

bp = Blueprint("projects", __name__, url_prefix="/v1")


@dataclass(frozen=True)
class ProjectView:
    id: int
    name: str
    description: str | None
    archived: bool
    key_id: int | None
    app_users: int
    forms: int
    last_submission: datetime | None
    created_at: datetime
    updated_at: datetime | None
    deleted_at: None = None


def _counts(session: Session, project_id: int) -> tuple[int | None, int, int, datetime | None]:
    key_id = session.scalar(
        select(KeyGeneration.id).where(
            KeyGeneration.project_id == project_id, KeyGeneration.state == KeyState.ACTIVE.value
        )
    )
    app_users = session.scalar(
        select(func.count()).where(AppUser.project_id == project_id, AppUser.revoked_at.is_(None))
    )
    forms = session.scalar(select(func.count()).where(Form.project_id == project_id))
    last = session.scalar(
        select(func.max(Submission.created_at)).where(
            Submission.project_id == project_id, on_view()
        )
    )
    return key_id, int(app_users or 0), int(forms or 0), last


def view(session: Session, project: Project) -> ProjectView:
    """Return a project with Central's counts."""
    key_id, app_users, forms, last = _counts(session, project.id)
    return ProjectView(
        project.id,
        project.name,
        project.description,
        project.archived,
        key_id,
        app_users,
        forms,
        last,
        project.created_at,
        project.updated_at,
    )


@bp.get("/projects")
@operation("List the projects you may see", "user", response=ProjectSchema, many=True)
def list_projects() -> Response:
    """List projects: all for admins, their own for data managers."""
    actor = context.require(Action.PROJECT_LIST)
    session = context.db()
    visible = roles.visible_project_ids(session, actor)
    stmt = select(Project).order_by(Project.id)
    if visible is not None:
        stmt = stmt.where(Project.id.in_(visible))
    rows = [view(session, p) for p in session.scalars(stmt)]
    return context.answer(ProjectSchema(), rows, many=True)


@bp.post("/projects")
@operation(
    "Create a project and its keyring", "admin", body=ProjectCreateSchema, response=ProjectSchema
)
def create_project() -> Response:
    """Create a project; its first key generation is generated now."""
    actor = context.require(Action.PROJECT_CREATE)
    body = context.load(ProjectCreateSchema(), context.json_body())
    session = context.db()
    project = keyring.create_project(
        session,
        body["name"],
        context.instance().kek,
        bits=context.instance().settings.rsa_bits,
        actor=actor,
    )
    project.description = body.get("description")
    session.flush()
    result = view(session, project)
    context.commit()
    return context.answer(ProjectSchema(), result)


@bp.get("/projects/<int:project_id>")
@operation("One project", "project", response=ProjectSchema)
def get_project(project_id: int) -> Response:
    """Return one project."""
    context.require(Action.PROJECT_READ, project_id)
    session = context.db()
    return context.answer(ProjectSchema(), view(session, keyring.get_project(session, project_id)))
