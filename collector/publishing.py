"""Forms of a project: publish XLSForms encrypted with the project's active key."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import audit, keyring
from collector.audit import Actor
from collector.errors import Conflict, InvalidInput, NotFound
from collector.models import Form, FormState, FormVersion, utcnow
from forms.build import BuiltForm, build_xform
from forms.errors import FormError

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def get_form(session: Session, project_id: int, xml_form_id: str) -> Form:
    """Return a project's form by its XML form id, or raise NotFound."""
    form = session.scalars(
        select(Form).where(Form.project_id == project_id, Form.xml_form_id == xml_form_id)
    ).one_or_none()
    if form is None:
        raise NotFound(
            f"form {xml_form_id!r} does not exist in project {project_id}", xml_form_id=xml_form_id
        )
    return form


def published_versions(session: Session, form_id: int) -> list[FormVersion]:
    """Return a form's published versions, oldest first."""
    stmt = (
        select(FormVersion)
        .where(FormVersion.form_id == form_id, FormVersion.published_at.is_not(None))
        .order_by(FormVersion.published_at, FormVersion.id)
    )
    return list(session.scalars(stmt))


def current_version(session: Session, form_id: int) -> FormVersion | None:
    """Return the newest published version of a form (what Collect is served)."""
    versions = published_versions(session, form_id)
    return versions[-1] if versions else None


def find_version(session: Session, form_id: int, version: str) -> FormVersion | None:
    """Return the published version with this version string, if any."""
    return session.scalars(
        select(FormVersion).where(
            FormVersion.form_id == form_id,
            FormVersion.version == version,
            FormVersion.published_at.is_not(None),
        )
    ).one_or_none()


def build_for_project(
    session: Session, project_id: int, source: bytes, *, form_id_fallback: str | None = None
) -> tuple[BuiltForm, int]:
    """Build an XLSForm with the project's active public key; return it and the key row id."""
    generation = keyring.active_generation(session, project_id)
    public_key = base64.b64encode(generation.public_key_der).decode()
    try:
        built = build_xform(source, public_key=public_key, form_id_fallback=form_id_fallback)
    except FormError as exc:
        raise InvalidInput(str(exc), code=400.15, sheet=exc.sheet, row=exc.row) from None
    return built, generation.id


def publish_xlsform(
    session: Session,
    project_id: int,
    source: bytes | Path,
    *,
    form_id_fallback: str | None = None,
    actor: Actor = audit.SYSTEM,
) -> FormVersion:
    """Build and publish an XLSForm encrypted for the project's active key generation."""
    keyring.get_project(session, project_id)
    data = source.read_bytes() if isinstance(source, Path) else source
    built, generation_id = build_for_project(
        session, project_id, data, form_id_fallback=form_id_fallback
    )
    return publish_built(
        session, project_id, built, generation_id, source=data, source_type=XLSX_TYPE, actor=actor
    )


def publish_built(
    session: Session,
    project_id: int,
    built: BuiltForm,
    generation_id: int,
    *,
    source: bytes | None,
    source_type: str | None,
    actor: Actor = audit.SYSTEM,
) -> FormVersion:
    """Publish a built form definition as a new version of its form."""
    form = session.scalars(
        select(Form).where(Form.project_id == project_id, Form.xml_form_id == built.form_id)
    ).one_or_none()
    if form is None:
        form = Form(
            project_id=project_id,
            xml_form_id=built.form_id,
            name=built.title,
            state=FormState.OPEN.value,
        )
        session.add(form)
        session.flush()
    elif find_version(session, form.id, built.version) is not None:
        raise Conflict(
            f"version {built.version!r} of form {built.form_id!r} is already published; "
            "change the version in the settings sheet",
            code=409.6,
            xml_form_id=built.form_id,
            version=built.version,
        )
    row = FormVersion(
        form_id=form.id,
        version=built.version,
        xml=built.xml,
        md5=hashlib.md5(built.xml).hexdigest(),
        policy=built.policy.to_json(),
        key_generation_id=generation_id,
        source=source,
        source_type=source_type,
        published_at=utcnow(),
    )
    form.name = built.title
    form.updated_at = utcnow()
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "form.publish",
        project_id=project_id,
        subject=built.form_id,
        version=built.version,
        key_generation_id=generation_id,
    )
    return row


def set_state(session: Session, project_id: int, xml_form_id: str, state: str) -> Form:
    """Open, close (no submissions) or set a form to closing (no new downloads)."""
    if state not in {s.value for s in FormState}:
        raise InvalidInput(f"unknown form state {state!r}", state=state)
    form = get_form(session, project_id, xml_form_id)
    form.state = state
    form.updated_at = utcnow()
    return form
