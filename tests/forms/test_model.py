"""The XForm model, the flattening of submissions, the policy, and the structural checks."""

# ruff: noqa: E501 - XLSForms written as markdown tables keep one form row per line.

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from forms.build import build_xform
from forms.errors import ErrorCode, FormError
from forms.model import FormModel, merge_models, parse_xform
from forms.policy import PIIKind, PIIPolicy, PIIRule, derive_identifier_type, parse_quasi_rule
from forms.verify import verify_xform

Form = Callable[[str], Path]

FORM = """
| survey |
|        | type                  | name      | label::English (en) | label::Türkçe (tr) | hint::English (en) | hint::Türkçe (tr) | pii        | pii_rule | required | relevant        | choice_filter |
|        | select_one yes_no     | consent   | Consent?            | Onay?              |                    |                   |            |          | yes      |                 |               |
|        | begin_group           | person    | Person              | Kişi               |                    |                   |            |          |          | ${consent}='yes' |              |
|        | text                  | full_name | Name                | Ad                 | As given           | Söylendiği gibi   | identifier |          | yes      |                 |               |
|        | select_multiple lang  | languages | Languages           | Diller             |                    |                   |            |          |          |                 |               |
|        | end_group             |           |                     |                    |                    |                   |            |          |          |                 |               |
|        | begin_repeat          | household | Household           | Hane               |                    |                   |            |          |          |                 |               |
|        | integer               | age       | Age                 | Yaş                |                    |                   | quasi      | band:5   |          |                 |               |
|        | begin_repeat          | child     | Child               | Çocuk              |                    |                   |            |          |          |                 |               |
|        | select_one yes_no     | school    | School?             | Okul?              |                    |                   |            |          |          |                 | name != 'x'   |
|        | end_repeat            |           |                     |                    |                    |                   |            |          |          |                 |               |
|        | end_repeat            |           |                     |                    |                    |                   |            |          |          |                 |               |
|        | geopoint              | gps       | Where               | Nerede             |                    |                   | quasi      | round:2  |          |                 |               |
|        | note                  | bye       | Bye                 | Hoşça kal          |                    |                   |            |          |          |                 |               |
| choices |
|         | list_name | name | label::English (en) | label::Türkçe (tr) |
|         | yes_no    | yes  | Yes                 | Evet               |
|         | yes_no    | no   | No                  | Hayır              |
|         | lang      | ar   | Arabic              | Arapça             |
|         | lang      | fa   | Persian             | Farsça             |
| settings |
|          | form_id | version | name | default_language |
|          | mf      | 7       | mf   | Türkçe (tr)      |
"""


@pytest.fixture
def model(xlsform: Form) -> FormModel:
    built = build_xform(xlsform(FORM))
    assert built.model is not None
    return built.model


def test_model_fields_types_groups_and_repeats(model: FormModel) -> None:
    assert (model.form_id, model.version, model.root) == ("mf", "7", "/mf")
    assert model.languages == ("English (en)", "Türkçe (tr)")
    assert model.default_language == "Türkçe (tr)"
    assert model.repeats == ("/mf/household", "/mf/household/child")
    assert model.groups == ("/mf/person", "/mf/meta")
    rows = {f.path: (f.type, f.group, f.repeat) for f in model.fields}
    assert rows == {
        "/mf/consent": ("select1", None, None),
        "/mf/person/full_name": ("string", "/mf/person", None),
        "/mf/person/languages": ("select", "/mf/person", None),
        "/mf/household/age": ("int", "/mf/household", "/mf/household"),
        "/mf/household/child/school": ("select1", "/mf/household/child", "/mf/household/child"),
        "/mf/gps": ("geopoint", None, None),
        "/mf/bye": ("string", None, None),
        "/mf/meta/instanceID": ("string", "/mf/meta", None),
    }


def test_model_labels_choices_and_binds(model: FormModel) -> None:
    name = model.field("/mf/person/full_name")
    assert name.labels == {"English (en)": "Name", "Türkçe (tr)": "Ad"}
    assert name.hints == {"English (en)": "As given", "Türkçe (tr)": "Söylendiği gibi"}
    assert name.required == "true()"
    assert name.pii == PIIRule(PIIKind.IDENTIFIER, None, "name")
    languages = model.field("/mf/person/languages")
    assert [(c.value, dict(c.labels)) for c in languages.choices] == [
        ("ar", {"English (en)": "Arabic", "Türkçe (tr)": "Arapça"}),
        ("fa", {"English (en)": "Persian", "Türkçe (tr)": "Farsça"}),
    ]
    assert languages.list_name == "lang"
    school = model.field("/mf/household[2]/child[1]/school")
    assert school.choice_filter == "name != 'x'"
    assert model.field("/mf/bye").is_note
    assert not model.field("/mf/gps").is_note
    assert [f.path for f in model.fields_in("/mf/household")] == ["/mf/household/age"]


def test_policy_is_attached_and_checked(model: FormModel, xlsform: Form) -> None:
    built = build_xform(xlsform(FORM))
    assert model.field("/mf/gps").pii == PIIRule(PIIKind.QUASI, "round:2")
    assert model.policy == built.policy
    stray = PIIPolicy({"/mf/nowhere": PIIRule(PIIKind.DROP)})
    with pytest.raises(FormError) as caught:
        parse_xform(built.xml, stray)
    assert str(caught.value) == ErrorCode.XML_008.format(path="/mf/nowhere")


SUBMISSION = b"""<mf xmlns:jr="http://openrosa.org/javarosa" id="mf" version="7">
<consent>yes</consent><person><full_name>Ay\xc5\x9fe</full_name><languages>ar fa</languages></person>
<household><age>34</age><child><school>yes</school></child><child><school>no</school></child></household>
<household><age>9</age></household>
<gps>38.4 27.1 0 5</gps><bye/><surprise>?</surprise>
<meta><instanceID>uuid:abc</instanceID></meta></mf>"""


def test_flatten_gives_root_and_repeat_rows_joined_by_keys(model: FormModel) -> None:
    flat = model.flatten(SUBMISSION)
    assert (flat.form_id, flat.version, flat.instance_id) == ("mf", "7", "uuid:abc")
    assert flat.root.key == "uuid:abc"
    assert flat.root.values["/mf/person/full_name"] == "Ayşe"
    assert flat.root.values["/mf/person/languages"] == "ar fa"
    assert flat.root.values["/mf/bye"] == ""
    households = flat.rows("/mf/household")
    assert [(r.key, r.parent_key, r.position, dict(r.values)) for r in households] == [
        ("uuid:abc/household[1]", "uuid:abc", (1,), {"/mf/household/age": "34"}),
        ("uuid:abc/household[2]", "uuid:abc", (2,), {"/mf/household/age": "9"}),
    ]
    children = flat.rows("/mf/household/child")
    assert [(r.key, r.parent_key, r.position) for r in children] == [
        ("uuid:abc/household[1]/child[1]", "uuid:abc/household[1]", (1, 1)),
        ("uuid:abc/household[1]/child[2]", "uuid:abc/household[1]", (1, 2)),
    ]
    assert flat.unknown == ("/mf/surprise",)


def test_flatten_refuses_another_forms_instance(model: FormModel) -> None:
    with pytest.raises(FormError) as caught:
        model.flatten(b"<other><a/></other>")
    assert caught.value.code is ErrorCode.XML_007


HOSTILE = [
    ("billion laughs", b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', ErrorCode.XML_002),
    ("external DTD", b'<!DOCTYPE a SYSTEM "http://example.org/a.dtd"><a/>', ErrorCode.XML_002),
    ("billion laughs in UTF-16", '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'.encode("utf-16"), ErrorCode.XML_002),
    ("undeclared entity", b"<a>&x;</a>", ErrorCode.XML_001),
    ("not XML", b"<a><b></a>", ErrorCode.XML_001),
    ("unknown encoding", b'<?xml version="1.0" encoding="x-bogus"?><a/>', ErrorCode.XML_001),
    ("multi-byte encoding", b'<?xml version="1.0" encoding="shift_jis"?><a/>', ErrorCode.XML_001),
    ("non-text codec", b'<?xml version="1.0" encoding="rot13"?><a/>', ErrorCode.XML_001),
    ("no model", b"<h:html xmlns:h='http://www.w3.org/1999/xhtml'><h:head/></h:html>", ErrorCode.XML_004),
]  # fmt: skip


@pytest.mark.parametrize(("case", "payload", "code"), HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hardened_parse(case: str, payload: bytes, code: ErrorCode, model: FormModel) -> None:
    with pytest.raises(FormError) as caught:
        parse_xform(payload)
    assert caught.value.code is code
    if code is not ErrorCode.XML_004:
        with pytest.raises(FormError):
            model.flatten(payload)


def test_verify_catches_what_the_web_engine_does_not(xlsform: Form) -> None:
    xml = build_xform(xlsform(FORM)).xml
    assert verify_xform(xml) == []
    broken = (
        xml.replace(b'nodeset="/mf/gps"', b'nodeset="/mf/gpz"', 1)
        .replace(b'ref="/mf/bye"', b'ref="/mf/by"', 1)
        .replace(b'type="int"', b'type="integerish"', 1)
        .replace(b"instance('lang')", b"instance('langs')", 1)
        .replace(b' relevant=" /mf/consent', b' relevant=" /mf/consentt', 1)
    )
    assert [f.message for f in verify_xform(broken)] == [
        ErrorCode.XML_010.format(ref="/mf/household/age", value="integerish"),
        ErrorCode.XML_005.format(where="bind nodeset", ref="/mf/gpz"),
        ErrorCode.XML_005.format(where="body input ref", ref="/mf/by"),
        ErrorCode.XML_005.format(where="expression path", ref="/mf/consentt"),
        ErrorCode.XML_005.format(where="instance reference", ref="langs"),
    ]


def test_verify_catches_missing_itext(xlsform: Form) -> None:
    xml = build_xform(xlsform(FORM)).xml
    start = xml.index(b'<translation lang="English (en)">')
    entry = xml.index(b'<text id="/mf/gps:label">', start)
    end = xml.index(b"</text>", entry) + len(b"</text>")
    findings = verify_xform(xml[:entry] + xml[end:])
    assert [f.message for f in findings] == [
        ErrorCode.XML_006.format(language="English (en)", text_id="/mf/gps:label")
    ]


QUASI_RULES = [
    ("year", ("year", None)),
    ("month", ("month", None)),
    ("admin1", ("admin1", None)),
    ("band:5", ("band", 5)),
    ("band:1000", ("band", 1000)),
    ("round:0", ("round", 0)),
    ("round:6", ("round", 6)),
]


@pytest.mark.parametrize(("rule", "parsed"), QUASI_RULES)
def test_quasi_rules(rule: str, parsed: tuple[str, int | None]) -> None:
    assert parse_quasi_rule(rule) == parsed


@pytest.mark.parametrize("rule", ["band:0", "band:1001", "round:7", "band:", "decade", "band:x"])
def test_invalid_quasi_rules(rule: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the rule text is the whole message.
        parse_quasi_rule(rule)


def test_policy_json_round_trip_and_positions() -> None:
    policy = PIIPolicy(
        {
            "/f/household/name": PIIRule(PIIKind.IDENTIFIER, None, "name"),
            "/f/dob": PIIRule(PIIKind.QUASI, "year"),
        }
    )
    again = PIIPolicy.from_json(policy.to_json())
    assert again == policy
    assert again.rule_for("/f/household[3]/name") == PIIRule(PIIKind.IDENTIFIER, None, "name")
    assert again.rule_for("/f/other") is None
    assert list(again.fields) == sorted(again.fields)


@pytest.mark.parametrize(
    "text",
    [
        "{",
        '{"format": 2, "fields": {}}',
        '{"format": 1, "fields": {"/f/a": {"kind": "secret"}}}',
        '{"format": 1, "fields": {"/f/a": {"kind": "quasi", "rule": "band:0"}}}',
        '{"format": 1, "fields": {"/f/a": {"kind": "identifier", "identifier_type": "x"}}}',
    ],
)
def test_policy_json_is_checked(text: str) -> None:
    with pytest.raises(FormError) as caught:
        PIIPolicy.from_json(text)
    assert caught.value.code is ErrorCode.XML_009


@pytest.mark.parametrize(
    ("name", "qtype", "appearance", "expected"),
    [
        ("phone", "text", "", "phone"),
        ("contact_mobile", "text", "numbers", "phone"),
        ("passport_number", "text", "", "document"),
        ("member_name", "text", "", "name"),
        ("contact_email", "text", "", "email"),
        ("reference", "text", "numbers", "document"),
        ("reference", "text", "", "text"),
    ],
)
def test_identifier_type_is_derived(name: str, qtype: str, appearance: str, expected: str) -> None:
    assert derive_identifier_type(name, qtype, appearance) == expected


def test_policy_is_hashable_and_immutable() -> None:
    policy = PIIPolicy({"/f/a": PIIRule(PIIKind.DROP)})
    assert hash(policy) == hash(PIIPolicy({"/f/a": PIIRule(PIIKind.DROP)}))
    with pytest.raises(TypeError):
        policy.fields["/f/b"] = PIIRule(PIIKind.DROP)  # type: ignore[index]


def _versioned(xlsform: Form, rows: str, version: str, name: str = "hh") -> FormModel:
    md = (
        "| survey |\n|        | type | name | label | pii |\n"
        + rows
        + f"| settings |\n|          | form_id | version | name |\n|          | hh | {version} | {name} |\n"
    )
    built = build_xform(xlsform(md))
    assert built.model is not None
    return built.model


V1 = """\
|        | text         | a       | A       |            |
|        | begin_group  | place   | Place   |            |
|        | text         | city    | City    |            |
|        | text         | street  | Street  | sensitive  |
|        | end_group    |         |         |            |
|        | begin_group  | old     | Old     |            |
|        | text         | o1      | O1      |            |
|        | text         | o2      | O2      | identifier |
|        | end_group    |         |         |            |
|        | begin_repeat | visit   | Visit   |            |
|        | date         | when    | When    |            |
|        | text         | note_v  | Note    |            |
|        | end_repeat   |         |         |            |
|        | begin_repeat | trip    | Trip    |            |
|        | text         | to      | To      |            |
|        | end_repeat   |         |         |            |
|        | integer      | z       | Z       |            |
"""
V2 = """\
|        | integer      | a       | A       |            |
|        | begin_group  | place   | Place   |            |
|        | text         | city    | City    |            |
|        | text         | zone    | Zone    |            |
|        | end_group    |         |         |            |
|        | begin_repeat | visit   | Visit   |            |
|        | date         | when    | When    |            |
|        | end_repeat   |         |         |            |
|        | text         | b       | B       |            |
"""


def test_merge_models_revives_deleted_fields_where_central_puts_them(xlsform: Form) -> None:
    older, newer = _versioned(xlsform, V1, "1"), _versioned(xlsform, V2, "2")
    merged = merge_models(older, newer)
    paths = [
        f.path.removeprefix("/hh/") for f in merged.fields if not f.path.startswith("/hh/meta")
    ]
    # The newer fields keep their order; a revived one ends its group or repeat, a group
    # dropped whole comes back whole, after what remains of the root.
    assert paths == [
        "a",
        "place/city",
        "place/zone",
        "place/street",
        "visit/when",
        "visit/note_v",
        "b",
        "old/o1",
        "old/o2",
        "trip/to",
        "z",
    ]
    # Shared fields are the newer version's; revived ones keep their own definition and rule.
    assert merged.field("/hh/a").type == "int"
    assert merged.field("/hh/place/street").pii.kind == PIIKind.SENSITIVE  # type: ignore[union-attr]
    assert merged.field("/hh/old/o2").pii.kind == PIIKind.IDENTIFIER  # type: ignore[union-attr]
    assert merged.repeats == ("/hh/visit", "/hh/trip")
    assert [f.path for f in merged.fields_in("/hh/trip")] == ["/hh/trip/to"]
    assert "/hh/old" in merged.groups
    assert merged.version == "2"
    # Neither input changed (models are cached and shared).
    assert [f.path for f in newer.fields] != [f.path for f in merged.fields]
    assert not newer.has_field("/hh/z")
    # Merging a version with itself changes nothing.
    same = merge_models(newer, newer)
    assert same.fields == newer.fields
    assert same.repeats == newer.repeats


def test_merge_models_takes_an_earlier_root_element_name(xlsform: Form) -> None:
    older = _versioned(xlsform, V1, "1", name="household")
    merged = merge_models(older, _versioned(xlsform, V2, "2"))
    assert merged.root == "/hh"
    # Every field of the older root comes back (its records hold those paths), at the end.
    revived = [f.path for f in merged.fields if f.path.startswith("/household/")]
    assert revived[:2] == ["/household/a", "/household/place/city"]
    assert all(f.path.startswith("/household/") for f in merged.fields[-len(revived) :])
