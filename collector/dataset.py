"""A form's stored records as tables: the root table and one per repeat, values rendered.

The one place that turns a stored record (pseudonymised at rest) into what a reader sees:
identifiers as their pseudonym (or, for an audited re-identified export, the original),
generalised quasi-identifiers as stored, sensitive values opened only for viewers allowed to
see them, dropped fields absent. Exports and OData are both built on it; records stream in
batches, so memory does not grow with the number of submissions.
"""

from __future__ import annotations

import base64
import functools
import heapq
import itertools
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from operator import attrgetter
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, bindparam, null, or_, select
from sqlalchemy.orm import Session

from collector import vault
from collector.models import (
    Form,
    FormVersion,
    Subject,
    Submission,
    SubmissionRecord,
    SubmissionState,
    in_scope,
)
from collector.records import model_for
from forms.model import Field, FormModel, merge_models
from forms.policy import PIIKind

BATCH = 500


@dataclass(frozen=True)
class Column:
    """One column: the field and its Central-style header (its path within its table, groups
    joined by '-'; or, without group paths, its name alone)."""

    field: Field
    header: str


#: A geopoint's value, as Central's CSV splits it, one column each.
GEO_PARTS = ("Latitude", "Longitude", "Altitude", "Accuracy")


@dataclass(frozen=True)
class Table:
    """The root table (``repeat`` None) or a repeat's table."""

    name: str
    repeat: str | None
    columns: tuple[Column, ...]
    #: Central's ``splitSelectMultiples``: a select-multiple field's path -> the values its
    #: answers hold, each a column of its own after the field's (empty: not split).
    splits: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def headers(self) -> list[str]:
        """The CSV headers of the columns: a geopoint's four parts in four, a split field's
        values after it as ``field/value`` (``spread``)."""
        out: list[str] = []
        for c in self.columns:
            if c.field.type == "geopoint":
                out += [f"{c.header}-{part}" for part in GEO_PARTS]
            else:
                out.append(c.header)
                out += [f"{c.header}/{v}" for v in self.splits.get(c.field.path, ())]
        return out

    @property
    def spreads(self) -> bool:
        """Whether a column's value takes more than one cell (``spread`` changes the row)."""
        return bool(self._spread_at)

    @cached_property
    def _spread_at(self) -> tuple[tuple[int, str | None], ...]:
        """The columns whose value takes more than one cell, last first: each position with
        its split field's path (None for a geopoint)."""
        return tuple(
            (i, None if c.field.type == "geopoint" else c.field.path)
            for i, c in reversed(list(enumerate(self.columns)))
            if c.field.type == "geopoint" or self.splits.get(c.field.path)
        )

    def spread(self, values: list[str | None]) -> list[str | None]:
        """Row values for ``headers`` (in place): a geopoint's "lat lon alt acc" in its four
        columns (a generalised point has only the first two); for a split field, 1 for each
        value the answer chose and 0 for the others."""
        for i, split in self._spread_at:  # from the last, so that earlier positions hold
            value = values[i]
            if split is None:
                if value is None:
                    values[i : i + 1] = _NO_POINT
                else:
                    parts: list[str | None] = list(value.split()[:_POINT])
                    parts += [""] * (_POINT - len(parts))
                    values[i : i + 1] = parts
            else:
                chosen = set((value or "").split())
                values[i + 1 : i + 1] = ["1" if v in chosen else "0" for v in self.splits[split]]
        return values


_POINT = len(GEO_PARTS)
_NO_POINT: tuple[None, ...] = (None,) * _POINT


def splittable(f: Field) -> bool:
    """A select-multiple field whose answers every reader sees as they are (no PII rule): only
    those are split into a column per value, so a split never shows what the field hides."""
    return f.type == "select" and f.pii is None


def select_values(entries: Iterator[Entry], tables: Sequence[Table]) -> dict[str, list[str]]:
    """The values the answers of each splittable field hold (sorted), over some entries."""
    wanted = {t.repeat: [c.field.path for c in t.columns if splittable(c.field)] for t in tables}
    seen: dict[str, set[str]] = {p: set() for paths in wanted.values() for p in paths}
    for entry in entries:
        rows: list[tuple[str | None, Mapping[str, Any]]] = [(None, entry.document.get("root", {}))]
        for repeat, stored in entry.document.get("repeats", {}).items():
            if wanted.get(repeat):
                rows += [(repeat, r.get("values", {})) for r in stored]
        for repeat, values in rows:
            for path in wanted.get(repeat, ()):
                answer = values.get(path)
                if isinstance(answer, str):
                    seen[path].update(answer.split())
    return {path: sorted(found) for path, found in seen.items()}


def header_of(model: FormModel, path: str, within: str | None = None) -> str:
    """Return the CSV header of a field path: the path below ``within`` (a repeat's path, by
    default the root), '-'-joined."""
    if within is not None:
        return path[len(within) + 1 :].replace("/", "-")
    return _below_root(path).replace("/", "-")


def _below_root(path: str) -> str:
    """A path without its root element (that of its own version: with deleted fields, an
    earlier version's root element may have had another name)."""
    return path.split("/", 2)[-1]


def exported(f: Field) -> bool:
    """Whether a field has a column: not a note, and not dropped (never stored)."""
    return not f.is_note and not (f.pii is not None and f.pii.kind == PIIKind.DROP)


def tables_for(model: FormModel, *, group_paths: bool = True) -> list[Table]:
    """Return the root table and each repeat's table, columns in form order, headed as
    Central's CSV: a field's path within its table, or (``group_paths`` False) its name."""

    def columns(repeat: str | None) -> tuple[Column, ...]:
        return tuple(
            Column(f, header_of(model, f.path, repeat) if group_paths else f.name)
            for f in model.fields_in(repeat)
            if exported(f)
        )

    tables = [Table("Submissions", None, columns(None))]
    for repeat in model.repeats:
        name = "Submissions." + _below_root(repeat).replace("/", ".")
        tables.append(Table(name, repeat, columns(repeat)))
    return tables


@dataclass
class Viewer:
    """Who reads: may they see sensitive values, and is this a re-identified export."""

    secrets: vault.Secrets | None = None
    sensitive: bool = False
    reidentify: bool = False


@dataclass
class Renderer:
    """Turns stored values into displayed ones, resolving subjects in batches."""

    session: Session
    project_id: int
    viewer: Viewer
    _subjects: _Subjects = field(init=False)

    def __post_init__(self) -> None:
        self._subjects = _Subjects(self._resolve)

    def prefetch_text(self, texts: Sequence[str | None]) -> None:
        """Resolve every subject some stored records (as text, not decoded) mention, with one
        query. The references are found in the text: a record holds ``{"subject": <id>}`` for
        each identifier (a quote inside a string value is escaped, so none can look like one),
        and one that were missed would still be looked up when rendered."""
        self._resolve({int(n) for text in texts if text for n in _SUBJECT_REF.findall(text)})

    def _resolve(self, wanted: set[int]) -> None:
        wanted -= self._subjects.keys()
        if not wanted:
            return
        found: dict[int, str | None] = dict.fromkeys(wanted)
        if self.viewer.reidentify:
            assert self.viewer.secrets is not None
            for subject in self.session.scalars(select(Subject).where(Subject.id.in_(wanted))):
                found[subject.id] = self._original(subject)
        else:
            found.update(vault.pseudonyms(self.session, wanted))
        self._subjects.update(found)

    def _original(self, subject: Subject) -> str:
        assert self.viewer.secrets is not None
        if subject.sealed_data_key is None:
            return f"[erased {subject.pseudonym}]"
        return vault.original_of(self.viewer.secrets.kek, subject)

    def value(self, raw: Any) -> str | None:
        """Render one stored value."""
        if raw is None or isinstance(raw, str):
            return raw
        if "subject" in raw:
            return self._subjects[raw["subject"]]
        if "sealed" in raw and self.viewer.sensitive and self.viewer.secrets is not None:
            opened = vault.open_value(
                self.viewer.secrets,
                self.session,
                self.project_id,
                raw["v"],
                base64.b64decode(raw["sealed"]),
                "sensitive",
            )
            return opened.decode()
        return None

    def values(self, stored: Mapping[str, Any]) -> dict[str, str | None]:
        """Render a row's values (path -> text)."""
        return {path: self.value(raw) for path, raw in stored.items()}

    def pick(self, stored: Mapping[str, Any], paths: Sequence[str]) -> list[str | None]:
        """Render the values of some paths, in order (the export's hot loop)."""
        get, subjects = stored.get, self._subjects
        # Plain text and nulls are most values, pseudonyms a lookup; sealed values are opened
        # only for viewers allowed to see them (else withheld as null).
        value = self.value if self.viewer.sensitive else _withheld
        return [
            raw
            if (raw := get(path)) is None or type(raw) is str
            else subjects[raw["subject"]]
            if "subject" in raw
            else value(raw)
            for path in paths
        ]


def _withheld(_raw: Any) -> None:
    return None


_SUBJECT_REF = re.compile(r'"subject": (\d+)')


class _Subjects(dict[int, "str | None"]):
    """Rendered subjects by id (None: no such subject); one not prefetched is looked up."""

    def __init__(self, resolve: Callable[[set[int]], None]):
        super().__init__()
        self._resolve = resolve

    def __missing__(self, subject_id: int) -> str | None:
        self._resolve({subject_id})
        return dict.get(self, subject_id)


# Every column but the manifest (kilobytes of envelope XML no reader of records needs).
_ENTRY_COLUMNS = tuple(c for c in Submission.__table__.columns if c.name != "manifest")
#: The columns a file export shows of a submission (fewer columns: less to read per row).
EXPORT_COLUMNS = tuple(
    Submission.__table__.c[name]
    for name in (
        "id",
        "instance_id",
        "created_at",
        "submitter_id",
        "creator_user_id",
        "review_state",
        "device_id",
        "root_id",
        "received_parts",
        "expected_parts",
        "envelope",
    )
)


class Entry(NamedTuple):
    """One processed submission with its stored record document.

    ``submission`` is a read-only row with columns of the submissions table (all but the
    manifest, unless the walk asked for fewer), attribute access as on the model: exports
    read many rows, and plain rows, read without the ORM, cost far less than mapped objects.
    """

    submission: Any
    document: dict[str, Any]


def stored(stmt: Select[Any], pending: bool = False, draft: int | None = None) -> Select[Any]:
    """Join a query on submissions to their records: processed submissions only, or with
    ``pending`` also those received or failed (which have no record yet, or never will). Those
    of published versions, or with ``draft`` (a draft version's id) that draft's tests."""
    if not pending:
        return stmt.join(SubmissionRecord, SubmissionRecord.submission_id == Submission.id).where(
            Submission.state == SubmissionState.PROCESSED.value, in_scope(draft)
        )
    return stmt.outerjoin(SubmissionRecord, SubmissionRecord.submission_id == Submission.id).where(
        or_(
            Submission.state != SubmissionState.PROCESSED.value,
            SubmissionRecord.submission_id.is_not(None),
        ),
        in_scope(draft),
    )


def _document(data: str | None) -> dict[str, Any]:
    document: dict[str, Any] = {} if data is None else json.loads(data)
    return document


def entries(session: Session, form: Form, **options: Any) -> Iterator[list[Entry]]:
    """Yield processed submissions of a form in id order, a batch at a time (keyset paging),
    with their records decoded: ``stored_rows`` (same options) as entries."""
    for rows in stored_rows(session, form, **options):
        yield [Entry(row, _document(row.record_data)) for row in rows]


def decoded(row: Any) -> Entry:
    """The entry of one row of ``stored_rows``: its record decoded."""
    return Entry(row, _document(row.record_data))


def stored_rows(
    session: Session,
    form: Form,
    *,
    batch: int = BATCH,
    after_id: int | None = None,
    limit: int | None = None,
    where: Sequence[ColumnElement[bool]] = (),
    order: Sequence[ColumnElement[Any]] = (),
    offset: int = 0,
    newest_first: bool = False,
    pending: bool = False,
    columns: Sequence[ColumnElement[Any]] = _ENTRY_COLUMNS,
    draft: int | None = None,
) -> Iterator[Sequence[Any]]:
    """Yield processed submissions of a form in id order, a batch of rows at a time (keyset
    paging): the submission's ``columns`` (which must include its id) and its record's text as
    ``record_data``, not decoded. With ``draft`` (a draft version's id), that draft's test
    submissions instead of the published versions' (``stored``).

    ``after_id`` resumes after that submission in the walk's order (oldest first, or with
    ``newest_first`` newest first). ``where`` adds conditions on the submissions table (OData
    filters on submission metadata). With ``order`` (an OData ``$orderby``) they come in that
    order instead, paged by offset, from ``offset`` on; ``after_id`` is then not used. With
    ``pending``, submissions not (yet) decrypted come too, with no record.
    """
    if order:
        stmt = (
            stored(select(*columns, SubmissionRecord.data.label("record_data")), pending, draft)
            .where(Submission.form_id == form.id, *where)
            .order_by(*order)
            .offset(bindparam("offset"))
            .limit(bindparam("size"))
        )
        sent = 0
        while limit is None or sent < limit:
            size = batch if limit is None else min(batch, limit - sent)
            params = {"offset": offset + sent, "size": size}
            found = session.connection().execute(stmt, params).all()
            if not found:
                return
            yield found
            sent += len(found)
        return
    size = batch if limit is None else min(batch, limit)
    walks = [
        _keyset(session, first, following, after_id, size)
        for first, following in _walks(form.id, where, newest_first, pending, columns, draft)
    ]
    rows: Iterator[Any] = (
        walks[0]
        if len(walks) == 1
        else heapq.merge(*walks, key=attrgetter("id"), reverse=newest_first)
    )
    if limit is not None:
        rows = itertools.islice(rows, limit)
    while chunk := list(itertools.islice(rows, batch)):
        yield chunk


def _walks(
    form_id: int,
    where: Sequence[ColumnElement[bool]],
    newest_first: bool,
    pending: bool,
    columns: Sequence[ColumnElement[Any]],
    draft: int | None = None,
) -> list[tuple[Select[Any], Select[Any]]]:
    """The first and the following (``after``) batch queries of each walk in submission order.

    Each walk reads through the (state, id) index and stops at its batch size. Submissions not
    decrypted are a few among many, so with ``pending`` they have a walk of their own, merged
    with the processed one by id: one outer join over the form would read every one of its
    submissions for each batch.
    """
    after = (
        Submission.id < bindparam("after") if newest_first else Submission.id > bindparam("after")
    )
    key = Submission.id.desc() if newest_first else Submission.id.asc()

    def walk(query: Select[Any]) -> tuple[Select[Any], Select[Any]]:
        query = query.where(Submission.form_id == form_id, in_scope(draft), *where)
        query = query.order_by(key)
        query = query.limit(bindparam("size"))
        return query, query.where(after)

    done = (
        select(*columns, SubmissionRecord.data.label("record_data"))
        .join(SubmissionRecord, SubmissionRecord.submission_id == Submission.id)
        .where(Submission.state == SubmissionState.PROCESSED.value)
    )
    if not pending:
        return [walk(done)]
    waiting = select(*columns, null().label("record_data")).where(
        Submission.state.in_([SubmissionState.RECEIVED.value, SubmissionState.FAILED.value])
    )
    return [walk(done), walk(waiting)]


def _keyset(
    session: Session, first: Select[Any], following: Select[Any], after: int | None, size: int
) -> Iterator[Any]:
    """Yield the rows of one walk, ``size`` per query, resuming after the last row read."""
    while True:
        query = first if after is None else following
        found = session.connection().execute(query, {"after": after, "size": size}).all()
        yield from found
        if len(found) < size:
            return
        after = found[-1].id


def model_of(
    session: Session, form: Form, version_id: int | None = None, *, deleted_fields: bool = False
) -> FormModel:
    """Return the model of a form's current published version (or of one version).

    With ``deleted_fields`` (Central's export option), the current version's model with every
    field that only earlier published versions have merged back (``merge_models``, oldest
    first), each with its own version's definition and PII rule.
    """
    from collector.publishing import current_version, published_versions

    if deleted_fields and not version_id:
        models = [model_for(v.xml, v.policy) for v in published_versions(session, form.id)]
        assert models, "the form has no published version"
        return functools.reduce(merge_models, models)
    version = (
        session.get(FormVersion, version_id) if version_id else current_version(session, form.id)
    )
    assert version is not None, "the form has no published version"
    return model_for(version.xml, version.policy)
