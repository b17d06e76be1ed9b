"""Entity update conflicts, as Central has them: a submission based on an older version of its
entity still applies and flags the entity (soft, or hard when it sets something that changed
since its base); the history shows each version's conflict; a data manager resolves it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from collector.models import AuditEntry
from tests.support.central import Api, Central
from tests.support.xlsform import HH_REGISTRATION, HH_VISIT

VILLAGE = "Kızılcahamam"


class Households:
    """A project with the registration and visit forms, one registered household, and a lead
    who sends visits over the REST API."""

    def __init__(self, central: Central) -> None:
        self.central = central
        self.project = central.project("Households")
        central.publish(self.project, HH_REGISTRATION)
        central.publish(self.project, HH_VISIT)
        _id, token = central.user("lead@example.org", "admin")
        self.api: Api = central.api(token)
        self.list_url = f"/v1/projects/{self.project}/datasets/households"
        self.entity = str(uuid.uuid4())
        self.url = f"{self.list_url}/entities/{self.entity}"
        self._post(
            "hh_reg",
            f"<full_name>Kıvılcım Işıkoğlu</full_name><village>{VILLAGE}</village>"
            "<dob>1988-02-01</dob><household>3</household>",
            f'<entity dataset="households" create="1" id="{self.entity}">'
            f"<label>HH {VILLAGE}</label></entity>",
        )

    def _post(self, form: str, values: str, entity: str) -> str:
        instance_id = f"uuid:{uuid.uuid4()}"
        body = (
            f'<data id="{form}" version="1">{values}<meta>{entity}'
            f"<instanceID>{instance_id}</instanceID></meta></data>"
        ).encode()
        posted = self.api.post(
            f"/v1/projects/{self.project}/forms/{form}/submissions",
            data=body,
            content_type="application/xml",
        )
        assert posted.status_code == 200, posted.get_json()
        self.central.drain()
        return instance_id

    def visit(self, base: int, status: str, size: int) -> str:
        """A visit made on a tablet that had version ``base`` of the household."""
        return self._post(
            "hh_visit",
            f"<household_id>{self.entity}</household_id><status>{status}</status>"
            f"<household>{size}</household>",
            f'<entity dataset="households" id="{self.entity}" update="1" '
            f'baseVersion="{base}"><label></label></entity>',
        )

    def get(self) -> dict[str, Any]:
        got = self.api.get(self.url)
        assert got.status_code == 200, got.get_json()
        return dict(got.get_json())

    def versions(self, query: str = "") -> list[dict[str, Any]]:
        got = self.api.get(f"{self.url}/versions{query}")
        assert got.status_code == 200, got.get_json()
        return list(got.get_json())

    def feed(self, query: str) -> list[dict[str, Any]]:
        got = self.api.get(f"{self.list_url}.svc/Entities{query}")
        assert got.status_code == 200, got.get_json()
        return list(got.get_json()["value"])


@pytest.fixture
def households(central: Central) -> Households:
    return Households(central)


def _table(versions: list[dict[str, Any]], *keys: str) -> list[tuple[Any, ...]]:
    return [tuple(v[k] for k in ("version", *keys)) for v in versions]


def test_updates_from_older_versions_apply_and_flag_the_entity(households: Households) -> None:
    h = households
    first = h.visit(1, "moved", 5)
    assert h.get()["conflict"] is None
    # A second tablet, still on version 1, saw the same change: it applies, a soft conflict.
    h.visit(1, "moved", 5)
    got = h.get()
    assert got["conflict"] == "soft"
    assert got["currentVersion"]["version"] == 3
    assert got["currentVersion"]["baseVersion"] == 1
    assert got["currentVersion"]["conflictingProperties"] == []
    # A third, also on version 1, set both properties to something else: hard.
    third = h.visit(1, "returned", 6)
    got = h.get()
    assert got["conflict"] == "hard"
    assert sorted(got["currentVersion"]["conflictingProperties"]) == ["hh_size", "status"]
    # Its values win, over everything it did not set.
    assert got["currentVersion"]["data"] == {
        "village": VILLAGE,
        "born": "1988",
        "hh_size": "6",
        "status": "returned",
    }
    # An update on the current version applies without softening the conflict.
    h.visit(4, "settled", 6)
    assert h.get()["conflict"] == "hard"

    # The list counts it; the feed shows and filters on it.
    assert h.api.get(h.list_url).get_json()["conflicts"] == 1
    [row] = h.feed("")
    assert row["__system"]["conflict"] == "hard"
    assert [r["__id"] for r in h.feed("?$filter=__system/conflict eq 'hard'")] == [h.entity]
    assert h.feed("?$filter=__system/conflict eq null") == []
    assert [r["__id"] for r in h.feed("?$filter=__system/conflict ne null")] == [h.entity]

    history = h.versions()
    assert _table(history, "baseVersion", "conflict", "resolved", "lastGoodVersion") == [
        (1, None, None, False, False),
        (2, 1, None, False, True),  # the version before the first unresolved conflict
        (3, 1, "soft", False, False),
        (4, 1, "hard", False, False),
        (5, 4, None, False, False),
    ]
    # What each was given, and how that differed from its base and from the version before.
    assert history[2]["dataReceived"] == {"status": "moved", "hh_size": "5"}
    assert sorted(history[2]["baseDiff"]) == ["hh_size", "status"]
    assert history[2]["serverDiff"] == []
    assert sorted(history[3]["serverDiff"]) == ["hh_size", "status"]
    assert history[4]["serverDiff"] == ["status"]
    assert history[0]["dataReceived"]["label"] == f"HH {VILLAGE}"
    assert [v["source"]["submission"]["instanceId"] for v in history[1::2]] == [first, third]
    assert all(v["relevantToConflict"] for v in history)
    assert len(h.versions("?relevantToConflict=true")) == 5
    assert "entity.error" not in h.central.audit_actions()


def test_a_conflict_is_resolved_as_it_stands_or_with_a_correction(
    households: Households,
) -> None:
    h = households
    h.visit(1, "moved", 5)
    h.visit(1, "returned", 6)
    assert h.get()["conflict"] == "hard"
    # Resolving names the current version, like an update.
    stale = h.api.patch(f"{h.url}?resolve=true&baseVersion=2")
    assert (stale.status_code, stale.get_json()["code"]) == (409, 409.15)
    unbased = h.api.patch(f"{h.url}?resolve=true")
    assert unbased.get_json()["code"] == 409.15
    resolved = h.api.patch(f"{h.url}?resolve=true&baseVersion=3")
    assert resolved.status_code == 200, resolved.get_json()
    got = resolved.get_json()
    assert got["conflict"] is None
    assert got["currentVersion"]["version"] == 3  # resolving alone adds no version
    assert h.api.get(h.list_url).get_json()["conflicts"] == 0
    assert h.feed("?$filter=__system/conflict ne null") == []
    history = h.versions()
    assert _table(history, "conflict", "resolved", "lastGoodVersion", "relevantToConflict") == [
        (1, None, False, False, False),
        (2, None, False, False, False),
        (3, "hard", True, True, False),
    ]
    assert h.versions("?relevantToConflict=true") == []
    # Nothing left to resolve.
    again = h.api.patch(f"{h.url}?resolve=true&baseVersion=3")
    assert (again.status_code, again.get_json()["code"]) == (400, 400.32)

    # A new conflict, resolved with a correction: one more version, and no conflict.
    h.visit(2, "left", 2)
    assert h.get()["conflict"] == "hard"
    fixed = h.api.patch(
        f"{h.url}?resolve=true&baseVersion=4", json={"data": {"status": "returned"}}
    )
    assert fixed.status_code == 200, fixed.get_json()
    got = fixed.get_json()
    assert got["conflict"] is None
    assert got["currentVersion"]["version"] == 5
    assert got["currentVersion"]["data"]["status"] == "returned"
    assert _table(h.versions(), "conflict", "resolved")[3:] == [(4, "hard", True), (5, None, False)]
    with h.central.session() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "entity.update.resolve")
        ).all()
    assert [e.subject for e in entries] == [h.entity, h.entity]


def test_bad_resolutions_change_nothing(households: Households) -> None:
    h = households
    h.visit(1, "moved", 5)
    h.visit(1, "returned", 6)
    before = (h.get(), h.versions(), h.central.counts(), h.central.audit_actions())
    bad = (
        ({"data": {"nothing": "x"}}, 400.28),  # an unknown property
        ({"label": ""}, 400.8),
        ({"data": "not an object"}, 400.8),
    )
    for body, code in bad:
        refused = h.api.patch(f"{h.url}?resolve=true&baseVersion=3", json=body)
        assert (refused.status_code, refused.get_json()["code"]) == (400, code), body
    not_json = h.api.patch(
        f"{h.url}?resolve=true&baseVersion=3", data=b"{", content_type="application/json"
    )
    assert not_json.get_json()["code"] == 400.1
    missing = h.api.patch(f"{h.list_url}/entities/{uuid.uuid4()}?resolve=true&baseVersion=1")
    assert missing.status_code == 404
    assert (h.get(), h.versions(), h.central.counts(), h.central.audit_actions()) == before
    assert h.get()["conflict"] == "hard"


def test_a_base_version_the_entity_never_had_is_audited_and_changes_nothing(
    households: Households,
) -> None:
    h = households
    before = h.get()
    late = h.visit(7, "moved", 5)
    assert h.get() == before
    with h.central.session() as session:
        [problem] = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "entity.error")
        ).all()
    assert problem.subject == late
    assert '"code": 404.9' in problem.details
