"""Bad bodies are 400 with marshmallow messages as details; unknown ids are 404; neither stores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.central import World, build_world, make_central
from tests.support.databases import fresh_database


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("validation")
    with fresh_database(base) as url:
        central = make_central(base, url)
        found = build_world(central)
        api = central.api(found.admin)
        api.post(f"/v1/projects/{found.project_a}/datasets", json={"name": "trees"})
        yield found
        central.close()


P = "/v1/projects/{a}"
F = P + "/forms/{form}"
S = F + "/submissions/{iid}"
D = P + "/datasets/trees"


@pytest.mark.parametrize(
    ("method", "path", "body", "code", "field"),
    [
        ("POST", "/v1/projects", {}, 400.2, "name"),
        ("POST", "/v1/projects", {"name": ""}, 400.8, "name"),
        ("POST", "/v1/projects", {"name": "x", "colour": "red"}, 400.8, "colour"),
        ("POST", "/v1/users", {"email": "a@b.org"}, 400.2, "role"),
        ("POST", "/v1/users", {"email": "a@b.org", "role": "god"}, 400.8, "role"),
        (
            "POST",
            "/v1/users",
            {"email": "a@b.org", "role": "admin", "password": "short"},
            400.8,
            "password",
        ),
        ("POST", P + "/app-users", {}, 400.2, "displayName"),
        ("POST", P + "/app-users", {"displayName": 7}, 400.8, "displayName"),
        ("POST", P + "/app-users", {"displayName": "x", "expiresAt": "soon"}, 400.8, "expiresAt"),
        ("PATCH", F, {"state": "archived"}, 400.8, "state"),
        ("PATCH", S, {}, 400.2, "reviewState"),
        ("PATCH", S, {"reviewState": "done"}, 400.8, "reviewState"),
        ("POST", S + "/comments", {}, 400.2, "body"),
        ("POST", S + "/comments", {"body": ""}, 400.8, "body"),
        ("POST", P + "/datasets", {"approvalRequired": True}, 400.2, "name"),
        (
            "POST",
            P + "/datasets",
            {"name": "x", "approvalRequired": "perhaps"},
            400.8,
            "approvalRequired",
        ),
        ("POST", D + "/properties", {"name": 5}, 400.8, "name"),
        ("POST", D + "/entities", {"data": {}}, 400.2, "label"),
        ("POST", D + "/entities", {"entities": "many"}, 400.8, "entities"),
        ("POST", D + "/entities", {"label": "x", "data": []}, 400.8, "data"),
        ("GET", "/v1/audits?limit=0", None, 400.8, "limit"),
        ("GET", "/v1/audits?start=yesterday", None, 400.8, "start"),
    ],
)
def test_schema_errors_are_400_with_details(
    world: World, method: str, path: str, body: object, code: float, field: str
) -> None:
    central = world.central
    url = path.format(a=world.project_a, form=world.form, iid=world.instance_id)
    before = central.counts()
    response = central.api(world.admin).request(method, url, json=body)
    assert response.status_code == 400, response.get_json()
    problem = response.get_json()
    assert problem["code"] == code
    assert field in problem["details"]
    assert isinstance(problem["details"][field], list)
    assert central.counts() == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/projects/999"),
        ("GET", "/v1/users/999"),
        ("GET", "/v1/projects/999/forms"),
        ("GET", P + "/forms/nothing"),
        ("GET", P + "/forms/nothing.xml"),
        ("POST", P + "/forms/nothing/draft/publish"),
        ("GET", F + "/submissions/uuid%3Anothing"),
        ("PATCH", F + "/submissions/uuid%3Anothing"),
        ("GET", F + "/submissions/uuid%3Anothing/comments"),
        ("DELETE", P + "/app-users/999"),
        ("POST", F + "/assignments/app-user/999"),
        ("POST", P + "/assignments/data-manager/999"),
        ("GET", P + "/datasets/nothing"),
        ("GET", D + "/entities/0d5e6c2a-0000-4000-8000-000000000000"),
        ("DELETE", "/v1/sessions/" + "A" * 64),
    ],
)
def test_unknown_ids_are_404(world: World, method: str, path: str) -> None:
    central = world.central
    url = path.format(a=world.project_a, form=world.form, iid=world.instance_id)
    before = central.counts()
    body = {"reviewState": "approved"} if method == "PATCH" else None
    response = central.api(world.admin).request(method, url, json=body)
    assert response.status_code == 404, response.get_json()
    assert response.get_json()["code"] == 404.1
    assert central.counts() == before
