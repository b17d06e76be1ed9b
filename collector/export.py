"""Exports: CSV zip (Central's layout: root CSV + one CSV per repeat) and JSON Lines.

Both stream: records are read in batches and written as they come; repeat rows wait in
temporary files until the root CSV is done, because a zip holds one entry at a time. Every
export ends with the run's reconciliation summary (``collector.exportrun``).

The CSV zip also carries the submissions' decrypted files under ``media/``, as Central's does
(``attachments=False`` leaves them out). A file goes in only where the export shows its name:
its question has no PII rule, or it is sensitive and the viewer may see sensitive values, or it
is an identifier and the export is re-identified. Any other stored file is counted as withheld;
a pseudonymised export never carries the file behind a pseudonym.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import tempfile
import time
import zipfile
from collections.abc import Callable
from functools import partial
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import vault
from collector.audit import Actor
from collector.dataset import Entry, Table, Viewer
from collector.export_xlsx import write_xlsx
from collector.exportrun import (
    EXPORT_BATCH,
    K_DEFAULT,
    SYSTEM_HEADERS,
    TRAILER_HEADERS,
    Progress,
    Run,
    begin,
    finish,
    settled_heap,
)
from collector.models import Form, FormVersion, SubmissionMedia
from collector.odata.rows import timestamp

log = logging.getLogger(__name__)

MEDIA_DIR = "media"


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
    odata_filter: str | None = None,
    group_paths: bool = True,
    split_select_multiples: bool = False,
    deleted_fields: bool = False,
    draft: FormVersion | None = None,
) -> dict[str, Any]:
    """Stream a CSV zip of a form's processed submissions into ``out``; return the summary.

    With ``attachments``, the decrypted files the viewer may have go in under ``media/``;
    ``odata_filter`` keeps the submissions it matches (``exportrun.begin``); without
    ``group_paths`` a column is headed by its field's name alone; with
    ``split_select_multiples`` each value of a select-multiple field gets a 1/0 column; with
    ``deleted_fields`` the fields only earlier versions have get columns too (all three as
    Central's options). With a ``draft``, its test submissions instead (``begin``).
    """
    if attachments and viewer.secrets is None:
        raise ValueError("an export with attachments needs the viewer's secrets to open them")
    with settled_heap():
        writer = begin(
            session,
            form,
            actor,
            viewer,
            profile,
            reason,
            k,
            odata_filter,
            group_paths=group_paths,
            split_select_multiples=split_select_multiples,
            deleted_fields=deleted_fields,
            draft=draft,
            attachments=attachments,
        )
        return _write_csv_zip(out, form, writer, progress, attachments)


def _write_csv_zip(
    out: IO[bytes], form: Form, writer: Run, progress: Progress | None, attachments: bool
) -> dict[str, Any]:
    tables = writer.tables
    root, repeats = tables[0], tables[1:]
    spools = {t.name: _spool(t) for t in repeats}
    # The files to carry, as (submission id, instanceID, name) lines: memory stays flat.
    carried = tempfile.TemporaryFile(mode="w+", encoding="utf-8", newline="")
    # Level 1: most of deflate's gain on CSV text for a fraction of the default's time.
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open(f"{form.xml_form_id}.csv", "w") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            rows = csv.writer(text)
            rows.writerow([*SYSTEM_HEADERS, *root.headers, *TRAILER_HEADERS])
            for entry in writer.entries(progress):
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
    out.writerow([*table.headers, "PARENT_KEY", "KEY"])
    return handle, out


def _repeat_rows(writer: Run, repeats: list[Table], spools: dict[str, Any], entry: Entry) -> None:
    for table in repeats:
        spools[table.name][1].writerows(writer.repeat_rows(table, entry))


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
            carried.write(json.dumps([sub.id, writer.key(sub), name]) + "\n")
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
    odata_filter: str | None = None,
    deleted_fields: bool = False,
    draft: FormVersion | None = None,
) -> dict[str, Any]:
    """Stream one JSON object per processed submission; the summary is the last line."""
    with settled_heap():
        writer = begin(
            session,
            form,
            actor,
            viewer,
            profile,
            reason,
            k,
            odata_filter,
            deleted_fields=deleted_fields,
            draft=draft,
        )
        return _write_jsonl(out, writer, progress)


def _write_jsonl(out: IO[bytes], writer: Run, progress: Progress | None) -> dict[str, Any]:
    tables = writer.tables
    for entry in writer.entries(progress):
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
    rekey = writer.rekey(sub)
    row: dict[str, Any] = {
        "__id": writer.key(sub),
        "__system": {
            "submissionDate": timestamp(writer.versions.first(sub).created_at),
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
            | (
                {"__id": r.get("key"), "__parent": r.get("parent")}
                if rekey is None
                else {"__id": rekey(r.get("key")), "__parent": rekey(r.get("parent"))}
            )
            for r in stored.get(table.repeat, [])
        ]
    return row


#: The formats an export is written in, by the name the command line gives them.
FORMATS = ("csv.zip", "jsonl", "xlsx")


def writer_for(
    fmt: str,
    *,
    attachments: bool = True,
    group_paths: bool = True,
    split_select_multiples: bool = False,
    deleted_fields: bool = False,
) -> Callable[..., dict[str, Any]]:
    """The writer of a format (``FORMATS``) with Central's export options applied, each where
    the format has it; it takes what every writer takes (out, session, form, actor, ...)."""
    if fmt not in FORMATS:
        raise ValueError(f"no export format {fmt!r}")
    if fmt == "jsonl":
        return partial(write_jsonl, deleted_fields=deleted_fields)
    tables = write_xlsx if fmt == "xlsx" else partial(write_csv_zip, attachments=attachments)
    return partial(
        tables,
        group_paths=group_paths,
        split_select_multiples=split_select_multiples,
        deleted_fields=deleted_fields,
    )
