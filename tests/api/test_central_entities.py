"""Entity lists over the REST API: lists, properties, entities with versions, OData rows."""

from __future__ import annotations

import pytest

from tests.collector.rawdb import raw_database_bytes
from tests.support.central import Api, Central

UUID = "4c447a03-3c64-45fa-81fa-f5a7a94f9a97"
LABEL = "Household of Kıvılcım Işıkoğlu"


@pytest.fixture
def trees(central: Central) -> tuple[Api, str]:
    project = central.project("Entities")
    _id, token = central.user("admin@example.org", "admin")
    api = central.api(token)
    base = f"/v1/projects/{project}/datasets"
    created = api.post(base, json={"name": "trees", "approvalRequired": False})
    assert created.status_code == 200, created.get_json()
    assert created.get_json()["properties"] == []
    assert api.post(f"{base}/trees/properties", json={"name": "height"}).status_code == 200
    return api, base


def test_lists_and_properties(trees: tuple[Api, str]) -> None:
    api, base = trees
    listed = api.get(base).get_json()
    assert [d["name"] for d in listed] == ["trees"]
    got = api.get(f"{base}/trees").get_json()
    [prop] = got["properties"]
    assert prop["name"] == "height"
    assert prop["forms"] == []
    assert prop["publishedAt"].endswith("Z")
    assert api.post(base, json={"name": "trees"}).get_json()["code"] == 409.3
    assert api.post(f"{base}/trees/properties", json={"name": "height"}).status_code == 409
    bad = api.post(f"{base}/trees/properties", json={"name": "__system"})
    assert bad.status_code == 400
    assert api.get(f"{base}/nothing").status_code == 404


def test_entities_have_versions_and_sealed_contents(
    central: Central, trees: tuple[Api, str], database_url: str
) -> None:
    api, base = trees
    one = api.post(
        f"{base}/trees/entities", json={"uuid": UUID, "label": LABEL, "data": {"height": "1"}}
    )
    assert one.status_code == 200, one.get_json()
    entity = one.get_json()
    assert entity["uuid"] == UUID
    assert entity["currentVersion"]["version"] == 1
    assert entity["currentVersion"]["label"] == LABEL
    assert entity["currentVersion"]["userAgent"] == "pyodk v1.3.0"
    many = api.post(
        f"{base}/trees/entities",
        json={"entities": [{"label": "B", "data": {"height": "2"}}], "source": {"name": "x"}},
    )
    assert many.get_json() == {"success": True}
    url = f"{base}/trees/entities/{UUID}"
    updated = api.patch(f"{url}?baseVersion=1", json={"label": "A2", "data": {"height": "3"}})
    assert updated.get_json()["currentVersion"]["version"] == 2
    stale = api.patch(f"{url}?baseVersion=1", json={"data": {"height": "4"}})
    assert stale.status_code == 409
    assert stale.get_json()["code"] == 409.15
    unbased = api.patch(url, json={"data": {"height": "4"}})
    assert unbased.status_code == 400
    forced = api.patch(f"{url}?force=True", json={"data": {"height": "5"}})
    assert forced.get_json()["currentVersion"]["data"] == {"height": "5"}
    assert forced.get_json()["currentVersion"]["label"] == "A2"
    unknown = api.patch(f"{url}?force=true", json={"data": {"colour": "red"}})
    assert unknown.status_code == 400
    assert unknown.get_json()["code"] == 400.28
    assert len(api.get(f"{base}/trees/entities").get_json()) == 2
    assert api.delete(url).get_json() == {"success": True}
    assert api.get(url).status_code == 404
    assert len(api.get(f"{base}/trees/entities").get_json()) == 1
    raw = raw_database_bytes(central.instance.engine, database_url)
    assert LABEL.encode() not in raw


def test_entities_as_odata(trees: tuple[Api, str]) -> None:
    api, base = trees
    for label in ("A", "B", "C"):
        api.post(f"{base}/trees/entities", json={"label": label, "data": {"height": label}})
    query = "%24top=2&%24count=True&%24filter=__system%2Fconflict+eq+null&%24select=__id%2Clabel"
    doc = api.get(f"{base}/trees.svc/Entities?{query}").get_json()
    assert doc["@odata.count"] == 3
    assert doc["@odata.context"].endswith("$metadata#Entities")
    assert [set(r) for r in doc["value"]] == [{"__id", "label"}] * 2
    full = api.get(f"{base}/trees.svc/Entities").get_json()["value"]
    assert full[2]["height"] == "C"
    assert full[0]["__system"]["version"] == 1
    unsupported = api.get(f"{base}/trees.svc/Entities?%24filter=label+eq+%27A%27")
    assert unsupported.status_code == 501
