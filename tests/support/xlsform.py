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


PROFILE = """
| survey   |
|          | type     | name          | label           | pii        | pii_rule |
|          | text     | full_name     | Full name       | identifier | name     |
|          | text     | phone         | Phone           | identifier | phone    |
|          | text     | passport_no   | Passport number | identifier | document |
|          | date     | dob           | Date of birth   | quasi      | year     |
|          | geopoint | location      | Location        | quasi      | round:2  |
|          | text     | narrative     | Narrative       | sensitive  |          |
|          | text     | officer_notes | Officer notes   | drop       |          |
|          | integer  | group_size    | Group size      |            |          |
|          | begin_repeat | household | Household       |            |          |
|          | text     | member_name   | Member name     | identifier | name     |
|          | integer  | member_age    | Member age      | quasi      | band:5   |
|          | end_repeat |             |                 |            |          |
|          | image    | document_photo | Document photo | sensitive  |          |
|          | image    | scratch_photo | Scratch photo   | drop       |          |
| settings |
|          | form_id | version    | form_title |
|          | profile | 2026112301 | Profile    |
"""


#: A registration form: each submission creates a household entity; the name stays out.
HH_REGISTRATION = """
| survey   |
|          | type    | name      | label          | pii        | pii_rule | save_to   |
|          | text    | full_name | Full name      | identifier | name     |           |
|          | text    | village   | Village        |            |          | village   |
|          | date    | dob       | Date of birth  | quasi      | year     | born      |
|          | integer | household | Household size |            |          | hh_size   |
| entities |
|          | list_name  | label                         |
|          | households | concat('HH ', ${village})     |
| settings |
|          | form_id  | version |
|          | hh_reg   | 1       |
"""

#: A follow-up form: each submission updates the household chosen from the list.
HH_VISIT = """
| survey   |
|          | type                            | name         | label          | save_to |
|          | select_one_from_file households.csv | household_id | Household |         |
|          | text                            | status       | Status         | status  |
|          | integer                         | household    | Household size | hh_size |
| entities |
|          | list_name  | entity_id       |
|          | households | ${household_id} |
| settings |
|          | form_id  | version |
|          | hh_visit | 1       |
"""
