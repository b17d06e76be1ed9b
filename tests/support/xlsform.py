"""Write small XLSForms for tests from markdown tables (pyxform's habit), as real .xlsx files."""

from __future__ import annotations

import io

from openpyxl import Workbook


def md_to_xlsx(md: str) -> bytes:
    """Turn ``| sheet | col | …`` markdown tables into the bytes of an .xlsx workbook.

    A line whose first cell is not empty starts a sheet; the next row is its header.
    """
    book = Workbook()
    assert book.active is not None
    book.remove(book.active)
    sheet = None
    for line in md.strip().splitlines():
        line = line.strip()
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0]:
            sheet = book.create_sheet(cells[0])
            continue
        assert sheet is not None, "a table row before any sheet name"
        sheet.append([c if c else None for c in cells[1:]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


FIELD_VISIT = """
| survey   |
|          | type    | name      | label         | pii        | pii_rule |
|          | text    | full_name | Full name     | identifier |          |
|          | integer | age       | Age           | quasi      | band:5   |
|          | text    | story     | Story         | sensitive  |          |
|          | begin_repeat | member | Member      |            |          |
|          | text    | member_name | Member name | identifier |          |
|          | end_repeat |        |               |            |          |
|          | image   | photo     | Photo         | sensitive  |          |
| settings |
|          | form_id     | version    | form_title  |
|          | field_visit | 2026112301 | Field visit |
"""
