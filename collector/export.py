"""Exports: CSV zip (Central's layout: root CSV + one CSV per repeat) and JSON Lines.

Both stream: records are read in batches and written as they come; repeat rows wait in
spooled temporary files (memory up to a bound, then disk) until the root CSV is done, because a
zip holds one entry at a time. Every export ends with a reconciliation summary: how many
submissions were received, processed and failed (by reason), how many signatures failed, which
sensitive columns were withheld, and quasi-identifier combinations rarer than k.

The CSV zip also carries the submissions' decrypted files under ``media/``, as Central's does
(``attachments=False`` leaves them out). A file goes in only where the export shows its name:
its question has no PII rule, or it is sensitive and the viewer may see sensitive values, or it
is an identifier and the export is re-identified. Any other stored file is counted as withheld;
a pseudonymised export never carries the file behind a pseudonym.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import logging
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector import audit, vault
from collector.audit import Actor
from collector.dataset import (
    Entry,
    Renderer,
    Table,
    Viewer,
    entries,
    header_of,
    model_of,
    tables_for,
)
from collector.errors import Forbidden, InvalidInput
from collector.models import AppUser, Form, Submission, SubmissionMedia
from forms.model import FormModel
from forms.policy import PIIKind

log = logging.getLogger(__name__)

EXPORT_BATCH = 100
MEDIA_DIR = "media"
K_DEFAULT = 5
SYSTEM_HEADERS = ("SubmissionDate",)
TRAILER_HEADERS = (
    "KEY",
    "SubmitterID",
    "SubmitterName",
    "Status",
    "ReviewState",
    "DeviceID",
    "FormVersion",
)
Progress = Callable[[int], None]


@dataclass
class Summary:
    """The reconciliation summary written with every export."""

    form_id: str
    profile: str
    exported: int = 0
    received: int = 0
    processed: int = 0
    failed: dict[str, int] = field(default_factory=dict)
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


def reconcile(session: Session, form: Form, summary: Summary) -> None:
    """Fill in the intake side of the summary from the submissions table."""
    rows = session.execute(
        select(Submission.state, Submission.reason, func.count())
        .where(Submission.form_id == form.id)
        .group_by(Submission.state, Submission.reason)
    ).all()
    for state, reason, count in rows:
        summary.received += count
        if state == "processed":
            summary.processed += count
        elif state == "failed":
            key = reason or "unknown"
            summary.failed[key] = summary.failed.get(key, 0) + count
    summary.signature_invalid = int(
        session.scalar(
            select(func.count()).where(
                Submission.form_id == form.id, Submission.signature == "invalid"
            )
        )
        or 0
    )


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
    names: dict[int, str] = field(default_factory=dict)
    quasi: Counter[tuple[str | None, ...]] = field(default_factory=Counter)

    _paths: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _files: dict[str, tuple[str, ...]] = field(default_factory=dict)
    quasi_at: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        root = tables_for(self.model)[0]
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

    def submitter(self, user_id: int | None) -> str:
        if user_id is None:
            return ""
        if user_id not in self.names:
            user = self.session.get(AppUser, user_id)
            self.names[user_id] = user.display_name if user else ""
        return self.names[user_id]

    def root_row(self, table: Table, entry: Entry) -> list[str | None]:
        sub = entry.submission
        values = self.renderer.pick(entry.document.get("root", {}), self.paths(table))
        self.count_quasi(values)
        return [
            sub.created_at.isoformat(),
            *values,
            sub.instance_id,
            str(sub.submitter_id or ""),
            self.submitter(sub.submitter_id),
            "",
            sub.review_state or "",
            sub.device_id or "",
            entry.document.get("version", ""),
        ]

    def batches(self, progress: Progress | None) -> Iterator[list[Entry]]:
        # One row per logical submission: an edited one appears as its current version.
        for batch in entries(
            self.session, self.form, batch=EXPORT_BATCH, where=[Submission.current.is_(True)]
        ):
            self.renderer.prefetch([e.document for e in batch])
            yield batch
            self.summary.exported += len(batch)
            if progress:
                progress(self.summary.exported)


def begin(
    session: Session,
    form: Form,
    actor: Actor,
    viewer: Viewer,
    profile: str,
    reason: str,
    k: int,
    **details: Any,
) -> Run:
    """Authorise and audit an export (``details`` go into its ``export.start`` entry), and
    set up its run: the form model, the renderer for the viewer, the summary's intake side."""
    _authorise(session, actor, form, profile, reason)
    model = model_of(session, form)
    summary = Summary(form.xml_form_id, profile, k=k)
    reconcile(session, form, summary)
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
        **details,
    )
    session.commit()
    return Run(session, form, model, Renderer(session, form.project_id, viewer), summary)


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


def write_csv_zip(
    out: IO[bytes],
    session: Session,
    form: Form,
    *,
    actor: Actor,
    viewer: Viewer,
    profile: str = "pseudonymised",
    reason: str = "",
    k: int = K_DEFAULT,
    progress: Progress | None = None,
    attachments: bool = True,
) -> dict[str, Any]:
    """Stream a CSV zip of a form's processed submissions into ``out``; return the summary.

    With ``attachments``, the decrypted files the viewer may have go in under ``media/``.
    """
    if attachments and viewer.secrets is None:
        raise ValueError("an export with attachments needs the viewer's secrets to open them")
    with settled_heap():
        writer = begin(session, form, actor, viewer, profile, reason, k, attachments=attachments)
        return _write_csv_zip(out, form, writer, progress, attachments)


def _write_csv_zip(
    out: IO[bytes], form: Form, writer: Run, progress: Progress | None, attachments: bool
) -> dict[str, Any]:
    tables = tables_for(writer.model)
    root, repeats = tables[0], tables[1:]
    spools = {t.name: _spool(t) for t in repeats}
    # The files to carry, as (submission id, instanceID, name) lines: memory stays flat.
    carried = tempfile.TemporaryFile(mode="w+", encoding="utf-8", newline="")
    # Level 1: most of deflate's gain on CSV text for a fraction of the default's time.
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open(f"{form.xml_form_id}.csv", "w") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            rows = csv.writer(text)
            rows.writerow([*SYSTEM_HEADERS, *(c.header for c in root.columns), *TRAILER_HEADERS])
            for batch in writer.batches(progress):
                for entry in batch:
                    rows.writerow(writer.root_row(root, entry))
                    _repeat_rows(writer, repeats, spools, entry)
                    if attachments and entry.document.get("media"):
                        _note_media(writer, tables, entry, carried)
            text.flush()
            text.detach()
        for table in repeats:
            _copy_spool(archive, form, table, spools[table.name])
        with carried:
            _copy_media(archive, writer, carried)
        summary = finish(writer)
        archive.writestr("summary.json", json.dumps(summary, indent=2, ensure_ascii=False))
    return summary


def _spool(table: Table) -> tuple[IO[str], Any]:
    # A plain temporary file: its writes stay in C (a spooled one checks its size in Python
    # on every row), and the OS page cache keeps small exports in memory anyway.
    handle = tempfile.TemporaryFile(mode="w+", encoding="utf-8", newline="")
    out = csv.writer(handle)
    out.writerow([*(c.header for c in table.columns), "PARENT_KEY", "KEY"])
    return handle, out


def _repeat_rows(writer: Run, repeats: list[Table], spools: dict[str, Any], entry: Entry) -> None:
    stored = entry.document.get("repeats", {})
    pick = writer.renderer.pick
    for table in repeats:
        paths = writer.paths(table)
        spools[table.name][1].writerows(
            [*pick(row.get("values", {}), paths), row.get("parent"), row.get("key")]
            for row in stored.get(table.repeat, ())
        )


def _copy_spool(archive: zipfile.ZipFile, form: Form, table: Table, spool: Any) -> None:
    handle = spool[0]
    handle.seek(0)
    name = f"{form.xml_form_id}-{table.name.split('.')[-1]}.csv"
    with archive.open(name, "w") as raw:
        while chunk := handle.read(1024 * 1024):
            raw.write(chunk.encode("utf-8"))
    handle.close()


def _note_media(writer: Run, tables: list[Table], entry: Entry, carried: IO[str]) -> None:
    """Note the entry's stored files this export shows by name; count the others withheld."""
    shown = writer.shown_files(tables, entry)
    sub = entry.submission
    for name in entry.document["media"]:
        if name in shown:
            carried.write(json.dumps([sub.id, sub.instance_id, name]) + "\n")
            writer.summary.media_files += 1
        else:
            writer.summary.media_withheld += 1


def _copy_media(archive: zipfile.ZipFile, writer: Run, carried: IO[str]) -> None:
    """Open each noted file and store it as ``media/<name>`` (already compressed formats, as
    a rule: stored, not deflated), a batch of submissions' files per query."""
    carried.seek(0)
    secrets = writer.renderer.viewer.secrets
    assert secrets is not None
    project_id, session = writer.form.project_id, writer.session
    taken: set[str] = set()
    stamp = time.localtime()[:6]
    while lines := [line for _ in range(EXPORT_BATCH) if (line := carried.readline())]:
        wanted = [json.loads(line) for line in lines]
        found = {
            (row.submission_id, row.name): row
            for row in session.execute(
                select(
                    SubmissionMedia.submission_id,
                    SubmissionMedia.name,
                    SubmissionMedia.key_version,
                    SubmissionMedia.sealed,
                ).where(SubmissionMedia.submission_id.in_({sid for sid, _i, _n in wanted}))
            )
        }
        for submission_id, instance_id, name in wanted:
            row = found.get((submission_id, name))
            if row is None:  # Gone since it was noted (the submission was deleted).
                writer.summary.media_files -= 1
                log.warning("submission %s: file %r is no longer stored", instance_id, name)
                continue
            data = vault.open_value(
                secrets, session, project_id, row.key_version, row.sealed, "media"
            )
            path = f"{MEDIA_DIR}/{_safe(name)}"
            if path in taken:
                path = f"{MEDIA_DIR}/{_safe(instance_id)}/{_safe(name)}"
                writer.summary.media_renamed.append(
                    {"instanceId": instance_id, "name": name, "path": path}
                )
            taken.add(path)
            info = zipfile.ZipInfo(path, date_time=stamp)
            info.compress_type = zipfile.ZIP_STORED
            archive.writestr(info, data)


def _safe(name: str) -> str:
    """A name as one path segment of the zip (intake refuses separators; this is a guard)."""
    cleaned = name.replace("/", "_").replace("\\", "_").replace(":", "_")
    return "_" if cleaned in ("", ".", "..") else cleaned


def write_jsonl(
    out: IO[bytes],
    session: Session,
    form: Form,
    *,
    actor: Actor,
    viewer: Viewer,
    profile: str = "pseudonymised",
    reason: str = "",
    k: int = K_DEFAULT,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Stream one JSON object per processed submission; the summary is the last line."""
    with settled_heap():
        writer = begin(session, form, actor, viewer, profile, reason, k)
        return _write_jsonl(out, writer, progress)


def _write_jsonl(out: IO[bytes], writer: Run, progress: Progress | None) -> dict[str, Any]:
    tables = tables_for(writer.model)
    for batch in writer.batches(progress):
        for entry in batch:
            line = json.dumps(_json_row(writer, tables, entry), ensure_ascii=False)
            out.write(line.encode() + b"\n")
    summary = finish(writer)
    out.write(json.dumps({"__summary": summary}, ensure_ascii=False).encode() + b"\n")
    return summary


def _json_row(writer: Run, tables: list[Table], entry: Entry) -> dict[str, Any]:
    sub = entry.submission
    root = tables[0]
    values = writer.renderer.pick(entry.document.get("root", {}), writer.paths(root))
    writer.count_quasi(values)
    row: dict[str, Any] = {
        "__id": sub.instance_id,
        "__system": {
            "submissionDate": sub.created_at.isoformat(),
            "submitterId": str(sub.submitter_id or ""),
            "formVersion": entry.document.get("version", ""),
        },
    }
    row |= dict(zip((c.header for c in root.columns), values, strict=True))
    stored = entry.document.get("repeats", {})
    for table in tables[1:]:
        headers = [c.header for c in table.columns]
        row[table.name.split(".", 1)[1]] = [
            dict(
                zip(
                    headers,
                    writer.renderer.pick(r.get("values", {}), writer.paths(table)),
                    strict=True,
                )
            )
            | {"__id": r.get("key"), "__parent": r.get("parent")}
            for r in stored.get(table.repeat, [])
        ]
    return row
