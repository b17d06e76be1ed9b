"""XLSForms written as markdown tables (pyxform's test habit), turned into real .xlsx files."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from openpyxl import Workbook


def md_sheets(md: str) -> dict[str, list[list[str]]]:
    """Read a markdown-table XLSForm: a row '| name |' opens a sheet, '|  | a | b |' adds a row."""
    sheets: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for line in md.strip().splitlines():
        line = line.strip()
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0]:
            current = sheets.setdefault(cells[0], [])
        elif current is not None:
            current.append(cells[1:])
    return sheets


def md_to_xlsx_bytes(md: str) -> bytes:
    """Turn a markdown-table XLSForm into the bytes of a real .xlsx workbook."""
    book = Workbook()
    assert book.active is not None
    book.remove(book.active)
    for name, rows in md_sheets(md).items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append([cell or None for cell in row])
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def md_to_xlsx(md: str, path: Path) -> Path:
    """Write a markdown-table XLSForm as an .xlsx file and return its path."""
    path.write_bytes(md_to_xlsx_bytes(md))
    return path
