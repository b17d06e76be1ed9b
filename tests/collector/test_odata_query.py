"""OData query options on pseudonymised records: $filter, paging, $count, $skiptoken, $orderby,
501s."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from collector import dataset
from collector.db import session_factory
from collector.errors import CollectorError
from collector.models import Submission
from collector.odata import filter as odata_filter
from collector.odata import query, service
from collector.odata.edm import schema_for
from forms.build import build_xform
from tests.collector.odata_support import (
    PEOPLE,
    Person,
    admin,
    load,
    profile_xml,
    read,
    read_all,
)
from tests.support.xlsform import PROFILE, md_to_xlsx


@pytest.fixture
def sessions(db_engine: Engine) -> sessionmaker[Session]:
    return session_factory(db_engine)


@pytest.fixture
def profiles(sessions: sessionmaker[Session], kek: bytes) -> list[str]:
    return load(sessions, kek, PROFILE, [profile_xml(p) for p in PEOPLE])[1]


MANY_SIZES = (0, 1, 2, 0, 3, 1, 0)


@pytest.fixture
def many(sessions: sessionmaker[Session], kek: bytes) -> list[str]:
    """Seven submissions with 0, 1, 2, 0, 3, 1, 0 household members."""
    sizes = MANY_SIZES
    people = [
        Person(f"Person {i}", f"+90 555 000 00 {i:02d}", f"U{i:07d}",
               tuple(f"Member {i}.{j}" for j in range(n)), i, "1990-01-01", f"story {i}")
        for i, n in enumerate(sizes)
    ]  # fmt: skip
    return load(sessions, kek, PROFILE, [profile_xml(p) for p in people])[1]


def ids(page: dict[str, Any]) -> list[str]:
    return [row["__id"] for row in page["value"]]


def token_of(sessions: sessionmaker[Session], row: int = 0) -> str:
    return str(read(sessions, "profile")["value"][row]["full_name"])


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("__system/submissionDate gt 2000-01-01", [0, 1, 2]),
        ("__system/submissionDate lt 2000-01-01T00:00:00.000Z", []),
        ("__system/submissionDate le now()", [0, 1, 2]),
        (
            "year(__system/submissionDate) ge 2020 and month(__system/submissionDate) ge 1",
            [0, 1, 2],
        ),
        ("__system/submitterId eq 5", []),
        ("__system/submitterId eq null", [0, 1, 2]),
        ("__system/reviewState eq null", [0, 1, 2]),
        ("__system/reviewState eq 'approved'", []),
        ("not (__system/reviewState eq 'approved')", [0, 1, 2]),
        ("group_size eq 3", [0]),
        ("group_size ge 2", [0, 2]),
        ("2 lt group_size", [0]),
        ("group_size eq 3 or group_size eq 1", [0, 1]),
        ("not group_size eq 3", [1, 2]),
        ("(group_size eq 3 or group_size eq 1) and __system/submissionDate gt 2020-01-01", [0, 1]),
        ("group_size eq 'three'", []),
        ("group_size ne 'three'", [0, 1, 2]),
        ("dob eq '1990'", [0]),
        ("dob eq 1984", [1]),
        ("dob gt '1985'", [0, 2]),
        ("full_name eq 'Ayşe Yılmaz'", []),
        ("narrative eq 'Planted narrative one'", []),
        ("narrative eq null", [0, 1, 2]),
        ("location ne null", [0, 1, 2]),
        ("meta/instanceID ne null", [0, 1, 2]),
    ],
)
def test_filters_see_only_what_the_reader_sees(
    sessions: sessionmaker[Session], profiles: list[str], expression: str, expected: list[int]
) -> None:
    page = read(sessions, "profile", args={"$filter": expression, "$count": "true"})
    assert ids(page) == [profiles[i] for i in reversed(expected)]
    assert page["@odata.count"] == len(expected)


def test_filters_match_pseudonyms_and_opened_values(
    sessions: sessionmaker[Session], kek: bytes, profiles: list[str]
) -> None:
    token = token_of(sessions, 0)  # The newest row: the third person.
    assert ids(read(sessions, "profile", args={"$filter": f"full_name eq '{token}'"})) == [
        profiles[2]
    ]
    opened = read(
        sessions, "profile", args={"$filter": "narrative eq 'Planted narrative one'"},
        viewer=admin(kek),
    )  # fmt: skip
    assert ids(opened) == [profiles[0]]
    by_id = read(sessions, "profile", args={"$filter": f"__id eq '{profiles[1]}'"})
    assert ids(by_id) == [profiles[1]]


def test_filters_on_repeat_tables(sessions: sessionmaker[Session], profiles: list[str]) -> None:
    bands = read(sessions, "profile", "Submissions.household", {"$filter": "member_age eq '5-9'"})
    assert [r["__Submissions-id"] for r in bands["value"]] == [profiles[2], profiles[0]]
    parent = f"__Submissions-id eq '{profiles[2]}'"
    of_one = read(sessions, "profile", "Submissions.household", {"$filter": parent})
    assert [r["__Submissions-id"] for r in of_one["value"]] == [profiles[2]]
    dated = read(
        sessions, "profile", "Submissions.household",
        {"$filter": "__system/submissionDate gt 2020-01-01", "$count": "true"},
    )  # fmt: skip
    assert dated["@odata.count"] == 3


def test_repeat_tables_filter_on_their_submission_through_root(
    sessions: sessionmaker[Session], profiles: list[str]
) -> None:
    """``$root/Submissions/__id`` and ``…/__system/…`` name the submission a row belongs to."""

    def parents(table: str, expression: str) -> list[str]:
        page = read(sessions, "profile", table, {"$filter": expression})
        return [r.get("__Submissions-id", r["__id"]) for r in page["value"]]

    household = "Submissions.household"
    assert parents(household, f"$root/Submissions/__id eq '{profiles[0]}'") == [profiles[0]] * 2
    assert parents(household, f"$root/Submissions/__id ne '{profiles[0]}'") == [profiles[2]]
    dated = "$root/Submissions/__system/submissionDate gt 2020-01-01"
    assert parents(household, dated) == [profiles[2], profiles[0], profiles[0]]
    assert parents(household, dated.replace("gt", "lt")) == []
    # Beside a comparison on the row's own answers, so it is evaluated on rows, not in SQL.
    either = f"$root/Submissions/__id eq '{profiles[2]}' or member_age eq '35-39'"
    assert parents(household, either) == [profiles[2], profiles[0]]
    assert parents("Submissions", f"$root/Submissions/__id eq '{profiles[1]}'") == [profiles[1]]
    assert parents("Submissions", "$root/Submissions/group_size eq 3") == [profiles[0]]
    with pytest.raises(CollectorError) as raised:
        parents(household, "$root/Submissions/group_size eq 3")
    assert raised.value.code == 501.5


def test_metadata_filters_run_in_sql_and_the_rest_on_rows() -> None:
    model = build_xform(md_to_xlsx(PROFILE)).model
    assert model is not None
    table = schema_for(model).root
    resolve = query.resolver(table)
    expr = odata_filter.parse(
        "__system/submissionDate gt 2020-01-01 and group_size eq 3 and "
        "(__system/submitterId eq 1 or __system/deviceId eq null)",
        resolve,
    )
    sql, rest = odata_filter.split(expr)
    assert len(sql) == 2
    assert rest is not None
    assert odata_filter.matches(rest, {"/data/group_size": "3"}.__getitem__)
    only_rows = odata_filter.parse("year(__system/submissionDate) eq 2026", resolve)
    assert odata_filter.split(only_rows)[0] == []
    moment = datetime(2026, 3, 1, tzinfo=UTC)
    assert odata_filter.matches(only_rows, {"__system/submissionDate": moment}.__getitem__)


@pytest.mark.parametrize(
    ("case", "expression", "code"),
    [
        ("incomplete", "group_size eq", 400.18),
        ("no operator", "group_size 3", 400.18),
        ("bad character", "group_size eq 3; drop table submissions", 400.18),
        ("unterminated text", "full_name eq 'Secret Name", 400.18),
        ("unbalanced", "(group_size eq 3", 400.18),
        ("bad date", "__system/submissionDate gt 2020-13-45", 400.18),
        ("too deep", "(" * 40 + "group_size eq 3" + ")" * 40, 400.18),
        ("too long", "group_size eq 3 or " * 300 + "group_size eq 3", 400.18),
        ("unknown field", "secret_name eq 'Secret Name'", 400.23),
        ("unknown system field", "__system/secret eq 1", 400.23),
        ("arithmetic", "group_size add 1 eq 'Secret Name'", 501.4),
        ("function", "contains(full_name,'Secret Name')", 501.4),
        ("two properties", "group_size eq group_size", 501.4),
        ("group", "meta eq 'Secret Name'", 501.5),
        ("repeat", "household eq null", 501.5),
    ],
)
def test_bad_filters_are_clear_problems(
    sessions: sessionmaker[Session], profiles: list[str], case: str, expression: str, code: float
) -> None:
    with pytest.raises(CollectorError) as raised:
        read(sessions, "profile", args={"$filter": expression})
    assert raised.value.code == code, case
    assert "Secret" not in raised.value.message
    assert "drop" not in raised.value.message


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ({"$expand": "household"}, 501.6),
        ({"$expand": "*", "$select": "__id"}, 501.11),
        ({"$orderby": "full_name"}, 501.5),
        ({"$orderby": "__system/submitterName"}, 501.5),
        ({"$orderby": "__id sideways"}, 501.5),
        ({"$orderby": "__id asc desc"}, 501.5),
        ({"$orderby": "__id,"}, 501.5),
        ({"$orderby": "__id", "$skiptoken": "01eyJzIjoxfQ"}, 501.1),
        ({"$search": "x"}, 501.1),
        ({"$format": "xml"}, 501.1),
        ({"$top": "ten"}, 400.11),
        ({"$skip": "-1"}, 400.11),
        ({"$count": "maybe"}, 400.11),
        ({"$skiptoken": "not-a-token"}, 400.11),
        ({"$skiptoken": "01e30"}, 400.11),
    ],
)
def test_unsupported_options(
    sessions: sessionmaker[Session], profiles: list[str], args: dict[str, str], code: float
) -> None:
    with pytest.raises(CollectorError) as raised:
        read(sessions, "profile", args=args)
    assert raised.value.code == code


def test_paging_follows_next_links(sessions: sessionmaker[Session], many: list[str]) -> None:
    first = read(sessions, "profile", args={"$count": "True"}, page_size=3)
    assert ids(first) == many[::-1][:3]
    assert first["@odata.count"] == 7
    link = first["@odata.nextLink"]
    assert link.startswith("https://odata.test/v1/projects/1/forms/profile.svc/Submissions?")
    assert "%24count=True" in link
    assert "%24skiptoken=01" in link
    rows, pages = read_all(sessions, "profile", "Submissions", {}, page_size=3)
    assert [r["__id"] for r in rows] == many[::-1]
    assert pages == 3
    rows, pages = read_all(sessions, "profile", "Submissions", {"$top": "2"}, page_size=3)
    assert [r["__id"] for r in rows] == many[::-1]
    assert pages == 4
    members, pages = read_all(sessions, "profile", "Submissions.household", {}, page_size=2)
    assert len(members) == 7
    assert pages == 4
    assert len({m["__id"] for m in members}) == 7
    assert read(sessions, "profile", args={"$top": "7"}).get("@odata.nextLink") is None


def test_top_skip_and_count(sessions: sessionmaker[Session], many: list[str]) -> None:
    page = read(sessions, "profile", args={"$top": "2", "$skip": "3", "$count": "true"})
    assert ids(page) == many[::-1][3:5]
    assert page["@odata.count"] == 7
    assert "%24skip=" not in page["@odata.nextLink"]
    assert ids(read(sessions, "profile", args={"$skip": "7"})) == []
    assert ids(read(sessions, "profile", args={"$skip": "50"})) == []
    assert read(sessions, "profile", args={"$top": "0"})["value"] == []
    odd = {"$filter": "group_size eq 1 or group_size eq 3 or group_size eq 5", "$top": "1"}
    page = read(sessions, "profile", args=odd | {"$skip": "1", "$count": "true"})
    assert ids(page) == [many[3]]
    assert page["@odata.count"] == 3
    rows, _pages = read_all(sessions, "profile", "Submissions", odd)
    assert [r["__id"] for r in rows] == [many[5], many[3], many[1]]
    members = read(sessions, "profile", "Submissions.household", {"$skip": "2", "$top": "3"})
    assert [m["__Submissions-id"] for m in members["value"]] == [many[4], many[4], many[2]]


def test_pages_read_records_in_bounded_batches(
    sessions: sessionmaker[Session], many: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page reads what it shows and one more; it never asks for the whole form."""
    fetched: list[int] = []
    real = dataset.entries

    def counting(*args: Any, **kw: Any) -> Any:
        for batch in real(*args, **kw):
            fetched.append(len(batch))
            yield batch

    monkeypatch.setattr(service, "entries", counting)
    monkeypatch.setattr(service, "MIN_BATCH", 1)
    page = read(sessions, "profile", args={"$top": "2"})
    assert len(page["value"]) == 2
    assert sum(fetched) <= 3


def test_orderby_sorts_by_submission_metadata_and_pages_with_skip(
    sessions: sessionmaker[Session], many: list[str]
) -> None:
    newest_first = read(sessions, "profile", args={"$orderby": "__system/submissionDate desc"})
    assert ids(newest_first) == list(reversed(many))
    assert ids(read(sessions, "profile", args={"$orderby": "__id"})) == sorted(many)
    # Pages of an ordered read link on with $skip (Central refuses $orderby with $skiptoken).
    args = {"$orderby": "__id desc", "$count": "true"}
    first = read(sessions, "profile", args=args, page_size=3)
    link = first["@odata.nextLink"]
    assert "%24skip=3" in link
    assert "skiptoken" not in link
    assert "%24orderby=__id+desc" in link
    assert first["@odata.count"] == 7
    rows, pages = read_all(sessions, "profile", "Submissions", args, page_size=3)
    assert [r["__id"] for r in rows] == sorted(many, reverse=True)
    assert pages == 3
    skipped = read(sessions, "profile", args={**args, "$skip": "5"}, page_size=3)
    assert ids(skipped) == sorted(many, reverse=True)[5:]
    assert "@odata.nextLink" not in skipped


def test_orderby_orders_repeat_rows_by_their_submission_and_keeps_filters(
    sessions: sessionmaker[Session], many: list[str]
) -> None:
    order = sorted(many, reverse=True)
    args = {"$orderby": "$root/Submissions/__id desc"}
    rows, pages = read_all(sessions, "profile", "Submissions.household", args, page_size=2)
    # Household rows come grouped by their submission, in the submissions' order.
    members = dict(zip(many, MANY_SIZES, strict=True))
    assert [r["__Submissions-id"] for r in rows] == [p for p in order for _ in range(members[p])]
    assert pages == 4
    # A filter on answers applies to the ordered rows; $skip counts the matching ones.
    filtered = {"$orderby": "__id desc", "$filter": "group_size ge 3"}
    got, _pages = read_all(sessions, "profile", "Submissions", filtered, page_size=2)
    assert [r["__id"] for r in got] == sorted(many[3:], reverse=True)
    assert all(r["group_size"] >= 3 for r in got)
    skipped = read(sessions, "profile", args={**filtered, "$skip": "1"}, page_size=2)
    assert ids(skipped) == sorted(many[3:], reverse=True)[1:3]
    assert "%24skip=3" in skipped["@odata.nextLink"]


def test_orderby_puts_nulls_first_ascending_and_last_descending(
    sessions: sessionmaker[Session], many: list[str]
) -> None:
    with sessions() as session, session.begin():
        for instance_id, state in ((many[2], "approved"), (many[4], "rejected")):
            session.execute(
                update(Submission)
                .where(Submission.instance_id == instance_id)
                .values(review_state=state)
            )
    ascending = ids(read(sessions, "profile", args={"$orderby": "__system/reviewState asc"}))
    unreviewed = [p for p in many if p not in (many[2], many[4])]
    assert ascending == [*unreviewed, many[2], many[4]]
    descending = ids(read(sessions, "profile", args={"$orderby": "__system/reviewState desc"}))
    assert descending == [many[4], many[2], *reversed(unreviewed)]
    two_keys = {"$orderby": "__system/reviewState desc, __id asc"}
    assert ids(read(sessions, "profile", args=two_keys)) == [many[4], many[2], *sorted(unreviewed)]


def test_orderby_errors_do_not_echo_what_was_sent(
    sessions: sessionmaker[Session], many: list[str]
) -> None:
    with pytest.raises(CollectorError) as raised:
        read(sessions, "profile", args={"$orderby": "full_name eq 'Ayşe Secret'"})
    assert raised.value.code == 501.5
    assert "Secret" not in raised.value.message
    with pytest.raises(CollectorError) as raised:
        read(sessions, "profile", args={"$orderby": "__id 'Ayşe Secret'"})
    assert "Secret" not in raised.value.message
