"""ODK Collect's conversation with the server, over real HTTP on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from api import create_app
from api.config import Settings
from collector import appusers, collectqr, keyring, publishing
from collector.db import transaction
from collector.models import Submission, SubmissionPart, SubmissionRecord
from collector.worker import Decryptor
from tests.support.collect import CollectClient
from tests.support.server import threaded_server
from tests.support.xlsform import FIELD_VISIT, md_to_xlsx

INSTANCE = (
    '<data xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms" '
    'id="field_visit" version="2026112301"><full_name>Ayşe Yılmaz</full_name><age>34</age>'
    "<story>Geçen yıl Van üzerinden geldi.</story>"
    "<member><member_name>Ali Yılmaz</member_name></member>"
    "<member><member_name>Zeynep Yılmaz</member_name></member>"
    "<photo>photo.jpg</photo><meta><instanceID>{iid}</instanceID></meta></data>"
)


@dataclass
class Site:
    app: Flask
    origin: str
    project_id: int
    server_url: str
    token: str


@pytest.fixture
def app(tmp_path: Path, database_url: str) -> Iterator[Flask]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        rsa_bits=2048,
        in_process_workers=False,
    )
    from api.config import Instance

    Instance(settings, create=True).close()
    app = create_app(settings=settings)
    yield app
    app.extensions["collector"].close()


@pytest.fixture
def site(app: Flask) -> Iterator[Site]:
    instance = app.extensions["collector"]
    with transaction(instance.sessions) as session:
        project = keyring.create_project(session, "Field", instance.kek, bits=2048)
        publishing.publish_xlsform(session, project.id, md_to_xlsx(FIELD_VISIT))
        _user, token = appusers.create(
            session, project.id, "Tablet 1", instance.kek, forms=["field_visit"]
        )
        project_id = project.id
    with threaded_server(app) as origin:
        yield Site(app, origin, project_id, collectqr.server_url(origin, token, project_id), token)


def drain(app: Flask) -> None:
    instance = app.extensions["collector"]
    decryptor = Decryptor(instance.sessions, instance.kek)
    while decryptor.run_once():
        pass


def test_collect_round_trip(site: Site) -> None:
    client = CollectClient(site.server_url)
    [listed] = client.form_list()
    assert (listed.form_id, listed.version) == ("field_visit", "2026112301")
    form_xml = client.download(listed)
    head = client.head()
    assert head.status_code == 204
    assert head.headers["X-OpenRosa-Version"] == "1.0"
    upload = client.seal(
        form_xml,
        "field_visit",
        "2026112301",
        INSTANCE.format(iid="uuid:0f0e9c1c-7c1e-4b47-9a55-3f1d3cbd0a01").encode(),
        media=[("photo.jpg", b"\xff\xd8jpeg bytes")],
        instance_id="uuid:0f0e9c1c-7c1e-4b47-9a55-3f1d3cbd0a01",
    )
    response = client.post(upload)
    assert response.status_code == 201, response.text
    assert "OpenRosaResponse" in response.text
    drain(site.app)
    instance = site.app.extensions["collector"]
    with instance.sessions() as session:
        sub = session.scalars(select(Submission)).one()
        assert (sub.state, sub.signature, sub.reason) == ("processed", "valid", None)
        record = json.loads(session.get(SubmissionRecord, sub.id).data)
    assert record["root"]["/data/age"] is not None
    assert [r["position"] for r in record["repeats"]["/data/member"]] == [[1], [2]]


def test_split_upload_completes_the_same_submission(site: Site) -> None:
    client = CollectClient(site.server_url)
    [listed] = client.form_list()
    form_xml = client.download(listed)
    iid = "uuid:5b1c1a55-2f0c-4a8e-8f61-8c2b1a4c9d02"
    upload = client.seal(
        form_xml,
        "field_visit",
        "2026112301",
        INSTANCE.format(iid=iid).encode(),
        media=[("photo.jpg", b"x" * 5000)],
        instance_id=iid,
    )
    first = client.post(upload, names=["photo.jpg.enc"], incomplete=True)
    assert first.status_code == 201, first.text
    drain(site.app)
    instance = site.app.extensions["collector"]
    with instance.sessions() as session:
        assert session.scalars(select(Submission.state)).one() == "received"
    second = client.post(upload)
    assert second.status_code == 201, second.text
    again = client.post(upload)
    assert again.status_code == 201, again.text
    drain(site.app)
    with instance.sessions() as session:
        assert session.scalars(select(Submission.state)).one() == "processed"
        assert len(session.scalars(select(SubmissionPart)).all()) == 2
