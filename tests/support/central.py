"""The REST API under test: an app on a fresh database, users with sessions, a small world.

``Central`` wraps one app: it makes users (sessions issued directly, so no password hashing is
paid per test), projects with 2048-bit keys, published forms, and an ``Api`` client that sends
the bearer token like pyodk. ``World`` is the cast of the role tests: an admin, a data manager
of project A, a data manager of project B, an app user of A, and A's form with a submission.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from api import create_app
from api.config import Instance, Settings
from collector import appusers, keyring, publishing, roles, sessions, users
from collector.db import transaction
from collector.models import Base, Project, User
from tests.support.xlsform import md_to_xlsx

# Tables a refused request must leave as they were (the audit log and sessions may grow).
WATCHED = sorted(
    t.name for t in Base.metadata.sorted_tables if t.name not in {"audit_log", "sessions"}
)

SIMPLE = """
| survey   |
|          | type                     | name   | label  | pii        |
|          | text                     | place  | Place  |            |
|          | select_one_from_file fruits.csv | fruit | Fruit |      |
|          | begin_repeat             | people | People |            |
|          | text                     | name   | Name   | identifier |
|          | end_repeat               |        |        |            |
|          | image                    | photo  | Photo  | sensitive  |
| settings |
|          | form_id | version | form_title |
|          | simple  | 1       | Simple     |
"""


def chunked(data: bytes) -> dict[str, Any]:
    """Request arguments for a body sent as pyodk streams files: chunked, no Content-Length."""
    return {
        "input_stream": io.BytesIO(data),
        "headers": {"Transfer-Encoding": "chunked"},
        # What a WSGI server that de-chunks the body (gunicorn, werkzeug) tells the app.
        "environ_overrides": {"wsgi.input_terminated": True},
    }


@dataclass
class Api:
    """A REST client holding a bearer token, as pyodk sends it."""

    client: FlaskClient
    token: str | None = None

    def request(self, method: str, path: str, **kwargs: Any) -> TestResponse:
        headers = dict(kwargs.pop("headers", None) or {})
        headers.setdefault("User-Agent", "pyodk v1.3.0")
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("DELETE", path, **kwargs)


@dataclass
class Central:
    """One app on one database."""

    app: Flask
    instance: Instance = field(init=False)

    def __post_init__(self) -> None:
        self.instance = self.app.extensions["collector"]

    @property
    def kek(self) -> bytes:
        return self.instance.kek

    def session(self) -> Session:
        return self.instance.sessions()

    def api(self, token: str | None = None) -> Api:
        return Api(self.app.test_client(), token)

    def user(
        self, email: str, role: str, *, password: str | None = None, projects: tuple[int, ...] = ()
    ) -> tuple[int, str]:
        """Create a user (members of ``projects``) and return its id and a session token."""
        with transaction(self.instance.sessions) as session:
            user = users.create(session, email, role, password)
            for project_id in projects:
                project = session.get_one(Project, project_id)
                roles.add_member(session, project, user, actor=roles.actor_for(user))
            token = sessions.issue(session, user).token
            return user.id, token

    def token_for(self, user_id: int) -> str:
        """Issue a fresh session for an existing user."""
        with transaction(self.instance.sessions) as session:
            return sessions.issue(session, session.get_one(User, user_id)).token

    def project(self, name: str) -> int:
        with transaction(self.instance.sessions) as session:
            return keyring.create_project(session, name, self.kek, bits=2048).id

    def publish(self, project_id: int, md: str) -> str:
        with transaction(self.instance.sessions) as session:
            version = publishing.publish_xlsform(session, project_id, md_to_xlsx(md))
            return version.form.xml_form_id

    def app_user(self, project_id: int, name: str, forms: tuple[str, ...] = ()) -> tuple[int, str]:
        with transaction(self.instance.sessions) as session:
            user, token = appusers.create(session, project_id, name, self.kek, forms=list(forms))
            return user.id, token

    def close(self) -> None:
        self.instance.close()

    def drain(self) -> None:
        """Run a worker until no submission waits."""
        decryptor = self.instance.decryptor()
        while decryptor.run_once():
            pass

    def counts(self) -> dict[str, int]:
        """Row counts of every watched table."""
        with self.session() as session:
            return {
                name: int(
                    session.scalar(select(func.count()).select_from(Base.metadata.tables[name]))
                    or 0
                )
                for name in WATCHED
            }

    def audit_actions(self) -> list[str]:
        """Every audit action so far, oldest first."""
        with self.session() as session:
            rows = session.execute(text("SELECT action FROM audit_log ORDER BY id"))
            return [r[0] for r in rows]


def make_central(tmp: Path, database_url: str, **overrides: Any) -> Central:
    """Initialise an instance on a database and build its app (no background worker)."""
    settings = Settings(
        data_dir=tmp / "data",
        database_url=database_url,
        rsa_bits=2048,
        in_process_workers=False,
        **overrides,
    )
    Instance(settings, create=True).close()
    return Central(create_app(settings=settings))


@dataclass
class World:
    """The cast of the role tests."""

    central: Central
    project_a: int
    project_b: int
    form: str
    admin_id: int
    admin: str
    manager_id: int
    manager: str
    outsider_id: int
    outsider: str
    app_user_id: int
    app_user: str
    instance_id: str = "uuid:6b2c1a3e-0d5e-4e44-9c8a-1f3c5b7d9e01"


def build_world(central: Central) -> World:
    """Two projects, three web users, an app user, a form and one submission."""
    a, b = central.project("A"), central.project("B")
    form = central.publish(a, SIMPLE)
    admin_id, admin = central.user("admin@example.org", "admin")
    manager_id, manager = central.user("manager@example.org", "data-manager", projects=(a,))
    outsider_id, outsider = central.user("outsider@example.org", "data-manager", projects=(b,))
    app_user_id, app_user = central.app_user(a, "Tablet", (form,))
    world = World(
        central,
        a,
        b,
        form,
        admin_id,
        admin,
        manager_id,
        manager,
        outsider_id,
        outsider,
        app_user_id,
        app_user,
    )
    response = central.api(admin).post(
        f"/v1/projects/{a}/forms/{form}/submissions",
        data=simple_instance(world.instance_id, place="Van"),
        content_type="application/xml",
    )
    assert response.status_code == 200, response.get_json()
    return world


def simple_instance(
    instance_id: str,
    *,
    place: str = "Kars",
    names: tuple[str, ...] = (),
    photo: str | None = None,
    deprecated: str | None = None,
) -> bytes:
    """An instance of the SIMPLE form."""
    people = "".join(f"<people><name>{n}</name></people>" for n in names)
    meta = f"<deprecatedID>{deprecated}</deprecatedID>" if deprecated else ""
    return (
        f'<data id="simple" version="1"><place>{place}</place><fruit/>{people}'
        f"<photo>{photo or ''}</photo><meta>{meta}<instanceID>{instance_id}</instanceID></meta>"
        "</data>"
    ).encode()
