"""The OpenAPI document: valid, complete, and true to what the server answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from api import central as central_api
from api.openapi import operations, path_template
from tests.support.central import World, build_world, make_central

MINE = {bp.name for bp in central_api.BLUEPRINTS}


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    central = make_central(tmp_path, database_url)
    yield build_world(central)
    central.close()


@pytest.fixture
def document(world: World) -> dict[str, Any]:
    response = world.central.api().get("/v1/openapi.json")
    assert response.status_code == 200
    found: dict[str, Any] = response.get_json()
    return found


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_every_route_is_in_the_document_and_every_rest_view_is_described(
    world: World, document: dict[str, Any]
) -> None:
    app = world.central.app
    described = {(m, path) for path, item in document["paths"].items() for m in item}
    for method, rule, endpoint, op in operations(app):
        path, _params = path_template(rule)
        assert (method.lower(), path) in described, (method, rule)
        if endpoint.split(".")[0] in MINE:
            view = app.view_functions[endpoint]
            assert getattr(view, "openapi", None) is op, f"{endpoint} is not documented"
    assert ("post", "/v1/sessions") in described
    assert ("get", "/v1/key/{token}/projects/{project_id}/formList") in described


def test_passwords_are_never_part_of_an_answer(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert "password" in schemas["Login"]["properties"]
    for name, schema in schemas.items():
        if name not in {"Login", "UserCreate"}:
            assert "password" not in schema.get("properties", {}), name


def validator(document: dict[str, Any], name: str, many: bool) -> Draft202012Validator:
    ref = {"$ref": f"#/components/schemas/{name}"}
    schema = {
        **({"type": "array", "items": ref} if many else ref),
        "components": document["components"],
    }
    return Draft202012Validator(schema)


@pytest.mark.parametrize(
    ("path", "name", "many"),
    [
        ("/v1/users/current", "User", False),
        ("/v1/users", "User", True),
        ("/v1/projects", "Project", True),
        ("/v1/projects/{a}", "Project", False),
        ("/v1/projects/{a}/app-users", "AppUser", True),
        ("/v1/projects/{a}/forms", "Form", True),
        ("/v1/projects/{a}/forms/{form}", "Form", False),
        ("/v1/projects/{a}/forms/{form}/versions", "Form", True),
        ("/v1/projects/{a}/forms/{form}/attachments", "FormAttachment", True),
        ("/v1/projects/{a}/forms/{form}/submissions", "Submission", True),
        ("/v1/projects/{a}/forms/{form}/submissions/{iid}", "Submission", False),
        (
            "/v1/projects/{a}/forms/{form}/submissions/{iid}/attachments",
            "SubmissionAttachment",
            True,
        ),
        ("/v1/projects/{a}/forms/{form}/assignments", "Assignment", True),
        ("/v1/projects/{a}/assignments", "Membership", True),
        ("/v1/projects/{a}/datasets", "Dataset", True),
        ("/v1/audits", "Audit", True),
    ],
)
def test_answers_match_their_schemas(
    world: World, document: dict[str, Any], path: str, name: str, many: bool
) -> None:
    url = path.format(a=world.project_a, form=world.form, iid=world.instance_id)
    response = world.central.api(world.admin).get(url)
    assert response.status_code == 200, response.get_json()
    errors = list(validator(document, name, many).iter_errors(response.get_json()))
    assert not errors, [e.message for e in errors]


def test_problems_match_their_schema(world: World, document: dict[str, Any]) -> None:
    for response in (
        world.central.api().get("/v1/projects"),
        world.central.api(world.admin).get("/v1/projects/999"),
        world.central.api(world.admin).post("/v1/projects", json={}),
    ):
        errors = list(validator(document, "Problem", False).iter_errors(response.get_json()))
        assert not errors
        assert response.status_code == int(response.get_json()["code"])
