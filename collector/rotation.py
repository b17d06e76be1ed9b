"""Key rotation end to end: republish every form with the new key, watch devices, guard destroy.

Tablets work offline for weeks, so a rotation never strands a submission: the old generation is
retired (decrypt-only), every published form is republished as a new version carrying the new
public key (a new formList hash, so Collect offers the update), and the server keeps, per app
user, which form versions it downloaded. A retired generation is destroyed only when no
envelope waits for it and no device still uses a form version sealed for it, unless an admin
forces it with a reason; either way it is audited.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector import audit, keyring, publishing
from collector.audit import Actor
from collector.errors import Conflict, InvalidInput
from collector.models import (
    AppUser,
    Form,
    FormDownload,
    FormVersion,
    KeyGeneration,
    KeyState,
    Submission,
    SubmissionState,
    utcnow,
)
from forms.build import BuiltForm, build_xform
from forms.errors import FormError
from forms.policy import PIIPolicy

_KEY_ATTR = re.compile(rb'base64RsaPublicKey="[^"]*"')
_SUFFIX = re.compile(r"-k\d+$")


def next_version(version: str, generation: int) -> str:
    """Return the version a form gets when republished for key generation ``generation``."""
    return f"{_SUFFIX.sub('', version) or 'v'}-k{generation}"


def rekey_xform(xml: bytes, public_key_b64: str, version: str) -> bytes:
    """Put a new public key and version into an XForm that has no XLSForm source."""
    if len(_KEY_ATTR.findall(xml)) != 1:
        raise InvalidInput("the form has no single base64RsaPublicKey to replace", code=400.15)
    xml = _KEY_ATTR.sub(f'base64RsaPublicKey="{public_key_b64}"'.encode(), xml)
    instance = re.search(rb"<instance>\s*<([A-Za-z_][\w.\-]*)([^>]*)>", xml)
    if instance is None:
        raise InvalidInput("the form has no primary instance", code=400.15)
    attrs = instance.group(2)
    new_attr = f'version="{version}"'.encode()
    attrs = (
        re.sub(rb'version="[^"]*"', new_attr, attrs)
        if b'version="' in attrs
        else attrs + b" " + new_attr
    )
    start, end = instance.span(2)
    return xml[:start] + attrs + xml[end:]


@dataclass(frozen=True)
class Republished:
    xml_form_id: str
    old_version: str
    new_version: str


def _republish(
    session: Session, form: Form, generation: KeyGeneration, actor: Actor
) -> Republished | None:
    current = publishing.current_version(session, form.id)
    if current is None:
        return None
    version = next_version(current.version, generation.generation)
    public_key = base64.b64encode(generation.public_key_der).decode()
    if current.source is not None and current.source_type == publishing.XLSX_TYPE:
        try:
            built = build_xform(current.source, public_key=public_key, version=version)
        except FormError as exc:
            raise InvalidInput(
                f"form {form.xml_form_id!r} no longer builds: {exc}", code=400.15
            ) from None
    else:
        built = BuiltForm(
            xml=rekey_xform(current.xml, public_key, version),
            form_id=form.xml_form_id,
            version=version,
            title=form.name or form.xml_form_id,
            policy=PIIPolicy.from_json(current.policy),
        )
    publishing.publish_built(
        session,
        form.project_id,
        built,
        generation.id,
        source=current.source,
        source_type=current.source_type,
        actor=actor,
    )
    return Republished(form.xml_form_id, current.version, version)


def rotate_project(
    session: Session, project_id: int, kek: bytes, *, bits: int, actor: Actor = audit.SYSTEM
) -> tuple[KeyGeneration, list[Republished]]:
    """Make a new key generation active and republish every published form with it."""
    generation = keyring.rotate(session, project_id, kek, bits=bits, actor=actor)
    forms = session.scalars(select(Form).where(Form.project_id == project_id).order_by(Form.id))
    done = [r for form in forms if (r := _republish(session, form, generation, actor))]
    return generation, done


@dataclass(frozen=True)
class Straggler:
    """An app user whose newest download of a form is a version sealed for an old key."""

    app_user_id: int
    display_name: str
    xml_form_id: str
    version: str
    last_download: datetime


@dataclass
class GenerationStatus:
    generation: int
    state: str
    fingerprint: str
    created_at: datetime
    pending: int = 0
    processed: int = 0
    last_submission: datetime | None = None
    stragglers: list[Straggler] = field(default_factory=list)


def _latest_downloads(
    session: Session, project_id: int
) -> list[tuple[AppUser, Form, FormVersion, datetime]]:
    rows = session.execute(
        select(AppUser, Form, FormVersion, FormDownload.last_at)
        .join(FormDownload, FormDownload.app_user_id == AppUser.id)
        .join(FormVersion, FormVersion.id == FormDownload.form_version_id)
        .join(Form, Form.id == FormVersion.form_id)
        .where(AppUser.project_id == project_id, AppUser.revoked_at.is_(None))
        .order_by(AppUser.id, Form.id, FormVersion.published_at, FormVersion.id)
    ).all()
    latest: dict[tuple[int, int], tuple[AppUser, Form, FormVersion, datetime]] = {}
    for user, form, version, at in rows:
        latest[(user.id, form.id)] = (user, form, version, at)  # Newest version wins.
    return list(latest.values())


def stragglers(session: Session, project_id: int, key_generation_id: int) -> list[Straggler]:
    """Return the devices still on a form version sealed for this generation."""
    return [
        Straggler(user.id, user.display_name, form.xml_form_id, version.version, at)
        for user, form, version, at in _latest_downloads(session, project_id)
        if version.key_generation_id == key_generation_id
        and publishing.current_version(session, form.id) != version
    ]


def _submission_counts(session: Session, generation_id: int) -> tuple[int, int, datetime | None]:
    rows = session.execute(
        select(Submission.state, func.count(), func.max(Submission.created_at))
        .join(FormVersion, FormVersion.id == Submission.form_version_id)
        .where(FormVersion.key_generation_id == generation_id)
        .group_by(Submission.state)
    ).all()
    pending = sum(n for state, n, _ in rows if state != SubmissionState.PROCESSED.value)
    processed = sum(n for state, n, _ in rows if state == SubmissionState.PROCESSED.value)
    last = max((at for _s, _n, at in rows if at is not None), default=None)
    return pending, processed, last


def status(session: Session, project_id: int) -> list[GenerationStatus]:
    """Return every generation with its pending envelopes, last submission and stragglers."""
    out = []
    for row in keyring.generations(session, project_id):
        item = GenerationStatus(row.generation, row.state, row.fingerprint, row.created_at)
        item.pending, item.processed, item.last_submission = _submission_counts(session, row.id)
        if row.state != KeyState.ACTIVE.value:
            item.stragglers = stragglers(session, project_id, row.id)
        out.append(item)
    return out


def destroy(
    session: Session,
    project_id: int,
    generation: int,
    *,
    actor: Actor,
    force: bool = False,
    reason: str = "",
) -> KeyGeneration:
    """Destroy a retired generation's private key; refuse while anything depends on it."""
    row = keyring.get_generation(session, project_id, generation)
    if row.state == KeyState.ACTIVE.value:
        raise Conflict("the active generation cannot be destroyed: rotate first", code=409.7)
    if row.state == KeyState.DESTROYED.value:
        raise Conflict(f"generation {generation} is already destroyed", code=409.7)
    pending, _processed, _last = _submission_counts(session, row.id)
    waiting = stragglers(session, project_id, row.id)
    if (pending or waiting) and not force:
        names = sorted({f"{s.display_name} ({s.xml_form_id} {s.version})" for s in waiting})
        raise Conflict(
            f"generation {generation} is still needed: {pending} submission(s) not processed, "
            f"{len(names)} device(s) not updated" + (f": {', '.join(names)}" if names else ""),
            code=409.8,
            pending=pending,
            stragglers=names,
        )
    if force and len(reason.strip()) < 5:
        raise InvalidInput(
            "a forced destroy needs a reason (at least 5 characters)", code=400.22, field="reason"
        )
    row.sealed_private_key = None
    row.state = KeyState.DESTROYED.value
    row.destroyed_at = utcnow()
    audit.record(
        session,
        actor,
        "key.destroy",
        project_id=project_id,
        subject=f"generation {generation}",
        forced=force,
        reason=reason or None,
        pending=pending,
        stragglers=[s.app_user_id for s in waiting],
    )
    session.flush()
    return row
