"""The project's lint rules, one XLSForm per rule, asserted with the ErrorCode templates."""

# ruff: noqa: E501 - XLSForms written as markdown tables keep one form row per line.

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from forms.check import check_xlsform
from forms.errors import ErrorCode, Finding

Form = Callable[[str], Path]

SETTINGS = """
| settings |
|          | form_id | version | default_language |
|          | lint    | 1       | English (en)     |
"""


def findings_of(xlsform: Form, md: str, settings: str = SETTINGS) -> list[Finding]:
    return check_xlsform(xlsform(md + settings))


def expect(code: ErrorCode, **context: object) -> tuple[ErrorCode, str]:
    return code, " ".join(code.format(**context).split())


def only(findings: list[Finding], *codes: ErrorCode) -> list[tuple[ErrorCode, str]]:
    return [(f.code, f.message) for f in findings if f.code in codes]


PII_CASES = [
    (
        "unknown pii value",
        "|  | text | nick | Nick | secret |  |",
        [expect(ErrorCode.PII_001, sheet="survey", row=2, value="secret")],
    ),
    (
        "quasi without rule",
        "|  | date | dob | Born | quasi |  |",
        [expect(ErrorCode.PII_002, sheet="survey", row=2)],
    ),
    (
        "quasi with an unknown rule",
        "|  | date | dob | Born | quasi | decade |",
        [expect(ErrorCode.PII_003, sheet="survey", row=2, value="decade")],
    ),
    (
        "band of zero",
        "|  | integer | age | Age | quasi | band:0 |",
        [expect(ErrorCode.PII_003, sheet="survey", row=2, value="band:0")],
    ),
    (
        "round beyond six digits",
        "|  | geopoint | gps | Where | quasi | round:9 |",
        [expect(ErrorCode.PII_003, sheet="survey", row=2, value="round:9")],
    ),
    (
        "rule without pii",
        "|  | integer | age | Age |  | band:5 |",
        [expect(ErrorCode.PII_004, sheet="survey", row=2, value="band:5")],
    ),
    (
        "rule on sensitive",
        "|  | text | story | Story | sensitive | year |",
        [
            expect(
                ErrorCode.PII_005,
                sheet="survey",
                row=2,
                value="year",
                kind="sensitive",
                allowed="'sensitive' takes no rule: remove it.",
            )
        ],
    ),
    (
        "unknown identifier type",
        "|  | text | full_name | Name | identifier | fingerprint |",
        [
            expect(
                ErrorCode.PII_005,
                sheet="survey",
                row=2,
                value="fingerprint",
                kind="identifier",
                allowed="For 'identifier' it names the identifier type: "
                "phone, document, name, email, text.",
            )
        ],
    ),
    (
        "pii on a note",
        "|  | note | intro | Hello | drop |  |",
        [expect(ErrorCode.PII_006, sheet="survey", row=2, type="note")],
    ),
    (
        "year on an integer",
        "|  | integer | age | Age | quasi | year |",
        [
            expect(
                ErrorCode.PII_007,
                sheet="survey",
                row=2,
                value="year",
                type="integer",
                fits="date, datetime, calculate, today, start, end",
            )
        ],
    ),
]


@pytest.mark.parametrize(("case", "row", "expected"), PII_CASES, ids=[c[0] for c in PII_CASES])
def test_pii_columns(xlsform: Form, case: str, row: str, expected: list[object]) -> None:
    md = "| survey |\n|  | type | name | label::English (en) | pii | pii_rule |\n" + row
    codes = [code for code, _ in expected]  # type: ignore[misc]
    assert only(findings_of(xlsform, md), *codes) == expected


def test_pii_group_row_is_refused(xlsform: Form) -> None:
    md = """
| survey |
|        | type        | name   | label::English (en) | pii        |
|        | begin_group | person | Person              | identifier |
|        | integer     | age    | Age                 |            |
|        | end_group   |        |                     |            |
"""
    assert only(findings_of(xlsform, md), ErrorCode.PII_006) == [
        expect(ErrorCode.PII_006, sheet="survey", row=2, type="begin group")
    ]


UNTAGGED = [
    ("full_name", "text", "a name"),
    ("surname", "text", "a name"),
    ("member_name", "calculate", "a name"),
    ("phone_number", "text", "a phone number"),
    ("mobile", "integer", "a phone number"),
    ("passport_no", "text", "a document number"),
    ("id_number", "integer", "a document number"),
    ("national_id", "text", "a document number"),
    ("document_number", "text", "a document number"),
    ("home_address", "text", "an address"),
    ("email", "text", "an e-mail address"),
    ("date_of_birth", "date", "a date of birth"),
    ("gps", "geopoint", "an exact location"),
    ("face", "image", "a photo or recording"),
]


@pytest.mark.parametrize(("name", "qtype", "reason"), UNTAGGED)
def test_untagged_identifier_is_caught(xlsform: Form, name: str, qtype: str, reason: str) -> None:
    md = f"""
| survey |
|        | type    | name   | label::English (en) | calculation |
|        | {qtype} | {name} | Question            | {"'x'" if qtype == "calculate" else ""} |
"""
    assert only(findings_of(xlsform, md), ErrorCode.PII_008, ErrorCode.PII_009) == [
        expect(ErrorCode.PII_008, sheet="survey", row=2, name=name, reason=reason)
    ]


def test_tagged_identifiers_and_non_identifying_names_pass(xlsform: Form) -> None:
    md = """
| survey |
|        | type              | name        | label::English (en) | pii        | pii_rule | constraint |
|        | text              | full_name   | Name                | identifier |          |            |
|        | select_one yes_no | has_phone   | Phone?              |            |          |            |
|        | text              | nationality_code | Code           |            |          | regex(., '^[A-Z]{3}$') |
|        | integer           | household_size | Size             |            |          |            |
|        | geopoint          | gps         | Where               | quasi      | round:2  |            |
| choices |
|         | list_name | name | label::English (en) |
|         | yes_no    | yes  | Yes                 |
|         | yes_no    | no   | No                  |
"""
    assert only(findings_of(xlsform, md), ErrorCode.PII_008, ErrorCode.PII_009) == []


def test_free_text_without_pii_is_caught(xlsform: Form) -> None:
    md = """
| survey |
|        | type | name  | label::English (en) | pii       |
|        | text | story | Story               |           |
|        | text | notes | Notes               | sensitive |
"""
    assert only(findings_of(xlsform, md), ErrorCode.PII_009) == [
        expect(ErrorCode.PII_009, sheet="survey", row=2, name="story")
    ]


def test_missing_translation_names_row_column_and_language(xlsform: Form) -> None:
    md = """
| survey |
|        | type    | name | label::English (en) | label::Türkçe (tr) | hint::English (en) | hint::Türkçe (tr) |
|        | integer | age  | Age                 | Yaş                | In years           |                   |
|        | integer | size | Size                |                    |                    |                   |
| choices |
|         | list_name | name | label::English (en) | label::Türkçe (tr) |
|         | yes_no    | yes  | Yes                 |                    |
"""
    assert only(findings_of(xlsform, md), ErrorCode.TRANS_001) == [
        expect(
            ErrorCode.TRANS_001,
            sheet="survey",
            row=2,
            column="hint",
            present="English (en)",
            missing="Türkçe (tr)",
        ),
        expect(
            ErrorCode.TRANS_001,
            sheet="survey",
            row=3,
            column="label",
            present="English (en)",
            missing="Türkçe (tr)",
        ),
        expect(
            ErrorCode.TRANS_001,
            sheet="choices",
            row=2,
            column="label",
            present="English (en)",
            missing="Türkçe (tr)",
        ),
    ]


def test_default_language_must_be_one_of_the_forms(xlsform: Form) -> None:
    md = "| survey |\n|  | type | name | label::English (en) |\n|  | integer | age | Age |\n"
    settings = (
        "| settings |\n|  | form_id | version | default_language |\n|  | f | 1 | Türkçe (tr) |"
    )
    assert only(findings_of(xlsform, md, settings), ErrorCode.SETTINGS_004) == [
        expect(ErrorCode.SETTINGS_004, value="Türkçe (tr)", languages="English (en)")
    ]


AGE_ONLY = "| survey |\n|  | type | name | label |\n|  | integer | age | Age |\n"

SETTINGS_CASES = [
    ("no version", "|  | form_id |\n|  | f |", [expect(ErrorCode.SETTINGS_001)]),
    ("no form_id", "|  | version |\n|  | 1 |", [expect(ErrorCode.SETTINGS_002, fallback="form0")]),
    (
        "bad form_id",
        "|  | form_id | version |\n|  | my form | 1 |",
        [expect(ErrorCode.SETTINGS_003, value="my form")],
    ),
    (
        "instanceID omitted",
        "|  | form_id | version | omit_instanceID |\n|  | f | 1 | yes |",
        [expect(ErrorCode.ENC_001)],
    ),
    (
        "instanceID overridden",
        "|  | form_id | version | instance_id |\n|  | f | 1 | concat('a', 'b') |",
        [expect(ErrorCode.ENC_002, value="concat('a', 'b')")],
    ),
    (
        "malformed public_key",
        "|  | form_id | version | public_key |\n|  | f | 1 | not-a-key! |",
        [expect(ErrorCode.ENC_004, detail="it is neither PEM nor base64")],
    ),
    (
        "malformed submission_url",
        "|  | form_id | version | submission_url |\n|  | f | 1 | ftp://host/x |",
        [expect(ErrorCode.ENC_007, value="ftp://host/x", detail="it must start with https://")],
    ),
    (
        "submission_url without host",
        "|  | form_id | version | submission_url |\n|  | f | 1 | https:///x |",
        [expect(ErrorCode.ENC_007, value="https:///x", detail="it has no host")],
    ),
    (
        "plain http submission_url",
        "|  | form_id | version | submission_url |\n|  | f | 1 | http://host/x |",
        [expect(ErrorCode.ENC_008, value="http://host/x")],
    ),
]
SETTINGS_CODES = (
    ErrorCode.SETTINGS_001, ErrorCode.SETTINGS_002, ErrorCode.SETTINGS_003, ErrorCode.ENC_001,
    ErrorCode.ENC_002, ErrorCode.ENC_004, ErrorCode.ENC_007, ErrorCode.ENC_008,
)  # fmt: skip


@pytest.mark.parametrize(
    ("case", "settings", "expected"), SETTINGS_CASES, ids=[c[0] for c in SETTINGS_CASES]
)
def test_settings_rules(xlsform: Form, case: str, settings: str, expected: list[object]) -> None:
    findings = findings_of(xlsform, AGE_ONLY, "| settings |\n" + settings)
    assert only(findings, *SETTINGS_CODES) == expected


def test_question_named_instance_id_is_refused(xlsform: Form) -> None:
    md = "| survey |\n|  | type | name | label |\n|  | text | instanceID | Id |\n"
    assert only(findings_of(xlsform, md), ErrorCode.ENC_003) == [
        expect(ErrorCode.ENC_003, sheet="survey", row=2, name="instanceID")
    ]


def test_pyxform_error_keeps_sheet_and_row(xlsform: Form) -> None:
    md = """
| survey |
|        | type        | name | label |
|        | integer     | age  | Age   |
|        | begin_group | g    | G     |
"""
    error = next(f for f in findings_of(xlsform, md) if f.code is ErrorCode.PYXFORM_001)
    assert (error.level, error.sheet, error.row) == ("error", "survey", 3)
    assert error.message.startswith("[row : 3] Unmatched 'begin_group'.")


def test_pyxform_error_without_row_is_located_by_name(xlsform: Form) -> None:
    md = """
| survey |
|        | type    | name | label |
|        | integer | age  | Age   |
|        | integer | size |       |
"""
    error = next(f for f in findings_of(xlsform, md) if f.code is ErrorCode.PYXFORM_001)
    assert (error.sheet, error.row) == ("survey", 3)
    assert error.message == (
        "[row : 3] On the 'survey' sheet: The survey element named 'size' has no label or hint."
    )


def test_pyxform_warning_is_a_warning_finding(xlsform: Form) -> None:
    md = """
| survey |
|        | type          | name | label |
|        | select_one yn | ok   | OK?   |
| choices |
|         | list_name | name | label |
|         | yn        | yes  |       |
|         | yn        | no   | No    |
"""
    warning = next(f for f in findings_of(xlsform, md) if f.code is ErrorCode.PYXFORM_002)
    assert (warning.level, warning.sheet, warning.row) == ("warning", "choices", 2)


def test_clean_form_has_no_findings(xlsform: Form) -> None:
    md = """
| survey |
|        | type    | name      | label::English (en) | label::Türkçe (tr) | pii        | pii_rule |
|        | text    | full_name | Name                | Ad                 | identifier |          |
|        | date    | dob       | Born                | Doğum              | quasi      | year     |
| settings |
|          | form_id | version | default_language |
|          | clean   | 2026    | English (en)     |
"""
    assert check_xlsform(xlsform(md)) == []
