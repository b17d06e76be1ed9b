"""Write the shipped .xlsx surveys from their Python source (run as a module to regenerate)."""

from __future__ import annotations

import re
import sys
import zipfile
from io import BytesIO
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from forms.surveys._source import capacity_needs, migration_profile
from forms.surveys._source.dsl import LANGUAGES, C, Q, Survey

SURVEYS_DIR = Path(__file__).resolve().parent.parent
SOURCES = {"capacity_needs": capacity_needs.SURVEY, "migration_profile": migration_profile.SURVEY}
TRANSLATED = ("label", "hint", "required_message", "constraint_message")
PLAIN = (
    "required", "relevant", "constraint", "appearance", "choice_filter", "calculation",
    "default", "repeat_count", "parameters", "read_only", "pii", "pii_rule",
)  # fmt: skip
#: A fixed time for every part of the file, so regenerating unchanged sources changes nothing.
FIXED_TIME = (2026, 1, 1, 0, 0, 0)
_STAMP = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def survey_columns(rows: list[Q]) -> list[str]:
    """Return the survey sheet's headers: only the columns some row uses."""
    headers = ["type", "name"]
    for column in TRANSLATED[:2]:
        if any(getattr(r, column) for r in rows):
            headers += [f"{column}::{name}" for _, name in LANGUAGES]
    for column in PLAIN[:1]:
        if any(getattr(r, column) for r in rows):
            headers.append(column)
    if any(r.required_message for r in rows):
        headers += [f"required_message::{name}" for _, name in LANGUAGES]
    for column in PLAIN[1:3]:
        if any(getattr(r, column) for r in rows):
            headers.append(column)
    if any(r.constraint_message for r in rows):
        headers += [f"constraint_message::{name}" for _, name in LANGUAGES]
    headers += [c for c in PLAIN[3:] if any(getattr(r, c) for r in rows)]
    return headers


def survey_cell(row: Q, header: str) -> str:
    """Return one cell of a survey row."""
    column, _, language = header.partition("::")
    value = getattr(row, column)
    if language:
        return value.by_language()[language] if value else ""
    if isinstance(value, bool):
        return "yes" if value else ""
    return str(value)


def choice_rows(items: list[C]) -> list[list[str]]:
    """Return the choices sheet, headers first."""
    extra: list[str] = []
    for item in items:
        extra += [k for k in item.extra if k not in extra]
    headers = ["list_name", "name", *(f"label::{n}" for _, n in LANGUAGES), *extra]
    body = [
        [c.list_name, c.name, *c.label.by_language().values(), *(c.extra.get(k, "") for k in extra)]
        for c in items
    ]
    return [headers, *body]


def workbook_of(survey: Survey) -> Workbook:
    """Lay a survey out as an XLSForm workbook."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "survey"
    headers = survey_columns(survey.survey)
    sheet.append(headers)
    for row in survey.survey:
        sheet.append([survey_cell(row, h) for h in headers])
    choices = book.create_sheet("choices")
    for values in choice_rows(survey.choices):
        choices.append(values)
    settings = book.create_sheet("settings")
    settings.append(list(survey.settings))
    settings.append(list(survey.settings.values()))
    for ws in book.worksheets:
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
        for column in ws.columns:
            ws.column_dimensions[column[0].column_letter].width = 24
            for cell in column[1:]:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    return book


def xlsx_bytes(survey: Survey) -> bytes:
    """Return the survey as .xlsx bytes with fixed timestamps."""
    raw = BytesIO()
    workbook_of(survey).save(raw)
    fixed = BytesIO()
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(fixed, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = _STAMP.sub(rb"\g<1>2026-01-01T00:00:00Z\g<2>", data)
            out.writestr(zipfile.ZipInfo(info.filename, FIXED_TIME), data, zipfile.ZIP_DEFLATED)
    return fixed.getvalue()


def main(target: Path = SURVEYS_DIR) -> list[Path]:
    """Write every shipped survey's .xlsx into the target folder."""
    written = []
    for name, survey in SOURCES.items():
        path = target / f"{name}.xlsx"
        path.write_bytes(xlsx_bytes(survey))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in main(Path(sys.argv[1]) if len(sys.argv) > 1 else SURVEYS_DIR):
        print(path)
