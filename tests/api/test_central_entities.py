"""Entity lists over the REST API: lists, properties, entities with versions, OData rows."""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import defusedxml.ElementTree
import pytest
from sqlalchemy import select

from api import entities as entities_api
from collector.db import transaction
from collector.models import AuditEntry, User
from tests.collector.rawdb import raw_database_bytes
from tests.support.central import Api, Central
from tests.support.xlsform import HH_REGISTRATION, HH_VISIT

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
    forced = api.patch(
        f"{url}?force=True", json={"data": {"height": "5"}}, headers={"User-Agent": "Other/2"}
    )
    assert forced.get_json()["currentVersion"]["data"] == {"height": "5"}
    # The current version says who made it, with what, on which version: not the creator's.
    assert forced.get_json()["currentVersion"]["userAgent"] == "Other/2"
    assert forced.get_json()["currentVersion"]["baseVersion"] == 2
    assert api.get(url).get_json()["currentVersion"]["userAgent"] == "Other/2"
    assert forced.get_json()["currentVersion"]["label"] == "A2"
    unknown = api.patch(f"{url}?force=true", json={"data": {"colour": "red"}})
    assert unknown.status_code == 400
    assert unknown.get_json()["code"] == 400.28
    assert len(api.get(f"{base}/trees/entities").get_json()) == 2
    history = api.get(f"{url}/versions")
    assert history.status_code == 200, history.get_json()
    versions = history.get_json()
    assert [(v["version"], v["baseVersion"], v["current"]) for v in versions] == [
        (1, None, False),
        (2, 1, False),
        (3, 2, True),
    ]
    assert [(v["label"], v["data"]) for v in versions] == [
        (LABEL, {"height": "1"}),
        ("A2", {"height": "3"}),
        ("A2", {"height": "5"}),
    ]
    assert {v["creatorId"] for v in versions} == {entity["creatorId"]}
    assert [v["userAgent"] for v in versions] == ["pyodk v1.3.0", "pyodk v1.3.0", "Other/2"]
    listed = {e["uuid"]: e for e in api.get(f"{base}/trees/entities").get_json()}
    assert listed[UUID]["currentVersion"]["userAgent"] == "Other/2"
    assert all(v["source"] == {"submission": None} for v in versions)
    # Refused updates (stale, unbased, unknown property) left no version behind.
    assert api.get(f"{base}/trees/entities/{uuid.uuid4()}/versions").status_code == 404
    assert api.delete(url).get_json() == {"success": True}
    assert api.get(f"{url}/versions").status_code == 404
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
    assert full[0]["height"] == "C"  # newest first, as Central
    assert full[0]["__system"]["version"] == 1
    unsupported = api.get(f"{base}/trees.svc/Entities?%24filter=label+eq+%27A%27")
    assert unsupported.status_code == 501


SVC = "trees.svc/Entities"


def _seed(api: Api, base: str, labels: tuple[str, ...] = ("A", "B", "C")) -> dict[str, str]:
    """Create entities one by one (oldest first); return their uuids by label."""
    made = {}
    for label in labels:
        answer = api.post(f"{base}/trees/entities", json={"label": label, "data": {"height": "1"}})
        assert answer.status_code == 200, answer.get_json()
        made[label] = answer.get_json()["uuid"]
    return made


def _follow(api: Api, link: str) -> dict[str, Any]:
    parts = urlsplit(link)
    answer = api.get(f"{parts.path}?{parts.query}")
    assert answer.status_code == 200, answer.get_json()
    doc: dict[str, Any] = answer.get_json()
    return doc


def _labels(api: Api, base: str, query: str) -> list[str]:
    answer = api.get(f"{base}/{SVC}?{query}")
    assert answer.status_code == 200, answer.get_json()
    return [r["label"] for r in answer.get_json()["value"]]


def test_entity_feed_pages_with_a_skiptoken(trees: tuple[Api, str]) -> None:
    api, base = trees
    made = _seed(api, base)
    first = api.get(f"{base}/{SVC}?%24top=1&%24count=True").get_json()
    assert first["@odata.count"] == 3
    assert [r["label"] for r in first["value"]] == ["C"]
    link = first["@odata.nextLink"]
    query = parse_qs(urlsplit(link).query)
    assert query["$top"] == ["1"]
    assert query["$count"] == ["True"]
    assert query["$skiptoken"][0].startswith("01")
    assert urlsplit(link).path == f"{base}/{SVC}"
    # The token is a cursor, not an offset: deleting the page's entity does not shift the next.
    assert api.delete(f"{base}/trees/entities/{made['C']}").status_code == 200
    second = _follow(api, link)
    assert [r["label"] for r in second["value"]] == ["B"]
    assert second["@odata.count"] == 2
    third = _follow(api, second["@odata.nextLink"])
    assert [r["label"] for r in third["value"]] == ["A"]
    assert "@odata.nextLink" not in third
    # $skip still works, and links on with a token; a last full page has no link.
    skipped = api.get(f"{base}/{SVC}?%24skip=1&%24top=1").get_json()
    assert [r["label"] for r in skipped["value"]] == ["A"]
    assert "@odata.nextLink" not in skipped
    assert "@odata.nextLink" not in api.get(f"{base}/{SVC}?%24top=2").get_json()
    assert "@odata.nextLink" not in api.get(f"{base}/{SVC}").get_json()
    bad = api.get(f"{base}/{SVC}?%24skiptoken=nonsense")
    assert bad.status_code == 400
    assert bad.get_json()["code"] == 400.35


def test_entity_feed_filters_and_orders_on_system_fields(
    central: Central, trees: tuple[Api, str]
) -> None:
    api, base = trees
    made = _seed(api, base)
    creator = api.get(f"{base}/{SVC}").get_json()["value"][0]["__system"]["creatorId"]
    patched = api.patch(f"{base}/trees/entities/{made['A']}?force=true", json={"label": "A2"})
    assert patched.status_code == 200
    assert api.delete(f"{base}/trees/entities/{made['B']}").status_code == 200
    assert _labels(api, base, f"%24filter=__system/creatorId+eq+{creator}") == ["C", "A2"]
    assert _labels(api, base, "%24filter=__system/creatorId+eq+999999") == []
    assert _labels(api, base, f"%24filter=__id+eq+%27{made['C']}%27") == ["C"]
    assert _labels(api, base, f"%24filter=__id+ne+%27{made['C']}%27") == ["A2"]
    assert _labels(api, base, "%24filter=__system/createdAt+gt+2020-01-01") == ["C", "A2"]
    assert _labels(api, base, "%24filter=__system/createdAt+lt+2020-01-01") == []
    assert _labels(api, base, "%24filter=__system/createdAt+le+now()") == ["C", "A2"]
    assert _labels(api, base, "%24filter=__system/updatedAt+ne+null") == ["A2"]
    assert _labels(api, base, "%24filter=__system/updatedAt+eq+null") == ["C"]
    both = "__system/updatedAt+ge+2020-01-01T00:00:00Z+and+__system/conflict+eq+null"
    assert _labels(api, base, f"%24filter={both}") == ["A2"]
    either = f"__system/updatedAt+ne+null+or+__id+eq+%27{made['C']}%27"
    assert _labels(api, base, f"%24filter={either}") == ["C", "A2"]
    assert _labels(api, base, "%24filter=year(__system/createdAt)+ge+2020") == ["C", "A2"]
    assert _labels(api, base, "%24filter=not+(__system/updatedAt+eq+null)") == ["A2"]
    # Deleted entities appear only when the filter asks about deletedAt, as in Central.
    assert _labels(api, base, "%24filter=__system/deletedAt+ne+null") == ["B"]
    deleted = api.get(f"{base}/{SVC}?%24filter=__system/deletedAt+ne+null").get_json()
    assert deleted["value"][0]["__system"]["deletedAt"].endswith("Z")
    counted = api.get(f"{base}/{SVC}?%24filter=__system/updatedAt+eq+null&%24count=true")
    assert counted.get_json()["@odata.count"] == 1
    # Ordering: oldest first, by update (nulls last when descending), with paging by $skip.
    assert _labels(api, base, "%24orderby=__system/createdAt+asc") == ["A2", "C"]
    assert _labels(api, base, "%24orderby=__system/updatedAt+desc") == ["A2", "C"]
    assert _labels(api, base, "%24orderby=__system/updatedAt") == ["C", "A2"]
    assert _labels(api, base, "%24orderby=__id,__system/createdAt+DESC") == sorted(
        ["C", "A2"], key=lambda label: made[label[0]]
    )
    page = api.get(f"{base}/{SVC}?%24orderby=__system/createdAt&%24top=1").get_json()
    assert [r["label"] for r in page["value"]] == ["A2"]
    assert parse_qs(urlsplit(page["@odata.nextLink"]).query)["$skip"] == ["1"]
    assert [r["label"] for r in _follow(api, page["@odata.nextLink"])["value"]] == ["C"]
    # Not on properties (Central neither); unparseable filters are 400.
    for query in ("%24filter=label+eq+%27A%27", "%24orderby=label", "%24orderby=__id+up"):
        answer = api.get(f"{base}/{SVC}?{query}")
        assert answer.status_code == 501, query
        assert answer.get_json()["code"] == 501.5
    assert api.get(f"{base}/{SVC}?%24filter=__id+eq").get_json()["code"] == 400.18
    assert api.get(f"{base}/{SVC}?%24search=x").status_code == 501


def test_entity_feed_select_nests_system_fields(trees: tuple[Api, str]) -> None:
    api, base = trees
    _seed(api, base, ("A",))
    [row] = api.get(f"{base}/{SVC}?%24select=__id,__system/createdAt").get_json()["value"]
    assert set(row) == {"__id", "__system"}
    assert set(row["__system"]) == {"createdAt"}
    assert row["__system"]["createdAt"].endswith("Z")
    [row] = api.get(f"{base}/{SVC}?%24select=height,__system").get_json()["value"]
    assert row["height"] == "1"
    assert set(row) == {"height", "__system"}
    assert len(row["__system"]) == 8
    [row] = api.get(f"{base}/{SVC}?%24select=*").get_json()["value"]
    assert {"__id", "label", "__system", "height"} == set(row)
    for bogus in ("bogus", "__id,__system/bogus"):
        answer = api.get(f"{base}/{SVC}?%24select={bogus}")
        assert answer.status_code == 400, bogus
        assert answer.get_json()["code"] == 400.23


def test_entity_feed_rows_are_shaped_as_centrals(central: Central, trees: tuple[Api, str]) -> None:
    api, base = trees
    with transaction(central.instance.sessions) as session:
        admin = session.query(User).filter_by(email="admin@example.org").one()
        admin.display_name = "Field lead"
    assert api.post(f"{base}/trees/properties", json={"name": "notes"}).status_code == 200
    made = api.post(f"{base}/trees/entities", json={"label": "A", "data": {"height": "2"}})
    assert made.status_code == 200
    [row] = api.get(f"{base}/{SVC}").get_json()["value"]
    assert row["notes"] == ""  # no value is '' (pyodk's merge compares strings)
    assert row["height"] == "2"
    assert set(row["__system"]) == {
        "createdAt",
        "creatorId",
        "creatorName",
        "updates",
        "updatedAt",
        "deletedAt",
        "version",
        "conflict",
    }
    system = row["__system"]
    assert system["creatorName"] == "Field lead"
    assert system["creatorId"] == str(made.get_json()["creatorId"])
    assert system["deletedAt"] is None
    assert (system["updates"], system["version"], system["conflict"]) == (0, 1, None)


EDMX = "{http://docs.oasis-open.org/odata/ns/edmx}"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


def test_entity_list_service_document_and_metadata(trees: tuple[Api, str]) -> None:
    api, base = trees
    assert api.post(f"{base}/trees/properties", json={"name": "notes"}).status_code == 200
    service = api.get(f"{base}/trees.svc")
    assert service.status_code == 200
    assert service.headers["OData-Version"] == "4.0"
    doc = service.get_json()
    assert doc["@odata.context"] == f"http://localhost{base}/trees.svc/$metadata"
    assert doc["value"] == [{"name": "Entities", "kind": "EntitySet", "url": "Entities"}]
    assert api.get(f"{base}/trees.svc/").get_json() == doc
    # The dataset itself is still its JSON, beside its service.
    assert api.get(f"{base}/trees").get_json()["name"] == "trees"

    answer = api.get(f"{base}/trees.svc/$metadata")
    assert answer.status_code == 200
    assert answer.mimetype == "application/xml"
    root = defusedxml.ElementTree.fromstring(answer.data)
    assert root.tag == f"{EDMX}Edmx"
    assert root.get("Version") == "4.0"
    schemas = {s.get("Namespace"): s for s in root.iter(f"{EDM}Schema")}
    assert set(schemas) == {"org.opendatakit.entity", "org.opendatakit.user.trees"}
    system = schemas["org.opendatakit.entity"].find(f"{EDM}ComplexType[@Name='metadata']")
    assert system is not None
    # What the feed's rows carry under __system, with the types the rows have.
    assert api.post(f"{base}/trees/entities", json={"label": "A", "data": {}}).status_code == 200
    sample = api.get(f"{base}/{SVC}").get_json()["value"][0]
    declared = {p.get("Name"): p.get("Type") for p in system}
    assert set(declared) == set(sample["__system"])
    assert declared["version"] == "Edm.Int64"
    assert declared["createdAt"] == "Edm.DateTimeOffset"
    own = schemas["org.opendatakit.user.trees"]
    entity = own.find(f"{EDM}EntityType[@Name='Entities']")
    assert entity is not None
    assert entity.find(f"{EDM}Key/{EDM}PropertyRef").get("Name") == "__id"  # type: ignore[union-attr]
    properties = {p.get("Name"): p.get("Type") for p in entity.iter(f"{EDM}Property")}
    assert list(properties) == ["__id", "__system", "label", "height", "notes"]
    assert set(properties) == set(sample)
    assert properties["__system"] == "org.opendatakit.entity.metadata"
    assert {properties[k] for k in ("__id", "label", "height", "notes")} == {"Edm.String"}
    container = own.find(f"{EDM}EntityContainer")
    assert container is not None
    assert container.get("Name") == "trees"
    entity_set = container.find(f"{EDM}EntitySet[@Name='Entities']")
    assert entity_set is not None
    assert entity_set.get("EntityType") == "org.opendatakit.user.trees.Entities"
    # $filter and $orderby take system fields only: the annotations list the others.
    excluded = [
        [p.text for p in record.iter(f"{EDM}PropertyPath")]
        for record in entity_set.iter(f"{EDM}Record")
    ]
    assert ["label", "height", "notes"] in excluded
    for missing in ("nothing.svc", "nothing.svc/$metadata"):
        assert api.get(f"{base}/{missing}").status_code == 404


def test_entity_list_metadata_names_are_odata_identifiers(central: Central) -> None:
    project = central.project("Names")
    _id, token = central.user("names@example.org", "admin")
    api = central.api(token)
    base = f"/v1/projects/{project}/datasets"
    assert api.post(base, json={"name": "tree-list.v2"}).status_code == 200
    root = defusedxml.ElementTree.fromstring(api.get(f"{base}/tree-list.v2.svc/$metadata").data)
    namespaces = {s.get("Namespace") for s in root.iter(f"{EDM}Schema")}
    assert "org.opendatakit.user.tree_list_v2" in namespaces
    [container] = root.iter(f"{EDM}EntityContainer")
    assert container.get("Name") == "tree_list_v2"


def _csv(api: Api, base: str, query: str = "") -> list[dict[str, str]]:
    answer = api.get(f"{base}/trees/entities.csv{query}")
    assert answer.status_code == 200, answer.get_data()
    assert answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="trees.csv"'
    return list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))


def test_entities_csv_is_centrals_layout_newest_first_and_audited(
    central: Central, trees: tuple[Api, str]
) -> None:
    api, base = trees
    with transaction(central.instance.sessions) as session:
        admin = session.query(User).filter_by(email="admin@example.org").one()
        admin.display_name = "Field lead"
        admin_id = admin.id
    awkward = 'Yılmaz, "Ali"\nand family'
    made = _seed(api, base, ("A", "B", "C"))
    assert (
        api.patch(
            f"{base}/trees/entities/{made['B']}?force=true",
            json={"label": awkward, "data": {"height": "2,5"}},
        ).status_code
        == 200
    )
    assert api.delete(f"{base}/trees/entities/{made['A']}").status_code == 200
    before = central.audit_actions()
    answer = api.get(f"{base}/trees/entities.csv")
    header = answer.get_data(as_text=True).splitlines()[0]
    assert header == (
        "__id,label,height,__createdAt,__creatorId,__creatorName,__updates,__updatedAt,__version"
    )
    rows = _csv(api, base)
    assert [r["__id"] for r in rows] == [made["C"], made["B"]]  # newest first, deleted left out
    c, b = rows
    assert b["label"] == awkward
    assert b["height"] == "2,5"
    assert (b["__updates"], b["__version"]) == ("1", "2")
    assert b["__updatedAt"].endswith("Z")
    assert c["__updatedAt"] == ""
    assert c["__createdAt"].endswith("Z")
    assert (c["__creatorId"], c["__creatorName"]) == (str(admin_id), "Field lead")
    assert central.audit_actions()[len(before) :] == ["entity.export", "entity.export"]
    # The feed's filter, including Central's rule that deleted entities need deletedAt named.
    assert [r["__id"] for r in _csv(api, base, "?%24filter=__system/updatedAt+ne+null")] == [
        made["B"]
    ]
    deleted = _csv(api, base, "?%24filter=__system/deletedAt+ne+null")
    assert [r["__id"] for r in deleted] == [made["A"]]
    # The audit says a download was filtered, not what the filter's free text said.
    with central.session() as session:
        details = session.scalars(
            select(AuditEntry.details).where(AuditEntry.action == "entity.export")
        ).all()
    assert [json.loads(d)["filtered"] for d in details] == [False, False, True, True]
    assert not any("__system" in d for d in details)


def test_entities_csv_refuses_what_it_cannot_do_before_auditing(
    central: Central, trees: tuple[Api, str]
) -> None:
    api, base = trees
    _seed(api, base, ("A",))
    before, counts = central.audit_actions(), central.counts()
    for query, status in (
        ("?%24filter=label+eq+%27A%27", 501),
        ("?%24filter=__id+eq", 400),
        ("?%24top=1", 501),
    ):
        answer = api.get(f"{base}/trees/entities.csv{query}")
        assert answer.status_code == status, query
        assert "code" in answer.get_json()
    assert central.audit_actions() == before
    assert central.counts() == counts
    assert api.get(f"{base}/nothing/entities.csv").status_code == 404


def test_entities_csv_reads_in_batches_without_losing_or_repeating(
    trees: tuple[Api, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, base = trees
    made = _seed(api, base, tuple("ABCDEFG"))
    monkeypatch.setattr(entities_api, "CSV_BATCH", 3)
    rows = _csv(api, base)
    assert [r["label"] for r in rows] == list("GFEDCBA")
    assert [r["__id"] for r in rows] == [made[label] for label in "GFEDCBA"]
    monkeypatch.setattr(entities_api, "CSV_BATCH", 7)  # a batch exactly full, then none
    assert [r["label"] for r in _csv(api, base)] == list("GFEDCBA")


def registration_xml(instance_id: str, entity_id: str, village: str) -> bytes:
    return (
        f'<data id="hh_reg" version="1"><full_name>Kıvılcım Işıkoğlu</full_name>'
        f"<village>{village}</village><dob>1988-02-01</dob><household>3</household>"
        f'<meta><entity dataset="households" create="1" id="{entity_id}">'
        f"<label>HH {village}</label></entity><instanceID>{instance_id}</instanceID></meta>"
        "</data>"
    ).encode()


def test_a_list_knows_its_forms_and_can_stop_requiring_approval(central: Central) -> None:
    project = central.project("Households")
    central.publish(project, HH_REGISTRATION)
    central.publish(project, HH_VISIT)
    _id, token = central.user("lead@example.org", "admin")
    api = central.api(token)
    url = f"/v1/projects/{project}/datasets/households"
    got = api.get(url).get_json()
    assert [f["xmlFormId"] for f in got["sourceForms"]] == ["hh_reg", "hh_visit"]
    assert [f["xmlFormId"] for f in got["linkedForms"]] == ["hh_visit"]
    assert {p["name"]: p["forms"] for p in got["properties"]} == {
        "village": ["hh_reg"],
        "born": ["hh_reg"],
        "hh_size": ["hh_reg", "hh_visit"],
        "status": ["hh_visit"],
    }

    patched = api.patch(url, json={"approvalRequired": True})
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["approvalRequired"] is True
    ids = {name: str(uuid.uuid4()) for name in ("approved", "rejected", "waiting")}
    forms = f"/v1/projects/{project}/forms/hh_reg/submissions"
    for name, entity_id in ids.items():
        body = registration_xml(f"uuid:{name}", entity_id, name.title())
        posted = api.post(forms, data=body, content_type="application/xml")
        assert posted.status_code == 200, posted.get_json()
    central.drain()
    assert api.get(f"{url}/entities").get_json() == []  # all wait for approval
    for name, state in (("approved", "approved"), ("rejected", "rejected")):
        reviewed = api.patch(f"{forms}/uuid%3A{name}", json={"reviewState": state})
        assert reviewed.status_code == 200, reviewed.get_json()
    listed = api.get(f"{url}/entities").get_json()
    assert [e["uuid"] for e in listed] == [ids["approved"]]

    converted = api.patch(f"{url}?convert=true", json={"approvalRequired": False})
    assert converted.get_json()["approvalRequired"] is False
    listed = api.get(f"{url}/entities").get_json()
    assert sorted(e["uuid"] for e in listed) == sorted([ids["approved"], ids["waiting"]])
    waiting = api.get(f"{url}/entities/{ids['waiting']}").get_json()["currentVersion"]
    assert waiting["label"] == "HH Waiting"
    assert waiting["data"] == {"village": "Waiting", "born": "1988", "hh_size": "3"}
    actions = central.audit_actions()
    assert actions.count("dataset.update") == 2
    assert "dataset.convert" in actions
    assert "entity.error" not in actions
    assert api.patch(url, json={"approvalRequired": "maybe"}).status_code == 400
    # Each submission's own history includes the entity it made.
    history = api.get(f"{forms}/uuid%3Aapproved/audits").get_json()
    assert [a["action"] for a in history] == [
        "entity.create",
        "submission.review",
        "submission.create",
    ]
    assert history[0]["details"]["submission"] == "uuid:approved"
    waited = api.get(f"{forms}/uuid%3Awaiting/audits").get_json()
    assert [a["action"] for a in waited] == ["entity.create", "submission.create"]
    assert api.get(f"{forms}/uuid%3Anothing/audits").status_code == 404


def test_a_bad_change_of_approval_is_refused_and_changes_nothing(
    central: Central, trees: tuple[Api, str]
) -> None:
    api, base = trees
    before = (central.counts(), central.audit_actions())
    for body in ({"approvalRequired": "maybe"}, {}, {"approvalRequired": None}, ["x"]):
        answer = api.patch(f"{base}/trees", json=body)
        assert answer.status_code == 400, body
        assert answer.get_json()["code"] // 1 == 400
    assert api.patch(f"{base}/nothing", json={"approvalRequired": True}).status_code == 404
    assert api.get(f"{base}/trees").get_json()["approvalRequired"] is False
    assert (central.counts(), central.audit_actions()) == before


def test_deleted_entities_are_listed_and_restored(central: Central, trees: tuple[Api, str]) -> None:
    api, base = trees
    made = _seed(api, base, ("A", "B", "C", "D"))
    url = f"{base}/trees/entities"
    changed = api.patch(f"{url}/{made['A']}?baseVersion=1", json={"data": {"height": "2"}})
    assert changed.status_code == 200
    assert api.delete(f"{url}/{made['A']}").status_code == 200
    # Deleted: gone from the list, the feed and a read; listed with ?deleted=true.
    assert sorted(e["uuid"] for e in api.get(url).get_json()) == sorted(made[k] for k in "BCD")
    assert api.get(f"{url}/{made['A']}").status_code == 404
    [gone] = api.get(f"{url}?deleted=true").get_json()
    assert gone["uuid"] == made["A"]
    assert gone["deletedAt"] is not None
    assert gone["currentVersion"]["version"] == 2
    # A live entity is not restored; an unknown one neither.
    assert api.post(f"{url}/{made['B']}/restore").status_code == 404
    assert api.post(f"{url}/{uuid.uuid4()}/restore").status_code == 404
    restored = api.post(f"{url}/{made['A']}/restore")
    assert restored.get_json() == {"success": True}
    back = api.get(f"{url}/{made['A']}").get_json()
    assert back["deletedAt"] is None
    assert back["currentVersion"]["version"] == 2  # as it was
    assert back["currentVersion"]["data"] == {"height": "2"}
    assert back["updatedAt"] > gone["updatedAt"]
    assert api.get(f"{url}?deleted=true").get_json() == []
    assert made["A"] in [r["__id"] for r in _follow(api, f"{base}/trees.svc/Entities")["value"]]

    # Bulk: only the live among the named are deleted, only the deleted are restored.
    ids = [made["A"], made["B"], str(uuid.uuid4())]
    deleted = api.post(f"{url}/bulk-delete", json={"ids": ids})
    assert deleted.get_json() == {"count": 2}
    assert api.post(f"{url}/bulk-delete", json={"ids": ids}).get_json() == {"count": 0}
    assert sorted(e["uuid"] for e in api.get(url).get_json()) == sorted([made["C"], made["D"]])
    both = [made["A"], made["B"], made["C"]]
    assert api.post(f"{url}/bulk-restore", json={"ids": both}).get_json() == {"count": 2}
    assert len(api.get(url).get_json()) == 4
    actions = central.audit_actions()
    assert actions.count("entity.delete") == 1
    assert actions.count("entity.restore") == 1
    assert actions.count("entity.bulk.delete") == 1
    assert actions.count("entity.bulk.restore") == 1


def test_bad_bulk_changes_change_nothing(central: Central, trees: tuple[Api, str]) -> None:
    api, base = trees
    made = _seed(api, base, ("A", "B"))
    url = f"{base}/trees/entities"
    before = (central.counts(), central.audit_actions(), api.get(url).get_json())
    for body in ({}, {"ids": "x"}, {"ids": [made["A"], "not-a-uuid"]}, {"ids": [1]}, ["x"]):
        refused = api.post(f"{url}/bulk-delete", json=body)
        assert refused.status_code == 400, body
    too_many = [str(uuid.uuid4()) for _ in range(entities_api.entities.BULK_LIMIT + 1)]
    assert api.post(f"{url}/bulk-restore", json={"ids": too_many}).status_code == 400
    assert api.post(f"{base}/nothing/entities/bulk-delete", json={"ids": []}).status_code == 404
    assert (central.counts(), central.audit_actions(), api.get(url).get_json()) == before
