"""A served test site: an instance, a project with the FIELD_VISIT form and one app user.

Shared by the OpenRosa tests (``tests/api``) and the benchmark: the app runs in-process under a
real HTTP server on loopback, and the tests drive it with the Collect-equivalent client.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api import create_app
from api.config import Instance, Settings
from collector import appusers, collectqr, keyring, publishing
from collector.db import transaction
from collector.models import Submission, SubmissionPart
from tests.support.collect import CollectClient, Upload
from tests.support.server import threaded_server
from tests.support.xlsform import FIELD_VISIT, md_to_xlsx

FORM_ID = "field_visit"
VERSION = "2026112301"
INSTANCE = (
    '<data xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms" '
    'id="field_visit" version="2026112301"><full_name>Ayşe Yılmaz</full_name><age>34</age>'
    "<story>Geçen yıl Van üzerinden geldi.</story>"
    "<member><member_name>Ali Yılmaz</member_name></member>"
    "<member><member_name>Zeynep Yılmaz</member_name></member>"
    "<photo>{photo}</photo><meta><instanceID>{iid}</instanceID></meta></data>"
)


def instance_xml(iid: str, photo: str = "photo.jpg") -> bytes:
    """Return a FIELD_VISIT instance (Turkish text, two repeat rows, one photo)."""
    return INSTANCE.format(iid=iid, photo=photo).encode()


def make_app(tmp_path: Path, database_url: str, **overrides: Any) -> Flask:
    """Initialise an instance (2048-bit keys, no worker thread) and return its app."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        rsa_bits=2048,
        in_process_workers=False,
        **overrides,
    )
    Instance(settings, create=True).close()
    return create_app(settings=settings)


def instance_of(app: Flask) -> Instance:
    """Return the opened instance behind an app."""
    found: Instance = app.extensions["collector"]
    return found


@dataclass
class Site:
    """A live server with one project, the FIELD_VISIT form and an app user assigned to it."""

    app: Flask
    origin: str
    project_id: int
    token: str

    @property
    def instance(self) -> Instance:
        return instance_of(self.app)

    @property
    def server_url(self) -> str:
        return collectqr.server_url(self.origin, self.token, self.project_id)

    def url_for(self, token: str, project_id: int | None = None) -> str:
        """Return the Collect server URL of another token (or project)."""
        return collectqr.server_url(self.origin, token, project_id or self.project_id)

    def app_user(
        self, name: str, *, forms: tuple[str, ...] = (FORM_ID,), expires: datetime | None = None
    ) -> str:
        """Create another app user of the project; return its token."""
        with transaction(self.instance.sessions) as session:
            _user, token = appusers.create(
                session,
                self.project_id,
                name,
                self.instance.kek,
                forms=forms,
                expires_at=expires,
            )
        return token

    def publish(self, md: str, project_id: int | None = None) -> None:
        """Publish another XLSForm (markdown tables) in the project."""
        with transaction(self.instance.sessions) as session:
            publishing.publish_xlsform(session, project_id or self.project_id, md_to_xlsx(md))

    def drain(self) -> int:
        """Run one decryption worker until nothing is left to claim."""
        return self.instance.decryptor().drain()

    def submission(self, instance_id: str) -> Submission:
        """Return a stored submission by instanceID (detached, attributes loaded)."""
        with self.instance.sessions() as session:
            return session.scalars(
                select(Submission).where(Submission.instance_id == instance_id)
            ).one()

    def counts(self) -> tuple[int, int]:
        """Return how many submissions and submission parts are stored."""
        with self.instance.sessions() as session:
            return stored_counts(session)


def stored_counts(session: Session) -> tuple[int, int]:
    """Count the rows of the submissions and submission_parts tables."""
    subs = session.scalar(select(func.count()).select_from(Submission))
    parts = session.scalar(select(func.count()).select_from(SubmissionPart))
    return int(subs or 0), int(parts or 0)


def set_up_project(app: Flask, name: str = "Field") -> tuple[int, str]:
    """Create a project (2048-bit key), publish FIELD_VISIT, create an app user for it."""
    instance = instance_of(app)
    with transaction(instance.sessions) as session:
        project = keyring.create_project(session, name, instance.kek, bits=2048)
        publishing.publish_xlsform(session, project.id, md_to_xlsx(FIELD_VISIT))
        _user, token = appusers.create(
            session, project.id, "Tablet 1", instance.kek, forms=[FORM_ID]
        )
        return project.id, token


@contextmanager
def served_site(app: Flask) -> Iterator[Site]:
    """Set up a project on ``app`` and serve it over loopback HTTP."""
    project_id, token = set_up_project(app)
    with threaded_server(app) as origin:
        yield Site(app, origin, project_id, token)


class Sealer:
    """Fetches the form once as Collect does, then seals FIELD_VISIT submissions with its key."""

    def __init__(self, client: CollectClient):
        self.client = client
        [self.listed] = [f for f in client.form_list() if f.form_id == FORM_ID]
        self.form_xml = client.download(self.listed)

    def __call__(
        self,
        iid: str | None = None,
        media: list[tuple[str, bytes]] | None = None,
        xml: bytes | None = None,
    ) -> Upload:
        iid = iid or f"uuid:{uuid.uuid4()}"
        media = [("photo.jpg", b"\xff\xd8 jpeg bytes")] if media is None else media
        body = instance_xml(iid, media[0][0] if media else "") if xml is None else xml
        return self.client.seal(
            self.form_xml, FORM_ID, self.listed.version, body, media=media, instance_id=iid
        )
