"""One export run, whatever its format: authorise and audit it, read its entries in batches,
and end with the reconciliation summary.

The summary says how many submissions were received, processed and failed (by reason), how
many signatures failed, which sensitive columns were withheld from this viewer, and how many
quasi-identifier combinations occur in fewer than k rows (a disclosure-risk warning). The
writers (``collector.export`` for CSV zip and JSON Lines, ``collector.export_xlsx``) share it.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from collector import audit
from collector.audit import Actor
from collector.dataset import (
    EXPORT_COLUMNS,
    Entry,
    Renderer,
    Table,
    Viewer,
    decoded,
    exported,
    header_of,
    model_of,
    select_values,
    stored_rows,
    tables_for,
)
from collector.errors import Forbidden, InvalidInput
from collector.models import AppUser, Form, FormVersion, Submission, User, in_scope
from collector.odata.query import export_filter
from collector.odata.rows import timestamp
from collector.odata.versions import Versions
from forms.model import FormModel
from forms.policy import PIIKind

EXPORT_BATCH = 100
K_DEFAULT = 5
SYSTEM_HEADERS = ("SubmissionDate",)
TRAILER_HEADERS = (
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
)
Progress = Callable[[int], None]


@dataclass
class Summary:
    """The reconciliation summary written with every export."""

    form_id: str
    profile: str
    #: Whether a ``$filter`` chose what was exported (``exported`` counts what it kept).
    filtered: bool = False
    #: Whether this is an export of a draft's test submissions (never of the form's data).
    draft: bool = False
    #: With Central's ``deletedFields``: the columns of fields that only earlier published
    #: versions of the form have (blank in the rows of later versions).
    deleted_columns: list[str] = field(default_factory=list)
    exported: int = 0
    received: int = 0
    processed: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    #: Submissions deleted (restorable until purged): not in ``received`` nor exported.
    deleted: int = 0
    signature_invalid: int = 0
    withheld_columns: list[str] = field(default_factory=list)
    k: int = K_DEFAULT
    rare_quasi_combinations: int = 0
    rare_quasi_rows: int = 0
    quasi_columns: list[str] = field(default_factory=list)
    #: Decrypted files the zip carries, and stored files it leaves out for this viewer.
    media_files: int = 0
    media_withheld: int = 0
    #: Files whose name another submission's file already took: stored under their
    #: submission's folder instead (``media/<instanceID>/<name>``).
    media_renamed: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the summary as plain data (summary.json)."""
        warnings = []
        if self.rare_quasi_combinations:
            warnings.append(
                f"{self.rare_quasi_combinations} combinations of quasi-identifiers "
                f"({', '.join(self.quasi_columns)}) occur in fewer than {self.k} rows "
                f"({self.rare_quasi_rows} rows): disclosure risk"
            )
        return {**self.__dict__, "warnings": warnings}


def reconcile(session: Session, form: Form, summary: Summary, draft: int | None = None) -> None:
    """Fill in the intake side of the summary from the submissions table (with ``draft``, a
    draft version's id: from its test submissions)."""
    # One pass over the form's submissions, deleted ones counted apart.
    gone = Submission.deleted_at.is_not(None)
    invalid = func.sum(case((Submission.signature == "invalid", 1), else_=0))
    rows = session.execute(
        select(Submission.state, Submission.reason, gone, func.count(), invalid)
        .where(Submission.form_id == form.id, in_scope(draft, deleted=True))
        .group_by(Submission.state, Submission.reason, gone)
    ).all()
    for state, reason, deleted, count, invalid_count in rows:
        if deleted:
            summary.deleted += count
            continue
        summary.received += count
        summary.signature_invalid += int(invalid_count or 0)
        if state == "processed":
            summary.processed += count
        elif state == "failed":
            key = reason or "unknown"
            summary.failed[key] = summary.failed.get(key, 0) + count


def _authorise(session: Session, actor: Actor, form: Form, profile: str, reason: str) -> None:
    if profile not in ("pseudonymised", "reidentified"):
        raise InvalidInput(f"unknown export profile {profile!r}", code=400.23)
    if profile == "reidentified":
        if actor.type != "cli" and actor.role != "admin":
            audit.record(
                session,
                actor,
                "export.refused",
                project_id=form.project_id,
                subject=form.xml_form_id,
                profile=profile,
            )
            session.commit()
            raise Forbidden("only an admin may export re-identified data")
        if len(reason.strip()) < 5:
            raise InvalidInput(
                "a re-identified export needs a reason (at least 5 characters)",
                code=400.22,
                field="reason",
            )


@dataclass
class Run:
    """Shared state of one export run (every format's writer works through one)."""

    session: Session
    form: Form
    model: FormModel
    renderer: Renderer
    summary: Summary
    #: The export's ``$filter`` as SQL conditions on the submissions (none: all of them).
    where: list[ColumnElement[bool]] = field(default_factory=list)
    #: Central's ``groupPaths``: headers with their groups' names (or the field's name alone).
    group_paths: bool = True
    #: Central's ``splitSelectMultiples``: a column per value of each select-multiple field.
    split_select_multiples: bool = False
    #: The draft version whose test submissions are exported (None: the form's data).
    draft: int | None = None
    tables: list[Table] = field(init=False)
    #: Display names of submitters: ("app", id) for app users, ("user", id) for web users.
    names: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)
    versions: Versions = field(init=False)
    quasi: Counter[tuple[str | None, ...]] = field(default_factory=Counter)

    _paths: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _files: dict[str, tuple[str, ...]] = field(default_factory=dict)
    quasi_at: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        self.tables = tables_for(self.model, group_paths=self.group_paths)
        self.versions = Versions(self.session)
        if self.split_select_multiples:
            # A first pass over the same submissions finds the values to give columns to.
            seen = select_values(self._walk(), self.tables)
            self.tables = [
                replace(t, splits={p: tuple(seen[p]) for p in self.paths(t) if p in seen})
                for t in self.tables
            ]
            self._paths.clear()
        root = self.tables[0]
        self.quasi_at = tuple(
            i
            for i, c in enumerate(root.columns)
            if c.field.pii is not None and c.field.pii.kind == PIIKind.QUASI
        )

    def count_quasi(self, root_values: list[str | None]) -> None:
        """Count the root row's quasi-identifier combination (for the k-anonymity warning)."""
        if self.quasi_at:
            self.quasi[tuple(root_values[i] for i in self.quasi_at)] += 1

    def paths(self, table: Table) -> tuple[str, ...]:
        """The field paths of a table's columns, computed once."""
        if table.name not in self._paths:
            self._paths[table.name] = tuple(c.field.path for c in table.columns)
        return self._paths[table.name]

    def repeat_rows(self, table: Table, entry: Entry) -> Iterator[list[str | None]]:
        """An entry's rows of a repeat table: the values, then PARENT_KEY and KEY."""
        paths, pick = self.paths(table), self.renderer.pick
        spread = table.spread if table.spreads else None
        rekey = self.rekey(entry.submission)
        for row in entry.document.get("repeats", {}).get(table.repeat, ()):
            values = pick(row.get("values", {}), paths)
            if spread is not None:
                values = spread(values)
            values += (row.get("parent"), row.get("key"))
            if rekey is not None:
                values[-2:] = [rekey(values[-2]), rekey(values[-1])]
            yield values

    def key(self, sub: Any) -> str:
        """A submission's KEY, as Central's: the logical submission's instanceID (its first
        version's), which is also its OData ``__id``."""
        return str(self.versions.first(sub).instance_id)

    def rekey(self, sub: Any) -> Callable[[str | None], str | None] | None:
        """For an edited submission, what turns its repeat rows' stored keys (built on the
        current version's instanceID) into keys built on ``key``; None when never edited."""
        if sub.root_id is None:
            return None
        current, logical = sub.instance_id, self.key(sub)
        if current == logical:
            return None

        def rekeyed(stored: str | None) -> str | None:
            if stored is None or not stored.startswith(current):
                return stored
            return logical + stored[len(current) :]

        return rekeyed

    def files(self, table: Table) -> tuple[str, ...]:
        """The field paths of a table's file (binary) columns, computed once."""
        if table.name not in self._files:
            self._files[table.name] = tuple(
                c.field.path for c in table.columns if c.field.type == "binary"
            )
        return self._files[table.name]

    def shown_files(self, tables: list[Table], entry: Entry) -> set[str]:
        """The file names this export shows for an entry (in any table's file columns)."""
        pick, document = self.renderer.pick, entry.document
        shown: set[str | None] = set(pick(document.get("root", {}), self.files(tables[0])))
        stored = document.get("repeats", {})
        for table in tables[1:]:
            if paths := self.files(table):
                for row in stored.get(table.repeat, ()):
                    shown.update(pick(row.get("values", {}), paths))
        return {name for name in shown if name}

    def submitter(self, first: Any) -> tuple[str, str]:
        """The id and display name of who sent a submission (its first version): its app user,
        else the web user who sent it over the API; blank when neither is known."""
        key = ("app", first.submitter_id) if first.submitter_id else ("user", first.creator_user_id)
        if key[1] is None:
            return "", ""
        found = self.names.get(key)
        if found is None:
            user = self.session.get(AppUser if key[0] == "app" else User, key[1])
            found = self.names[key] = (str(key[1]), getattr(user, "display_name", "") or "")
        return found

    def root_row(self, table: Table, entry: Entry) -> list[str | None]:
        """A submission's root row as Central's CSV has it: the submission date, the values
        (a geopoint in four columns), then the trailer (``TRAILER_HEADERS``). Date, submitter
        and review state are the logical submission's (its first version), as in OData."""
        sub = entry.submission
        values = self.renderer.pick(entry.document.get("root", {}), self.paths(table))
        self.count_quasi(values)
        first = self.versions.first(sub)
        submitter_id, submitter_name = self.submitter(first)
        xml = 1 if sub.envelope == "odk" else 0
        return [
            timestamp(first.created_at) or "",
            *table.spread(values),
            first.instance_id,
            submitter_id,
            submitter_name,
            str(max(sub.received_parts - xml, 0)),
            str(max(sub.expected_parts - xml, 0)),
            "",
            first.review_state or "",
            sub.device_id or "",
            str(self.versions.edit_count(sub)),
            entry.document.get("version", ""),
        ]

    def entries(self, progress: Progress | None) -> Iterator[Entry]:
        """The form's current submissions, one at a time, in batches of ``EXPORT_BATCH`` read
        with one query and their subjects resolved with one more (progress after each).

        Each record is decoded only when its turn comes: the writer is done with it before
        the next is decoded, so only one decoded record is alive at a time. A whole batch of
        them would no longer fit in the CPU's caches: decoding 100 together was measured
        1.6-1.8 times slower.
        """
        for rows in self._batches():
            self.renderer.prefetch_text([row.record_data for row in rows])
            self.versions.load(rows)
            for row in rows:
                yield decoded(row)
            self.summary.exported += len(rows)
            if progress:
                progress(self.summary.exported)

    def _batches(self) -> Iterator[Sequence[Any]]:
        # One row per logical submission: an edited one appears as its current version.
        return stored_rows(
            self.session,
            self.form,
            batch=EXPORT_BATCH,
            where=[Submission.current.is_(True), *self.where],
            columns=EXPORT_COLUMNS,
            draft=self.draft,
        )

    def _walk(self) -> Iterator[Entry]:
        """The entries, decoded, without rendering or counting them."""
        for rows in self._batches():
            for row in rows:
                yield decoded(row)


def begin(
    session: Session,
    form: Form,
    actor: Actor,
    viewer: Viewer,
    profile: str,
    reason: str,
    k: int,
    odata_filter: str | None = None,
    *,
    group_paths: bool = True,
    split_select_multiples: bool = False,
    deleted_fields: bool = False,
    draft: FormVersion | None = None,
    **details: Any,
) -> Run:
    """Authorise and audit an export (``details`` go into its ``export.start`` entry), and
    set up its run: the form model, the renderer for the viewer, the summary's intake side.

    ``odata_filter`` (an OData ``$filter`` on submission metadata) narrows what is exported;
    it is read before anything else, so a bad one changes nothing. The intake side of the
    summary still counts the whole form, so that what was left out shows. With
    ``deleted_fields``, the fields earlier versions had and the current one does not are
    exported too (``model_of``). With a ``draft``, its test submissions are exported, in its
    own columns (``deleted_fields`` does not apply: every test is of the draft).
    """
    where = [] if odata_filter is None else export_filter(odata_filter)
    _authorise(session, actor, form, profile, reason)
    if draft is not None:
        model, deleted_fields = model_of(session, form, draft.id), False
        details["draft"] = True
    else:
        model = model_of(session, form, deleted_fields=deleted_fields)
    summary = Summary(
        form.xml_form_id, profile, k=k, filtered=odata_filter is not None, draft=draft is not None
    )
    if deleted_fields:
        current = model_of(session, form)
        summary.deleted_columns = [
            header_of(model, f.path)
            for f in model.fields
            if not current.has_field(f.path) and exported(f)
        ]
        details["deleted_fields"] = True
    scope = None if draft is None else draft.id
    reconcile(session, form, summary, scope)
    summary.withheld_columns = (
        []
        if viewer.sensitive
        else [
            header_of(model, f.path)
            for f in model.fields
            if f.pii is not None and f.pii.kind == PIIKind.SENSITIVE
        ]
    )
    summary.quasi_columns = [
        header_of(model, f.path)
        for f in model.fields_in(None)
        if f.pii is not None and f.pii.kind == PIIKind.QUASI
    ]
    audit.record(
        session,
        actor,
        "export.start",
        project_id=form.project_id,
        subject=form.xml_form_id,
        profile=profile,
        reason=reason or None,
        # Whether, not what: the filter's literals are free text.
        **({"filtered": True} if odata_filter is not None else {}),
        **details,
    )
    session.commit()
    renderer = Renderer(session, form.project_id, viewer)
    return Run(
        session, form, model, renderer, summary, where, group_paths, split_select_multiples, scope
    )


@contextmanager
def settled_heap() -> Iterator[None]:
    """Keep the objects alive before an export out of the cyclic collector's full passes.

    An export allocates millions of short-lived containers (decoded records, rows), which
    trigger full collections; each would walk every object the process already holds (the
    ORM's metadata, the app) although none of them becomes garbage meanwhile. Freezing them
    for the export's duration takes a third off an export's time; it is process-wide but only
    defers collecting what was already there, and unfreezing puts it back.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def finish(writer: Run) -> dict[str, Any]:
    """The run's summary, with the k-anonymity figures of what it wrote."""
    rare = {combo: n for combo, n in writer.quasi.items() if n < writer.summary.k}
    if writer.summary.quasi_columns:
        writer.summary.rare_quasi_combinations = len(rare)
        writer.summary.rare_quasi_rows = sum(rare.values())
    return writer.summary.as_dict()
