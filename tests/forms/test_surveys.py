"""The shipped surveys: generated from their source, clean, translated, tagged and gated."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import load_workbook

from forms.build import BuiltForm
from forms.check import check_xlsform
from forms.policy import PIIKind, PIIRule
from forms.surveys import SURVEYS, path
from forms.surveys._source.generate import SOURCES, xlsx_bytes
from forms.verify import verify_xform
from forms.workbook import read_workbook

NAMES = sorted(SURVEYS)
LANGUAGES = ("Türkçe (tr)", "English (en)", "العربية (ar)")


def cells(source: Path | bytes) -> dict[str, list[tuple[object, ...]]]:
    data = source.read_bytes() if isinstance(source, Path) else source
    book = load_workbook(BytesIO(data), read_only=True)
    try:
        return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in book}
    finally:
        book.close()


@pytest.mark.parametrize("name", NAMES)
def test_committed_workbook_matches_its_source(name: str) -> None:
    assert cells(path(name)) == cells(xlsx_bytes(SOURCES[name])), (
        "regenerate with: python -m forms.surveys._source.generate"
    )


@pytest.mark.parametrize("name", NAMES)
def test_survey_checks_clean(name: str) -> None:
    assert check_xlsform(path(name)) == []


@pytest.mark.parametrize("name", NAMES)
def test_survey_builds_with_key_and_url(
    name: str, built_surveys: dict[str, BuiltForm], public_b64: str
) -> None:
    built = built_surveys[name]
    assert (built.form_id, built.version) == (name, "2026112301")
    assert built.warnings == []
    assert f'base64RsaPublicKey="{public_b64}"'.encode() in built.xml
    assert b'action="https://collector.example.org/v1/key/TOKEN/projects/1/submission"' in built.xml
    assert verify_xform(built.xml) == []


@pytest.mark.parametrize("name", NAMES)
def test_every_label_choice_and_hint_is_in_three_languages(
    name: str, built_surveys: dict[str, BuiltForm]
) -> None:
    model = built_surveys[name].model
    assert model is not None
    assert model.languages == LANGUAGES
    assert model.default_language == LANGUAGES[0]
    for field in model.fields:
        if field.control is not None:
            assert set(field.labels) == set(LANGUAGES), field.path
            assert all(text.strip() for text in field.labels.values()), field.path
        if field.hints:
            assert set(field.hints) == set(LANGUAGES), field.path
        for choice in field.choices:
            assert set(choice.labels) == set(LANGUAGES), (field.path, choice.value)
            assert all(text.strip() for text in choice.labels.values()), choice.value


@pytest.mark.parametrize("name", NAMES)
def test_every_field_is_in_the_model_and_every_pii_in_the_policy(
    name: str, built_surveys: dict[str, BuiltForm]
) -> None:
    built = built_surveys[name]
    model = built.model
    assert model is not None
    root = model.root
    rows = [r for r in read_workbook(path(name)).survey if r.holds_answer or r.type == "note"]
    from_rows = {root + "/" + "/".join(r.path) for r in rows}
    from_model = {f.path for f in model.fields} - {f"{root}/meta/instanceID"}
    assert from_rows == from_model
    tagged = {root + "/" + "/".join(r.path) for r in rows if r.get("pii")}
    assert set(built.policy.fields) == tagged
    for field in model.fields:
        assert field.pii == built.policy.fields.get(field.path)


EXPECTED_PII = {
    "migration_profile": {
        "person/full_name": PIIRule(PIIKind.IDENTIFIER, None, "name"),
        "person/phone": PIIRule(PIIKind.IDENTIFIER, None, "phone"),
        "person/phone_confirm": PIIRule(PIIKind.DROP),
        "person/dob": PIIRule(PIIKind.QUASI, "year"),
        "person/age_estimate": PIIRule(PIIKind.QUASI, "band:5"),
        "place/gps": PIIRule(PIIKind.QUASI, "round:2"),
        "documents/passport_number": PIIRule(PIIKind.IDENTIFIER, None, "document"),
        "documents/foreigner_id_number": PIIRule(PIIKind.IDENTIFIER, None, "document"),
        "household/member_name": PIIRule(PIIKind.IDENTIFIER, None, "name"),
        "household/member_age": PIIRule(PIIKind.QUASI, "band:5"),
        "household/member_document_number": PIIRule(PIIKind.IDENTIFIER, None, "document"),
        "protection/protection_summary": PIIRule(PIIKind.SENSITIVE),
        "trafficking/indicators/ti_notes": PIIRule(PIIKind.SENSITIVE),
    },
    "capacity_needs": {
        "respondent/contact_phone": PIIRule(PIIKind.IDENTIFIER, None, "phone"),
        "respondent/contact_email": PIIRule(PIIKind.IDENTIFIER, None, "email"),
        "institution/institution_name": PIIRule(PIIKind.SENSITIVE),
    },
}


@pytest.mark.parametrize("name", NAMES)
def test_identifiers_carry_the_designed_treatment(
    name: str, built_surveys: dict[str, BuiltForm]
) -> None:
    policy = built_surveys[name].policy
    for relative, rule in EXPECTED_PII[name].items():
        assert policy.rule_for(f"/{name}/{relative}") == rule, relative


@pytest.mark.parametrize("name", NAMES)
def test_refusing_consent_ends_the_form(name: str) -> None:
    rows = read_workbook(path(name)).survey
    consent = next(i for i, r in enumerate(rows) if r.name == "consent")
    for row in rows[consent + 1 :]:
        if len(row.path) != 1:
            continue
        if row.type.startswith(("begin group", "begin repeat")):
            assert "${consent} = 'yes'" in row.get("relevant"), row.name
        else:
            assert row.type == "note", row.name
            assert row.get("relevant") == "${consent} = 'no'", row.name


def test_sizes_are_realistic(built_surveys: dict[str, BuiltForm]) -> None:
    profile = built_surveys["migration_profile"].model
    capacity = built_surveys["capacity_needs"].model
    assert profile is not None
    assert capacity is not None
    assert 60 <= len(profile.fields) <= 120
    assert 40 <= len(capacity.fields) <= 120
    assert profile.repeats == ("/migration_profile/household",)


def test_provinces_are_the_81_of_turkiye_in_7_regions(built_surveys: dict[str, BuiltForm]) -> None:
    model = built_surveys["migration_profile"].model
    assert model is not None
    province = model.field("/migration_profile/place/current_province")
    assert len(province.choices) == 81
    assert province.choice_filter is not None
    assert "current_region" in province.choice_filter
    regions = model.field("/migration_profile/place/current_region").choices
    assert len(regions) == 7
    names = {c.labels["Türkçe (tr)"] for c in province.choices}
    assert {"İstanbul", "Gaziantep", "Şanlıurfa", "Hatay", "Van", "Edirne", "İzmir"} <= names


def test_transit_countries_exclude_the_country_of_origin(
    built_surveys: dict[str, BuiltForm],
) -> None:
    model = built_surveys["migration_profile"].model
    assert model is not None
    transit = model.field("/migration_profile/journey/transit_countries")
    assert transit.type == "select"
    assert transit.choice_filter is not None
    assert "/migration_profile/person/country_origin" in transit.choice_filter
    origin = {c.value for c in model.field("/migration_profile/person/country_origin").choices}
    assert {"syr", "afg", "irq", "irn", "pak", "som"} <= origin


def test_unknown_survey_name_is_refused() -> None:
    with pytest.raises(KeyError):
        path("nope")
