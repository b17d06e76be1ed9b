"""Excel export: one worksheet per table (the root, then each repeat), and the summary.

For a data manager who takes the data away in a workbook rather than through an OData feed:
the same rows, headers, join keys and PII treatment as the CSV zip (``collector.export``),
written by openpyxl in write-only mode, so memory stays flat whatever the row count.

- Text stays text: an answer that starts with ``=`` is written as a string cell, never as a
  formula, so a hostile submission cannot make a spreadsheet compute or fetch anything.
  Characters that XML cannot carry (control characters) are removed.
- Answers of integer and decimal questions are numbers where they read as one exactly (an
  integer with a leading zero, a pseudonym or an age band stays text).
- A worksheet holds at most Excel's 1,048,576 rows; a longer table goes on in "<name> (2)".
- A cell holds at most 32,767 characters; a longer answer is cut there, and the summary counts
  such cells (``xlsx_cells_truncated``).
- No files: a workbook cannot carry them (the CSV zip does).
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet._writer import ALL_TEMP_FILES, WorksheetWriter
from sqlalchemy.orm import Session

from collector import exportrun
from collector.audit import Actor
from collector.dataset import Table, Viewer
from collector.models import Form, FormVersion

#: Excel's limits: rows per worksheet (the header row included), characters per cell and
#: per worksheet name.
MAX_ROWS = 1_048_576
MAX_CELL = 32_767
MAX_TITLE = 31
SUMMARY_SHEET = "summary"
_BAD_TITLE = re.compile(r"[\[\]:*?/\\']")
_INTEGER = re.compile(r"-?(0|[1-9][0-9]{0,17})")
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")

Convert = Callable[[Any], Any]


def write_xlsx(
    out: IO[bytes],
    session: Session,
    form: Form,
    *,
    actor: Actor,
    viewer: Viewer,
    profile: str = "pseudonymised",
    reason: str = "",
    k: int = exportrun.K_DEFAULT,
    progress: exportrun.Progress | None = None,
    rows_per_sheet: int = MAX_ROWS,
    odata_filter: str | None = None,
    group_paths: bool = True,
    split_select_multiples: bool = False,
    deleted_fields: bool = False,
    draft: FormVersion | None = None,
) -> dict[str, Any]:
    """Write a workbook of a form's processed submissions into ``out``; return the summary."""
    with exportrun.settled_heap():
        run = exportrun.begin(
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
            format="xlsx",
        )
        with _Book() as book:
            return _write(out, book, form, run, progress, max(rows_per_sheet, 2))


def _write(
    out: IO[bytes],
    book: Workbook,
    form: Form,
    run: exportrun.Run,
    progress: exportrun.Progress | None,
    limit: int,
) -> dict[str, Any]:
    cells = _Cells()
    tables = run.tables
    root, repeats = tables[0], tables[1:]
    system, trailer = exportrun.SYSTEM_HEADERS, exportrun.TRAILER_HEADERS
    header = [*system, *root.headers, *trailer]
    root_sheet = _Sheet(book, form.xml_form_id, header, limit)
    root_convert: list[Convert] = [str, *_converters(root), *([str] * len(trailer))]
    repeat_sheets: list[tuple[Table, _Sheet, list[Convert]]] = []
    for table in repeats:
        header = [*table.headers, "PARENT_KEY", "KEY"]
        sheet = _Sheet(book, table.name.split(".")[-1], header, limit)
        repeat_sheets.append((table, sheet, [*_converters(table), str, str]))
    for entry in run.entries(progress):
        root_sheet.append(cells.row(root_sheet, run.root_row(root, entry), root_convert))
        for table, sheet, convert in repeat_sheets:
            for row in run.repeat_rows(table, entry):
                sheet.append(cells.row(sheet, row, convert))
    summary = exportrun.finish(run)
    summary["xlsx_cells_truncated"] = cells.truncated
    info = book.create_sheet(SUMMARY_SHEET)
    for key, value in summary.items():
        shown = value if isinstance(value, int | str) else json.dumps(value, ensure_ascii=False)
        info.append([key, cells.text(info, shown) if isinstance(shown, str) else shown])
    book.save(out)
    return summary


class _Book(Workbook):  # type: ignore[misc]
    """A write-only workbook that keeps its worksheets in a private directory, gone at the end.

    openpyxl's write-only mode writes each worksheet's XML (a re-identified export's plaintext)
    to a temporary file, listed in its ``ALL_TEMP_FILES``, and removes it once saved into the
    workbook, or at process exit: an export that fails would leave it until then. Here those
    files are in a 0700 directory of this export, removed with their entries whatever happens
    (another export's files, or openpyxl's own, are not touched).
    """

    def __init__(self) -> None:
        super().__init__(write_only=True)
        self.scratch = Path(tempfile.mkdtemp(prefix="collector-xlsx-"))
        self.files: list[str] = []

    def create_sheet(self, title: str | None = None, index: int | None = None) -> Any:
        sheet = super().create_sheet(title, index)
        name = str(self.scratch / f"sheet{len(self.files) + 1}.xml")
        self.files.append(name)
        ALL_TEMP_FILES.append(name)  # openpyxl's save removes the file and this entry.
        # What WriteOnlyWorksheet._get_writer does on the first row, with this file.
        sheet._writer = WorksheetWriter(sheet, out=name)
        sheet._writer.write_top()
        return sheet

    def __enter__(self) -> _Book:
        return self

    def __exit__(self, *_exc: object) -> None:
        for sheet in self.worksheets:
            if not sheet.closed:
                # Ends its XML streams (which would otherwise end, later, on a removed file).
                with contextlib.suppress(Exception):
                    sheet.close()
        for name in self.files:
            with contextlib.suppress(ValueError):
                ALL_TEMP_FILES.remove(name)
        shutil.rmtree(self.scratch, ignore_errors=True)


def _converters(table: Table) -> list[Convert]:
    """How each column's values become cells: numbers for integer and decimal questions."""
    kinds: dict[str, Convert] = {"int": _integer, "decimal": _decimal}
    out: list[Convert] = []
    for c in table.columns:
        # A geopoint's four parts are numbers.
        out += [_decimal] * 4 if c.field.type == "geopoint" else [kinds.get(c.field.type, str)]
    return out


def _integer(value: str) -> int | str:
    text = value.strip()
    return int(text) if _INTEGER.fullmatch(text) else value


def _decimal(value: str) -> float | str:
    text = value.strip()
    return float(text) if _DECIMAL.fullmatch(text) else value


class _Sheet:
    """A table's worksheet; one that reaches the row limit goes on in a new worksheet."""

    def __init__(self, book: Workbook, name: str, header: Sequence[str], limit: int):
        self.book, self.name, self.header, self.limit = book, _title(name), list(header), limit
        self.part = 0
        self.rows = 0
        self.sheet = self._next()

    def _next(self) -> WriteOnlyWorksheet:
        self.part += 1
        suffix = "" if self.part == 1 else f" ({self.part})"
        sheet: WriteOnlyWorksheet = self.book.create_sheet(
            self.name[: MAX_TITLE - len(suffix)] + suffix
        )
        sheet.append(self.header)
        self.rows = 1
        return sheet

    def append(self, cells: list[Any]) -> None:
        if self.rows >= self.limit:
            self.sheet = self._next()
        self.sheet.append(cells)
        self.rows += 1


def _title(name: str) -> str:
    cleaned = _BAD_TITLE.sub("_", name).strip() or "table"
    # Excel keeps SUMMARY_SHEET's name for the summary (names compare case-blind).
    if cleaned.lower() == SUMMARY_SHEET:
        cleaned += "_"
    return cleaned[:MAX_TITLE]


class _Cells:
    """Turns exported values into cells, counting the answers cut at Excel's cell limit."""

    def __init__(self) -> None:
        self.truncated = 0

    def row(self, sheet: _Sheet, values: Sequence[Any], convert: Sequence[Convert]) -> list[Any]:
        out: list[Any] = []
        for value, to_cell in zip(values, convert, strict=True):
            if value is None or value == "":
                out.append(None)
                continue
            cell = to_cell(value)
            out.append(self.text(sheet.sheet, cell) if isinstance(cell, str) else cell)
        return out

    def text(self, sheet: WriteOnlyWorksheet, value: str) -> Any:
        """A string cell's value: cleaned, cut to the limit, and never a formula."""
        if ILLEGAL_CHARACTERS_RE.search(value):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
        if len(value) > MAX_CELL:
            value = value[:MAX_CELL]
            self.truncated += 1
        if not value.startswith("="):
            return value
        # openpyxl reads a string that starts with '=' as a formula: say it is text.
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
