"""The submission pipeline without HTTP: publish, seal as Collect does, receive, process."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Sequence
from xml.sax.saxutils import escape

from sqlalchemy.orm import Session, sessionmaker

from collector import intake, keyring, publishing
from collector.models import FormVersion
from collector.worker import Decryptor
from keys import keyring as kr
from keys import odk
from tests.support.xlsform import md_to_xlsx

KEY_ATTR = re.compile(rb'base64RsaPublicKey="([^"]+)"')


def publish(session: Session, kek: bytes, md: str, name: str = "Project") -> FormVersion:
    """Create a project (2048-bit key) and publish one XLSForm written as markdown."""
    project = keyring.create_project(session, name, kek, bits=2048)
    version = publishing.publish_xlsform(session, project.id, md_to_xlsx(md))
    assert version.form.project_id == project.id  # Loaded now, usable once detached.
    return version


def instance_xml(
    form_id: str, version: str, values: str, instance_id: str, meta: str = ""
) -> bytes:
    """Wrap field elements into an instance of a form (``meta``: more elements in its meta)."""
    return (
        f'<data id="{form_id}" version="{escape(version)}">{values}'
        f"<meta><instanceID>{instance_id}</instanceID>{meta}</meta></data>"
    ).encode()


def submit(
    session: Session,
    version: FormVersion,
    values: str,
    media: Sequence[tuple[str, bytes]] = (),
    instance_id: str | None = None,
    inner_instance_id: str | None = None,
    meta: str = "",
    only: Sequence[str] | None = None,
) -> str:
    """Seal an instance with the key its form carries and receive it; return its instanceID.

    ``inner_instance_id`` writes another instanceID inside the instance than the envelope's;
    ``meta`` adds elements to its meta group (an ``instanceName``, say); ``only`` sends just
    the named parts, as the first request of a split upload does.
    """
    instance_id = instance_id or f"uuid:{uuid.uuid4()}"
    version = session.get(FormVersion, version.id) or version
    match = KEY_ATTR.search(version.xml)
    assert match
    sealed = odk.encrypt_submission(
        form_id=version.form.xml_form_id,
        version=version.version,
        instance_id=instance_id,
        xml=instance_xml(
            version.form.xml_form_id,
            version.version,
            values,
            inner_instance_id or instance_id,
            meta,
        ),
        media=list(media),
        public_key=kr.load_public_key(match.group(1)),
    )
    parts = [
        intake.Part(name, io.BytesIO(data))
        for name, data in sealed.files.items()
        if only is None or name in only
    ]
    intake.receive(
        session,
        project_id=version.form.project_id,
        user=None,
        manifest=sealed.manifest,
        parts=parts,
    )
    return instance_id


def process_all(sessions: sessionmaker[Session], kek: bytes) -> None:
    """Run one worker until the queue is empty."""
    decryptor = Decryptor(sessions, kek)
    while decryptor.run_once():
        pass
