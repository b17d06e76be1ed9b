"""Building an XLSForm: pii columns out, key and URL in, one clear error for bad input."""

# ruff: noqa: E501 - XLSForms written as markdown tables keep one form row per line.

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from defusedxml.ElementTree import fromstring

from forms.build import BuiltForm, build_xform
from forms.errors import ErrorCode, FormError
from forms.policy import PIIKind, PIIPolicy, PIIRule
from forms.submission import parse_public_key
from tests.forms.helpers import md_to_xlsx_bytes

Form = Callable[[str], Path]

FORM = """
| survey |
|        | type              | name      | label::English (en) | label::Türkçe (tr) | pii        | pii_rule |
|        | text              | full_name | Name                | Ad                 | identifier |          |
|        | text              | phone     | Phone               | Telefon            | identifier | phone    |
|        | date              | dob       | Born                | Doğum              | quasi      | year     |
|        | begin_repeat      | household | Household           | Hane               |            |          |
|        | text              | member    | Member name         | Üye adı            | identifier | name     |
|        | integer           | age       | Age                 | Yaş                | quasi      | band:5   |
|        | end_repeat        |           |                     |                    |            |          |
|        | geopoint          | gps       | Where               | Nerede             | quasi      | round:2  |
|        | text              | story     | Story               | Öykü               | sensitive  |          |
|        | text              | check     | Again               | Tekrar             | drop       |          |
| settings |
|          | form_id | version    | name    | default_language |
|          | profile | 2026112301 | profile | English (en)     |
"""
URL = "https://collector.example.org/v1/key/abc/projects/1/submission"


def submission_attributes(xml: bytes) -> dict[str, str]:
    element = next(e for e in fromstring(xml).iter() if e.tag.endswith("}submission"))
    return dict(element.attrib)


def test_build_strips_pii_and_returns_the_policy(xlsform: Form) -> None:
    built = build_xform(xlsform(FORM))
    assert (built.form_id, built.version) == ("profile", "2026112301")
    assert b"pii" not in built.xml
    assert built.policy.fields == {
        "/profile/full_name": PIIRule(PIIKind.IDENTIFIER, None, "name"),
        "/profile/phone": PIIRule(PIIKind.IDENTIFIER, None, "phone"),
        "/profile/dob": PIIRule(PIIKind.QUASI, "year"),
        "/profile/household/member": PIIRule(PIIKind.IDENTIFIER, None, "name"),
        "/profile/household/age": PIIRule(PIIKind.QUASI, "band:5"),
        "/profile/gps": PIIRule(PIIKind.QUASI, "round:2"),
        "/profile/story": PIIRule(PIIKind.SENSITIVE),
        "/profile/check": PIIRule(PIIKind.DROP),
    }
    assert built.warnings == []


def test_build_injects_key_and_url(xlsform: Form, public_pem: bytes, public_b64: str) -> None:
    built = build_xform(xlsform(FORM), public_key=public_pem, submission_url=URL)
    assert submission_attributes(built.xml) == {
        "action": URL,
        "method": "post",
        "base64RsaPublicKey": public_b64,
    }
    assert re.fullmatch(r"[A-Za-z0-9+/=]+", public_b64)
    assert b"<instanceID/>" in built.xml


def test_passed_key_replaces_the_workbooks(
    xlsform: Form, public_pem: bytes, public_b64: str
) -> None:
    old = base64.b64encode(b"\x30\x03\x01\x01\x00").decode()
    md = FORM.replace("| default_language |", "| default_language | public_key |").replace(
        "| English (en)     |", f"| English (en)     | {old} |"
    )
    with pytest.raises(FormError) as caught:
        build_xform(xlsform(md))
    assert caught.value.code is ErrorCode.ENC_004
    built = build_xform(xlsform(md), public_key=public_pem)
    assert submission_attributes(built.xml)["base64RsaPublicKey"] == public_b64


def test_key_forms_all_give_the_same_attribute(public_pem: bytes, public_b64: str) -> None:
    wrapped = "\n".join(public_b64[i : i + 64] for i in range(0, len(public_b64), 64))
    for shape in (
        public_pem,
        public_pem.decode(),
        public_b64,
        wrapped,
        base64.b64decode(public_b64),
    ):
        key = parse_public_key(shape)
        assert (key.base64, key.bits) == (public_b64, 2048)


def test_built_form_writes_xform_and_policy(xlsform: Form, tmp_path: Path) -> None:
    built = build_xform(xlsform(FORM))
    xform, policy = built.write(tmp_path / "out.xml")
    assert policy == tmp_path / "out.pii.json"
    assert xform.read_bytes() == built.xml
    assert PIIPolicy.from_json(policy.read_text(encoding="utf-8")) == built.policy
    assert json.loads(policy.read_text(encoding="utf-8"))["format"] == 1


def test_bytes_source_needs_a_form_id_or_fallback() -> None:
    md = FORM.replace("| profile | 2026112301 | profile |", "|  | 2026112301 | profile |")
    built = build_xform(md_to_xlsx_bytes(md), form_id_fallback="fallback_id")
    assert built.form_id == "fallback_id"
    assert [w.code for w in built.warnings] == [ErrorCode.SETTINGS_002]


WORKBOOK_CASES = [
    ("not a workbook", b"type,name\ntext,a\n", ErrorCode.READ_001),
    ("empty file", b"", ErrorCode.READ_002),
    ("zip but not a workbook", b"PK\x03\x04" + b"\x00" * 64, ErrorCode.READ_001),
    (
        "missing survey sheet",
        md_to_xlsx_bytes("| choices |\n|  | list_name | name | label |\n|  | yn | y | Y |\n"
                         "| settings |\n|  | form_id |\n|  | f |"),
        ErrorCode.READ_003,
    ),
    (
        "pyxform error",
        md_to_xlsx_bytes("| survey |\n|  | type | name | label |\n|  | integer | a | A |\n"
                         "|  | select_one nolist | b | B |\n"
                         "| choices |\n|  | list_name | name | label |\n|  | yn | y | Y |\n"),
        ErrorCode.PYXFORM_001,
    ),
    (
        "bad pii value",
        md_to_xlsx_bytes("| survey |\n|  | type | name | label | pii |\n|  | text | a | A | secret |\n"),
        ErrorCode.PII_001,
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "payload", "code"), WORKBOOK_CASES, ids=[c[0] for c in WORKBOOK_CASES]
)
def test_bad_workbook_is_one_clear_error(case: str, payload: bytes, code: ErrorCode) -> None:
    with pytest.raises(FormError) as caught:
        build_xform(payload)
    error = caught.value
    assert error.code is code
    assert "\n" not in str(error)
    assert "Traceback" not in str(error)
    if code in (ErrorCode.PYXFORM_001, ErrorCode.PII_001):
        assert (error.sheet, error.row) == ("survey", 3 if code is ErrorCode.PYXFORM_001 else 2)
        assert str(error).startswith(f"[row : {error.row}]")


KEY_CASES = [
    ("broken key file", "broken", ErrorCode.ENC_004),
    ("truncated PEM", "truncated", ErrorCode.ENC_004),
    ("PKCS#1 public key", "pkcs1", ErrorCode.ENC_005),
    ("PKCS#8 private key", "pkcs8_private", ErrorCode.ENC_006),
    ("PKCS#1 private key", "pkcs1_private", ErrorCode.ENC_006),
    ("1024-bit key", "small", ErrorCode.ENC_009),
    ("EC key", "ec", ErrorCode.ENC_010),
    ("empty key", "empty", ErrorCode.ENC_004),
]


@pytest.mark.parametrize(("case", "payload", "code"), KEY_CASES, ids=[c[0] for c in KEY_CASES])
def test_bad_key_is_one_clear_error(
    xlsform: Form,
    key_shapes: dict[str, bytes],
    public_pem: bytes,
    case: str,
    payload: str,
    code: ErrorCode,
) -> None:
    shapes = {
        **key_shapes,
        "broken": b"-----BEGIN PUBLIC KEY-----\nnot base64 at all!\n-----END PUBLIC KEY-----\n",
        "truncated": public_pem[:200],
        "empty": b"",
    }
    with pytest.raises(FormError) as caught:
        build_xform(xlsform(FORM), public_key=shapes[payload])
    assert caught.value.code is code
    assert "\n" not in str(caught.value)
    assert "PRIVATE KEY-----" not in str(caught.value)


def test_bad_submission_url_is_refused(xlsform: Form) -> None:
    with pytest.raises(FormError) as caught:
        build_xform(xlsform(FORM), submission_url="https://user:pw@host/x")
    assert str(caught.value) == ErrorCode.ENC_007.format(
        value="https://user:pw@host/x", detail="it must not carry a user name or password"
    )


def test_omitting_instance_id_breaks_an_encrypted_build(xlsform: Form, public_pem: bytes) -> None:
    md = FORM.replace("| default_language |", "| default_language | omit_instanceID |").replace(
        "| English (en)     |", "| English (en)     | yes |"
    )
    with pytest.raises(FormError) as caught:
        build_xform(xlsform(md), public_key=public_pem)
    assert caught.value.code is ErrorCode.ENC_001


def test_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FormError) as caught:
        build_xform(tmp_path / "nope.xlsx")
    assert caught.value.code is ErrorCode.READ_005


DERIVED = """
| survey |
|        | type      | name        | label    | pii        | pii_rule | calculation                         |
|        | text      | full_name   | Name     | identifier |          |                                     |
|        | text      | phone       | Phone    | identifier | phone    |                                     |
|        | text      | notes       | Notes    | drop       |          |                                     |
|        | integer   | age         | Age      | quasi      | band:5   |                                     |
|        | integer   | visits      | Visits   |            |          |                                     |
|        | calculate | digits      |          |            |          | translate(${phone}, ' ', '')        |
|        | calculate | contact     |          |            |          | concat('tel:', ${digits})           |
|        | calculate | remark      |          |            |          | concat(${full_name}, ${notes})      |
|        | calculate | minor       |          |            |          | if(${age} < 18, 'yes', 'no')        |
|        | calculate | busy        |          |            |          | if(${visits} > 3, 'yes', 'no')      |
|        | calculate | initials    |          | identifier | name     | substr(${full_name}, 0, 1)          |
| settings |
|          | form_id | version | instance_name                        |
|          | derived | 1       | concat(${full_name}, ' ', ${visits}) |
"""


def test_calculations_from_protected_fields_are_protected_too(xlsform: Form) -> None:
    built = build_xform(xlsform(DERIVED))
    rules = built.policy.fields
    # From an identifier (directly or through another calculation): sealed as sensitive.
    assert rules["/data/meta/instanceName"] == PIIRule(PIIKind.SENSITIVE)
    assert rules["/data/digits"] == PIIRule(PIIKind.SENSITIVE)
    assert rules["/data/contact"] == PIIRule(PIIKind.SENSITIVE)
    # From a dropped field: dropped, whatever else it uses.
    assert rules["/data/remark"] == PIIRule(PIIKind.DROP)
    # An author's own value stands; quasi-identifiers and plain fields pass nothing on.
    assert rules["/data/initials"] == PIIRule(PIIKind.IDENTIFIER, None, "name")
    assert "/data/minor" not in rules
    assert "/data/busy" not in rules
    warned = [w.message for w in built.warnings if w.code is ErrorCode.PII_010]
    assert len(warned) == 4
    assert any("'meta/instanceName' uses 'full_name'" in m and "sensitive" in m for m in warned)
    assert any("'contact' uses 'digits'" in m for m in warned)
    assert any("'remark' uses 'notes'" in m and "dropped" in m for m in warned)
    # The policy written beside the XForm carries the derived rules.
    assert PIIPolicy.from_json(built.policy.to_json()) == built.policy


SET_BY_ACTIONS = """
| survey |
|        | type      | name       | label    | pii        | calculation  | trigger      | default      |
|        | text      | full_name  | Name     | identifier |              |              |              |
|        | text      | story      | Story    | sensitive  |              |              |              |
|        | text      | village    | Village  |            |              |              |              |
|        | calculate | name_copy  |          |            | ${full_name} | ${full_name} |              |
|        | text      | addressee  | To       |            |              |              | ${full_name} |
|        | calculate | story_copy |          |            | ${story}     | ${story}     |              |
|        | calculate | place      |          |            | ${village}   | ${village}   |              |
| settings |
|          | form_id | version |
|          | actions | 1       |
"""


def _derived_warnings(built: BuiltForm) -> list[str]:
    return [w.message for w in built.warnings if w.code is ErrorCode.PII_010]


def test_a_triggered_copy_of_an_identifier_is_sealed(xlsform: Form) -> None:
    # pyxform writes the trigger as <setvalue event="xforms-value-changed"> in the body.
    built = build_xform(xlsform(SET_BY_ACTIONS))
    assert b'<setvalue ref="/data/name_copy" event="xforms-value-changed"' in built.xml
    assert built.policy.fields["/data/name_copy"] == PIIRule(PIIKind.SENSITIVE)
    assert any(
        "'name_copy' uses 'full_name'" in m and "sensitive" in m for m in _derived_warnings(built)
    )


def test_a_dynamic_default_from_an_identifier_is_sealed(xlsform: Form) -> None:
    # pyxform writes the default as <setvalue event="odk-instance-first-load"> in the model.
    built = build_xform(xlsform(SET_BY_ACTIONS))
    assert b'<setvalue ref="/data/addressee" event="odk-instance-first-load"' in built.xml
    assert built.policy.fields["/data/addressee"] == PIIRule(PIIKind.SENSITIVE)
    assert any("'addressee' uses 'full_name'" in m for m in _derived_warnings(built))


def test_a_triggered_copy_of_a_sensitive_field_is_sealed(xlsform: Form) -> None:
    built = build_xform(xlsform(SET_BY_ACTIONS))
    assert built.policy.fields["/data/story_copy"] == PIIRule(PIIKind.SENSITIVE)
    assert any("'story_copy' uses 'story'" in m for m in _derived_warnings(built))


def test_a_triggered_copy_of_an_ordinary_field_stays_plain(xlsform: Form) -> None:
    built = build_xform(xlsform(SET_BY_ACTIONS))
    sealed = {"/data/name_copy", "/data/addressee", "/data/story_copy"}
    assert set(built.policy.fields) == {"/data/full_name", "/data/story", *sealed}
    assert "/data/place" not in built.policy.fields
    warned = _derived_warnings(built)
    assert len(warned) == 3
    assert not any("'place'" in m for m in warned)


def test_an_audit_log_is_sealed_whatever_its_parameters(xlsform: Form) -> None:
    form = """
| survey |
|        | type  | name      | label | pii        | parameters         |
|        | audit | audit     |       |            | track-changes=true |
|        | text  | full_name | Name  | identifier |                    |
| settings |
|          | form_id | version |
|          | audited | 1       |
"""
    built = build_xform(xlsform(form))
    assert built.policy.fields["/data/meta/audit"] == PIIRule(PIIKind.SENSITIVE)
    assert [w.code for w in built.warnings] == [ErrorCode.PII_011]
    assert "'meta/audit'" in built.warnings[0].message


def test_metadata_collect_records_about_people_is_flagged_and_can_be_tagged(
    xlsform: Form,
) -> None:
    form = """
| survey |
|        | type           | name        | label | pii   | pii_rule |
|        | start-geopoint | where       |       | {pii} | {rule}   |
|        | phonenumber    | phonenumber |       |       |          |
|        | username       | username    |       |       |          |
|        | deviceid       | deviceid    |       |       |          |
| settings |
|          | form_id | version |
|          | metas   | 1       |
"""
    untagged = build_xform(xlsform(form.format(pii="     ", rule="      ")))
    reasons = [w.message for w in untagged.warnings if w.code is ErrorCode.PII_008]
    assert len(reasons) == 3
    assert "'where' looks identifying (an exact location)" in reasons[0]
    assert "the device's phone number" in reasons[1]
    assert "the user name set in Collect" in reasons[2]
    tagged = build_xform(xlsform(form.format(pii="quasi", rule="round:2")))
    assert tagged.policy.fields["/data/where"] == PIIRule(PIIKind.QUASI, "round:2")
    assert len([w for w in tagged.warnings if w.code is ErrorCode.PII_008]) == 2
