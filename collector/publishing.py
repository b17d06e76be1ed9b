"""Forms of a project: publish XLSForms encrypted with the project's active key."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from xml.sax.saxutils import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import audit, keyring, vault
from collector.audit import Actor
from collector.errors import Conflict, InvalidInput, NotFound
from collector.models import Dataset, Form, FormAttachment, FormState, FormVersion, utcnow
from forms.build import BuiltForm, build_xform
from forms.entity import EntityDeclaration, check_entity_policy
from forms.errors import FormError
from forms.model import FormModel, parse_xform

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
    previous = current_version(session, form.id)
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
    expect_attachments(session, row, previous)
    model = built.model if built.model is not None else parse_xform(built.xml)
    declare_entity_list(session, project_id, model.entity, actor=actor)
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


def declare_entity_list(
    session: Session, project_id: int, declaration: EntityDeclaration | None, *, actor: Actor
) -> None:
    """Create the entity list a published form saves to, and its properties, where missing
    (as Central does when such a form is published)."""
    from collector import entities  # It reads through OData's filters, which read forms.

    if declaration is None:
        return
    try:
        dataset = entities.get_dataset(session, project_id, declaration.dataset)
    except NotFound:
        dataset = entities.create_dataset(
            session, project_id, declaration.dataset, approval_required=False, actor=actor
        )
    known = {p.name for p in entities.properties(session, dataset)}
    for name in dict.fromkeys(declaration.saveto.values()):
        if name not in known:
            entities.add_property(session, dataset, name, actor=actor)


def set_state(session: Session, project_id: int, xml_form_id: str, state: str) -> Form:
    """Open, close (no submissions) or set a form to closing (no new downloads)."""
    if state not in {s.value for s in FormState}:
        raise InvalidInput(f"unknown form state {state!r}", state=state)
    form = get_form(session, project_id, xml_form_id)
    form.state = state
    form.updated_at = utcnow()
    return form


XML_TYPE = "application/xml"
_MEDIA = re.compile(rb"""jr://(file-csv|file|images|audio|video)/([^"'<>\s]+)""")
_KINDS = {b"images": "image", b"audio": "audio", b"video": "video"}
_MODEL = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?)model\b[^>]*>")
_ATTRS = re.compile(rb"""([\w.:-]+)\s*=\s*("[^"]*"|'[^']*')""")
_INSTANCE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?instance\b([^>]*)>")
_ELEMENT = re.compile(rb"\s*<([A-Za-z_][\w.:-]*)(\s[^>]*?)?(/?)>")
_DROPPED = {b"action", b"base64RsaPublicKey"}


def _model_span(xml: bytes) -> tuple[bytes, int, int]:
    """Return the model's namespace prefix and the span of its content."""
    start = _MODEL.search(xml)
    end = xml.find(b"</" + start.group(1) + b"model>", start.end()) if start else -1
    if start is None or end < 0:
        raise InvalidInput("the XForm has no <model>", code=400.15)
    return start.group(1), start.end(), end


def inject_key(xml: bytes, public_key_b64: str) -> bytes:
    """Put the project's public key in an XForm's ``<submission>`` (added if missing).

    Any ``action`` is dropped so that Collect sends to the server it was configured with; the
    rest of the document is left byte for byte as uploaded.
    """
    prefix, start, end = _model_span(xml)
    key = f'base64RsaPublicKey="{public_key_b64}"'.encode()
    found = re.compile(rb"<" + re.escape(prefix) + rb"submission\b([^>]*?)(/?)>").search(
        xml, start, end
    )
    if found is None:
        return xml[:start] + b"<" + prefix + b"submission " + key + b"/>" + xml[start:]
    kept = [m.group(0) for m in _ATTRS.finditer(found.group(1)) if m.group(1) not in _DROPPED]
    tag = b"<" + prefix + b"submission " + b" ".join([*kept, key]) + found.group(2) + b">"
    return xml[: found.start()] + tag + xml[found.end() :]


def set_version(xml: bytes, version: str) -> bytes:
    """Set the version attribute of an XForm's primary instance root."""
    _prefix, start, end = _model_span(xml)
    for instance in _INSTANCE.finditer(xml, start, end):
        if re.search(rb"\sid\s*=", instance.group(1)):
            continue
        root = _ELEMENT.match(xml, instance.end())
        if root is None:
            break
        attrs = root.group(2) or b""
        value = b'version="' + escape(version, {'"': "&quot;"}).encode() + b'"'
        replaced, count = re.subn(rb"""(?<=\s)version\s*=\s*("[^"]*"|'[^']*')""", value, attrs)
        attrs = replaced if count else attrs + b" " + value
        head = b"<" + root.group(1) + attrs + root.group(3) + b">"
        return xml[: root.start(1) - 1] + head + xml[root.end() :]
    raise InvalidInput("the XForm has no primary instance", code=400.15)


def prepare_xform(session: Session, project_id: int, xml: bytes) -> tuple[bytes, FormModel, int]:
    """Check an uploaded XForm and inject the project's active key; return it and its model."""
    model = _parse(xml)
    if not model.form_id:
        raise InvalidInput("the XForm's primary instance has no id", code=400.15)
    for problem in check_entity_policy(model, model.policy, {}):
        raise InvalidInput(f"the XForm is not valid: {problem}", code=400.15)
    generation = keyring.active_generation(session, project_id)
    keyed = inject_key(xml, base64.b64encode(generation.public_key_der).decode())
    return keyed, _parse(keyed), generation.id


def _parse(xml: bytes) -> FormModel:
    try:
        return parse_xform(xml)
    except FormError as exc:
        raise InvalidInput(f"the XForm is not valid: {exc}", code=400.15) from None


def attachment_kinds(xml: bytes) -> dict[str, str]:
    """Return the files a definition references (``jr://…/name``) and their Central type."""
    return {m.group(2).decode(): _KINDS.get(m.group(1), "file") for m in _MEDIA.finditer(xml)}


def attachments(session: Session, version: FormVersion) -> list[FormAttachment]:
    """Return a version's attachment slots, by name (data NULL: not uploaded yet)."""
    stmt = select(FormAttachment).where(FormAttachment.form_version_id == version.id)
    return list(session.scalars(stmt.order_by(FormAttachment.name)))


def entity_list_of(session: Session, project_id: int, attachment: FormAttachment) -> Dataset | None:
    """The entity list a data file stands for, as Central links them: ``<list>.csv`` with no
    file uploaded, in a project that has that list (an uploaded file takes precedence)."""
    if attachment.data is not None or not attachment.name.endswith(".csv"):
        return None
    stmt = select(Dataset).where(
        Dataset.project_id == project_id, Dataset.name == attachment.name.removesuffix(".csv")
    )
    return session.scalars(stmt).one_or_none()


@dataclass(frozen=True)
class ListForms:
    """The forms of a project tied to one entity list by their published versions."""

    #: Forms that create or update its entities (the list is in their entities sheet).
    source: list[Form]
    #: Forms that read it as a data file (``select_one_from_file <list>.csv``, nothing uploaded).
    linked: list[Form]
    #: Property name -> the xmlFormIds of the source forms that save to it.
    property_forms: dict[str, list[str]]


@lru_cache(maxsize=256)
def declaration_of(xml: bytes) -> EntityDeclaration | None:
    """The entity declaration of a published definition (parsed once per definition)."""
    return parse_xform(xml).entity


def list_forms(session: Session, project_id: int, dataset: Dataset) -> ListForms:
    """Find which forms create, update and read an entity list (their published versions)."""
    source: list[Form] = []
    linked: list[Form] = []
    saved: dict[str, list[str]] = {}
    stmt = select(Form).where(Form.project_id == project_id).order_by(Form.xml_form_id)
    for form in session.scalars(stmt):
        version = current_version(session, form.id)
        if version is None:
            continue
        declaration = declaration_of(version.xml)
        if declaration is not None and declaration.dataset == dataset.name:
            source.append(form)
            for name in dict.fromkeys(declaration.saveto.values()):
                saved.setdefault(name, []).append(form.xml_form_id)
        # Linked: a data file named for the list with nothing uploaded (``entity_list_of``).
        wanted = f"{dataset.name}.csv"
        if any(a.name == wanted and a.data is None for a in attachments(session, version)):
            linked.append(form)
    return ListForms(source, linked, saved)


@dataclass(frozen=True)
class Served:
    """A file Collect may download for a form version: an uploaded one, or an entity list."""

    name: str
    md5: str
    content_type: str
    read: Callable[[], bytes]


def served_files(
    secrets: vault.Secrets,
    session: Session,
    project_id: int,
    version: FormVersion,
    only: str | None = None,
) -> list[Served]:
    """The files the manifest lists for a version (or the one named ``only``), with the md5
    of the bytes ``read`` gives.

    An entity list is written out here, so its md5 changes whenever an entity does and Collect
    fetches the new list.
    """
    from collector import entities  # It reads through OData's filters, which read forms.

    served = []
    for attachment in attachments(session, version):
        if only is not None and attachment.name != only:
            continue
        if attachment.data is not None:
            kind = attachment.content_type or "application/octet-stream"
            read = _opener(secrets, session, project_id, attachment)
            served.append(Served(attachment.name, attachment.md5 or "", kind, read))
            continue
        dataset = entity_list_of(session, project_id, attachment)
        if dataset is not None:
            data = entities.attachment_csv(session, secrets, dataset)
            md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
            served.append(Served(attachment.name, md5, "text/csv", partial(bytes, data)))
    return served


def _opener(
    secrets: vault.Secrets, session: Session, project_id: int, attachment: FormAttachment
) -> Callable[[], bytes]:
    def read() -> bytes:
        return attachment_data(secrets, session, project_id, attachment) or b""

    return read


def seal_attachment(
    secrets: vault.Secrets, session: Session, project_id: int, name: str, data: bytes
) -> tuple[int, bytes]:
    """Seal a form attachment under the project's data key, bound to its name."""
    return vault.seal_value(secrets, session, project_id, data, f"form-attachment/{name}")


def attachment_data(
    secrets: vault.Secrets, session: Session, project_id: int, attachment: FormAttachment
) -> bytes | None:
    """Return a form attachment's file, opened (None: not uploaded)."""
    if attachment.data is None or attachment.key_version is None:
        return attachment.data  # Not uploaded, or stored before attachments were sealed.
    what = f"form-attachment/{attachment.name}"
    return vault.open_value(
        secrets, session, project_id, attachment.key_version, attachment.data, what
    )


def expect_attachments(
    session: Session, version: FormVersion, previous: FormVersion | None
) -> None:
    """Create a version's attachment slots, carrying over the files the previous one had."""
    carried = {a.name: a for a in attachments(session, previous)} if previous else {}
    for name in attachment_kinds(version.xml):
        old = carried.get(name)
        session.add(
            FormAttachment(
                form_version_id=version.id,
                name=name,
                content_type=old.content_type if old else None,
                data=old.data if old else None,
                md5=old.md5 if old else None,
                key_version=old.key_version if old else None,
            )
        )
    session.flush()
