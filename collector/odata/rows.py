"""Stored records -> OData rows shaped as ODK Central shapes them.

A root row is ``{"__id", "__system", fields…, groups as objects, "<repeat>@odata.navigationLink"}``;
a repeat table's row carries ``__id`` (a hash of its key, as Central's are) and its parent's id.
``$expand=*`` nests every repeat's rows into their parent. Values come from the dataset renderer
(pseudonyms, generalised values, sensitive values only for viewers allowed) and are typed by the
EDM; nothing here reads an original.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.dataset import Entry, Renderer
from collector.models import (
    AppUser,
    FormVersion,
    Submission,
    SubmissionPart,
    SubmissionState,
    User,
    as_utc,
)
from collector.odata.edm import SUBMISSIONS, Node, Schema, segments_below
from collector.odata.values import convert
from collector.odata.versions import Versions
from keys import odk

Row = dict[str, Any]


def _xml_parts(sub: Any) -> int:
    """Return how many of a submission's parts are its XML rather than attachments."""
    return 1 if getattr(sub, "envelope", "odk") == "odk" else 0


def timestamp(moment: datetime | None) -> str | None:
    """Write a stored time as Central does: UTC, milliseconds, 'Z'."""
    if moment is None:
        return None
    # Exports write one per row: stored times are naive (SQLite) or UTC (PostgreSQL), and
    # only another zone is converted; isoformat, not strftime, and no copy for the others.
    offset = moment.utcoffset()
    if offset:
        moment = moment.astimezone(UTC)
    text = moment.isoformat(timespec="milliseconds")
    return (text if offset is None else text[:-6]) + "Z"


def row_id(key: str) -> str:
    """Return the OData id of a repeat entry: a SHA-1 of its key, hex."""
    return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()


def quoted(value: str) -> str:
    """Quote an id for a navigation link as Central does."""
    return quote(value.replace("'", "''"), safe="-_.!~*()")


@dataclass(frozen=True)
class Selection:
    """What ``$select`` asked for: node paths to keep, ``__system`` parts, the parent id."""

    keep: frozenset[str]
    system: frozenset[str] | None
    parent_id: bool


@dataclass
class Record:
    """One entry's repeat rows indexed by key and by parent (built once per submission)."""

    entry: Entry
    #: The instanceID that names the submission: its first version's (see versions.py).
    instance_id: str
    by_key: dict[str, tuple[Node, dict[str, Any]]] = field(default_factory=dict)
    children: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def root_key(self) -> str:
        """Return the key the record's top-level repeat entries name as their parent."""
        return str(self.entry.document.get("instanceId") or self.entry.submission.instance_id)

    def row_id(self, key: str) -> str:
        """Return the OData id of an entry, stable across edits (keyed by the first id)."""
        root = self.root_key
        stable = self.instance_id + key[len(root) :] if key.startswith(root + "/") else key
        return row_id(stable)

    def level(self, key: str, table_path: str) -> str | None:
        """Return the key of the row at a table's level on the way up from ``key``."""
        while key in self.by_key:
            node, row = self.by_key[key]
            if node.path == table_path:
                return key
            key = str(row.get("parent"))
        return None


@dataclass
class Shaper:
    """Shapes one request's rows: typed values, links, selection and expansion."""

    session: Session
    schema: Schema
    renderer: Renderer
    wkt: bool = False
    expand: bool = False
    selection: Selection | None = None
    versions: Versions = field(init=False)
    _names: dict[tuple[str, int], str | None] = field(default_factory=dict)
    _versions: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.versions = Versions(self.session)

    def record(self, entry: Entry) -> Record:
        """Index an entry's repeat rows."""
        first = self.versions.first(entry.submission)
        record = Record(entry, str(first.instance_id))
        for path, rows in entry.document.get("repeats", {}).items():
            node = self.schema.nodes.get(path)
            if node is None:
                continue
            for row in rows:
                record.by_key[str(row.get("key"))] = (node, row)
                parent = str(row.get("parent"))
                record.children.setdefault((path, parent), []).append(row)
        return record

    def system(self, entry: Entry) -> dict[str, Any]:
        """Return the submission's metadata with Python values (times, ints)."""
        sub = entry.submission
        first = self.versions.first(sub)
        updated = first.updated_at or sub.updated_at
        status = None if sub.state == SubmissionState.PROCESSED.value else self._status(sub)
        # The parts received are attachments but the submission's XML, once that has arrived.
        arrived = 0 if status == "missingEncryptedFormData" else _xml_parts(sub)
        return {
            "submissionDate": as_utc(first.created_at),
            "updatedAt": as_utc(updated) if updated else None,
            "submitterId": first.submitter_id or first.creator_user_id,
            "submitterName": self._submitter(first),
            "attachmentsPresent": max(sub.received_parts - arrived, 0),
            "attachmentsExpected": max(sub.expected_parts - _xml_parts(sub), 0),
            "status": status,
            "reviewState": first.review_state,
            "deviceId": sub.device_id,
            "edits": self.versions.edit_count(sub),
            "formVersion": entry.document.get("version") or self._version(sub.form_version_id),
            "deletedAt": None,
        }

    def _status(self, sub: Any) -> str:
        """Central's ``__system/status`` of a submission not decrypted: ``notDecrypted`` (not
        yet, or decryption failed), or ``missingEncryptedFormData`` while the encrypted XML of
        an upload has not arrived. A decrypted one's is None."""
        if sub.envelope == "odk" and sub.received_parts < sub.expected_parts:
            manifest = self.session.scalars(
                select(Submission.manifest).where(Submission.id == sub.id)
            ).one()
            xml_file = odk.parse_manifest(manifest).xml_file
            arrived = select(SubmissionPart.id).where(
                SubmissionPart.submission_id == sub.id, SubmissionPart.name == xml_file
            )
            if self.session.scalar(arrived) is None:
                return "missingEncryptedFormData"
        return "notDecrypted"

    def _version(self, form_version_id: int) -> str:
        """The version string of a submission's form version (a pending one has no record)."""
        if form_version_id not in self._versions:
            version = self.session.get(FormVersion, form_version_id)
            self._versions[form_version_id] = version.version if version else ""
        return self._versions[form_version_id]

    def _submitter(self, first: Any) -> str | None:
        """Return the display name of an app user, or of the web user who sent it."""
        key = ("app", first.submitter_id) if first.submitter_id else ("user", first.creator_user_id)
        if key[1] is None:
            return None
        if key not in self._names:
            user = self.session.get(AppUser if key[0] == "app" else User, key[1])
            self._names[key] = getattr(user, "display_name", None)
        return self._names[key]

    def root(self, record: Record, system: dict[str, Any]) -> tuple[Row, dict[str, Any]]:
        """Return a submission's root row and its rendered values."""
        link = f"{SUBMISSIONS}('{quoted(record.instance_id)}')"
        row: Row = {"__id": record.instance_id}
        selected = self.selection is None or self.selection.system is not None
        if selected:
            row["__system"] = self._system_json(system)
        if system["status"] is not None:
            return row, {}  # Not decrypted: metadata only, as Central's row of one.
        values = self.renderer.values(record.entry.document.get("root", {}))
        row |= self.frame(self.schema.root, values, record, record.root_key, link)
        return row, values

    def _system_json(self, system: dict[str, Any]) -> dict[str, Any]:
        out = dict(system)
        out["submissionDate"] = timestamp(system["submissionDate"])
        out["updatedAt"] = timestamp(system["updatedAt"])
        submitter = system["submitterId"]
        out["submitterId"] = None if submitter is None else str(submitter)
        wanted = self.selection.system if self.selection is not None else None
        if wanted:
            out = {k: v for k, v in out.items() if k in wanted}
        return out

    def frame(self, node: Node, values: dict[str, Any], record: Record, key: str, link: str) -> Row:
        """Return the properties below a node (fields, groups, repeats) of one row."""
        out: Row = {}
        for child in node.children:
            if self.selection is not None and child.path not in self.selection.keep:
                continue
            if child.kind == "field":
                out[child.name] = convert(child.edm, values.get(child.path), wkt=self.wkt)
            elif child.kind == "group":
                out[child.name] = self.frame(child, values, record, key, f"{link}/{child.name}")
            else:
                out[f"{child.name}@odata.navigationLink"] = f"{link}/{child.name}"
                if self.expand:
                    out[child.name] = [
                        self.entry_row(child, row, record, f"{link}/{child.name}")
                        for row in record.children.get((child.path, key), [])
                    ]
        return out

    def entry_row(self, table: Node, row: dict[str, Any], record: Record, link: str) -> Row:
        """Return one repeat entry as a row (without its parent id)."""
        key = str(row.get("key"))
        values = self.renderer.values(row.get("values", {}))
        shaped: Row = {"__id": record.row_id(key)}
        shaped |= self.frame(table, values, record, key, f"{link}('{record.row_id(key)}')")
        return shaped

    def link_of(self, record: Record, key: str) -> str:
        """Return the navigation path of a row (``Submissions('…')/household('…')``)."""
        if key not in record.by_key:
            return f"{SUBMISSIONS}('{quoted(record.instance_id)}')"
        node, row = record.by_key[key]
        names = segments_below(self.schema.model, node.owner, node.path)
        parent = self.link_of(record, str(row.get("parent")))
        return f"{parent}/{'/'.join(names)}('{record.row_id(key)}')"

    def table_rows(self, record: Record, table: Node) -> Iterator[TableRow]:
        """Yield every entry of a repeat in one record, as rows of that repeat's table."""
        rows = record.entry.document.get("repeats", {}).get(table.path, [])
        names = "/".join(segments_below(self.schema.model, table.owner, table.path))
        for position, row in enumerate(rows):
            key, parent = str(row.get("key")), str(row.get("parent"))
            parent_id = record.instance_id if parent not in record.by_key else record.row_id(parent)
            link = f"{self.link_of(record, parent)}/{names}('{record.row_id(key)}')"
            values = self.renderer.values(row.get("values", {}))
            shaped: Row = {"__id": record.row_id(key)}
            shaped |= self.frame(table, values, record, key, link)
            if self.selection is None or self.selection.parent_id:
                shaped[table.parent_key] = parent_id
            yield TableRow(position, key, parent_id, shaped, values)


class TableRow(NamedTuple):
    """One entry of a repeat table: its position in the record, key, parent id, row, values."""

    position: int
    key: str
    parent_id: str
    row: Row
    values: dict[str, Any]
