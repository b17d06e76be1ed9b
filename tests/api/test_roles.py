"""Every REST endpoint × every role: who is let through, who is refused, and what refusal leaves.

The endpoints come from the OpenAPI document (its ``x-access``), so a new endpoint joins the
matrix by being documented. Roles: anonymous, an app user's token presented as a bearer, a data
manager of the project the path names, a data manager of another project, and an admin.
A refusal stores nothing (row counts of every table but the audit log and sessions), and a
refusal of an authenticated actor is audited as ``auth.denied``.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from api.openapi import URL_TOKENS, operations
from collector.db import sqlite_url
from tests.support.central import (
    Central,
    World,
    build_world,
    make_central,
)
from tests.support.databases import fresh_database

ROLES = ("anonymous", "app-user", "manager", "outsider", "admin")
ALLOWED = {
    "public": set(ROLES),
    "user": {"manager", "outsider", "admin"},
    "project": {"manager", "admin"},
    "admin": {"admin"},
}
ENTITY = "0d5e6c2a-8f1b-4c3d-9e7a-2b4c6d8e0f13"


@dataclass
class Cast:
    world: World
    spare_app_user: int
    spare_manager: int


@pytest.fixture(scope="module")
def cast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cast]:
    base = tmp_path_factory.mktemp("roles")
    with fresh_database(base) as url:
        central = make_central(base, url)
        world = build_world(central)
        spare_app_user, _token = central.app_user(world.project_a, "Spare", (world.form,))
        spare_manager, _token = central.user("spare@example.org", "data-manager")
        api = central.api(world.admin)
        datasets = f"/v1/projects/{world.project_a}/datasets"
        api.post(datasets, json={"name": "trees"})
        api.post(f"{datasets}/trees/properties", json={"name": "height"})
        api.post(f"{datasets}/trees/entities", json={"uuid": ENTITY, "label": "A", "data": {}})
        yield Cast(world, spare_app_user, spare_manager)
        central.close()


def _operations(app: Flask) -> list[tuple[str, str, str, str]]:
    """(method, rule, endpoint, access) of every REST operation (OpenRosa, under app-user and
    draft test tokens, has its own tests)."""
    return [
        (method, rule, endpoint, op.access)
        for method, rule, endpoint, op in operations(app)
        if op.access not in URL_TOKENS
    ]


def _values(cast: Cast, endpoint: str) -> dict[str, Any]:
    world = cast.world
    project_membership = endpoint.startswith("users.") and "member" in endpoint
    user_id = (
        cast.spare_manager
        if project_membership
        else world.admin_id
        if endpoint == "users.get_user"
        else cast.spare_app_user
    )
    return {
        "project_id": world.project_a,
        "xml_form_id": world.form,
        "instance_id": world.instance_id,
        "user_id": user_id,
        "role": "data-manager" if project_membership else "app-user",
        "name": "fruits.csv" if endpoint.startswith("forms.") else "trees",
        "entity_uuid": ENTITY,
        "token": "current",
        "target": "Submissions",
        "generation": 1,
    }


def _url(rule: str, values: dict[str, Any]) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), rule)


def _token(cast: Cast, role: str) -> str | None:
    world, central = cast.world, cast.world.central
    users = {"manager": world.manager_id, "outsider": world.outsider_id, "admin": world.admin_id}
    if role == "anonymous":
        return None
    if role == "app-user":
        return world.app_user
    return central.token_for(users[role])


def _last_audit(central: Central) -> tuple[str, int | None]:
    with central.session() as session:
        row = session.execute(
            text("SELECT action, actor_id FROM audit_log ORDER BY id DESC LIMIT 1")
        ).one()
    return row[0], row[1]


def _actor_id(cast: Cast, role: str) -> int:
    world = cast.world
    return {
        "app-user": world.app_user_id,
        "manager": world.manager_id,
        "outsider": world.outsider_id,
    }[role]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "operation" not in metafunc.fixturenames:
        return
    app = _documented_app()
    ops = _operations(app)
    params = [
        pytest.param((m, r, e, a), role, id=f"{m} {r} as {role}")
        for m, r, e, a in ops
        for role in ROLES
    ]
    metafunc.parametrize(("operation", "role"), params)


def _documented_app() -> Flask:
    """An app (never started) whose url_map lists every operation, at collection time."""
    with tempfile.TemporaryDirectory(prefix="collector-routes-") as base:
        central = make_central(Path(base), sqlite_url(Path(base) / "routes.db"))
        central.close()
        return central.app


def test_the_matrix_covers_the_surface(cast: Cast) -> None:
    ops = _operations(cast.world.central.app)
    assert len(ops) >= 55
    assert {a for *_, a in ops} == {"public", "user", "project", "admin"}


def test_role(cast: Cast, operation: tuple[str, str, str, str], role: str) -> None:
    method, rule, endpoint, access = operation
    central = cast.world.central
    url = _url(rule, _values(cast, endpoint))
    token = _token(cast, role)
    before = central.counts()
    response = central.api(token).request(method, url, json={})
    allowed = role in ALLOWED[access]
    hint = (
        f"{endpoint} answered {response.status_code} to {role} but is documented as {access!r}; "
        "an undocumented view counts as 'project': declare who may call it with "
        "api.openapi.operation(summary, access)"
    )
    if allowed:
        assert response.status_code not in (401, 403), hint
        # 501 is a deliberate answer (a submission's plaintext XML); other 5xx are bugs.
        assert response.status_code < 500 or response.status_code == 501, response.get_data()
        return
    expected = 401 if role == "anonymous" else 403
    assert response.status_code == expected, hint
    assert response.get_json()["code"] == (401.2 if expected == 401 else 403.1)
    assert central.counts() == before
    if role != "anonymous":
        assert _last_audit(central) == ("auth.denied", _actor_id(cast, role))


def test_escalation_attempts_are_refused_and_audited(cast: Cast) -> None:
    world, central = cast.world, cast.world.central
    manager = central.api(central.token_for(world.manager_id))
    attempts = [
        manager.post("/v1/users", json={"email": "me2@example.org", "role": "admin"}),
        manager.post(f"/v1/projects/{world.project_b}/assignments/data-manager/{world.manager_id}"),
        manager.get(f"/v1/projects/{world.project_b}/forms"),
        manager.get("/v1/audits"),
        central.api(world.app_user).get(f"/v1/projects/{world.project_a}/forms"),
    ]
    assert [a.status_code for a in attempts] == [403] * 5
    with central.session() as session:
        rows = session.execute(
            text(
                "SELECT actor_type, actor_id, subject, project_id FROM audit_log "
                "WHERE action = 'auth.denied' ORDER BY id DESC LIMIT 5"
            )
        ).all()
    assert [tuple(r) for r in rows][::-1] == [
        ("user", world.manager_id, "user.manage", None),
        ("user", world.manager_id, "membership.manage", world.project_b),
        ("user", world.manager_id, "form.read", world.project_b),
        ("user", world.manager_id, "audit.read", None),
        ("app-user", world.app_user_id, "form.read", world.project_a),
    ]
    with central.session() as session:
        assert (
            session.execute(text("SELECT count(*) FROM users WHERE role = 'admin'")).scalar() == 1
        )
