"""Rules on the ``pii`` and ``pii_rule`` columns, and on identifying fields left untagged."""

from __future__ import annotations

from collections.abc import Iterable

from forms.errors import ErrorCode, Finding, FormError
from forms.policy import RowFacts, name_tokens, parse_pii
from forms.workbook import SurveyRow, Workbook

_NAMES = {"name", "names", "surname", "firstname", "lastname", "fullname", "forename"}
_NAMES |= {"givenname", "familyname", "isim", "ad", "adi", "soyad", "soyadi"}
_PHONES = {"phone", "mobile", "telephone", "tel", "gsm", "msisdn", "whatsapp", "telefon", "cep"}
_DOCUMENTS = {"passport", "id", "identity", "document", "doc", "kimlik", "card", "pasaport"}
_NUMBERS = {"number", "no", "num", "nr", "numarasi", "code", "national", "personal", "foreigner"}
_DOCUMENT_WORDS = {"idno", "tckn", "ykn", "ssn", "passportno", "nationalid"}
_ADDRESSES = {"address", "adres", "street", "sokak", "mahalle", "postcode", "zipcode"}
_EMAILS = {"email", "mail", "eposta"}
_BIRTH = {"dob", "birthdate", "birthday", "birth", "dogum"}
_PLACES = ("geopoint", "geotrace", "geoshape", "start-geopoint")
# Metadata Collect records by itself, about the device and the person holding it.
_DEVICE_METADATA = {
    "phonenumber": "the device's phone number",
    "email": "the e-mail address set in Collect",
    "username": "the user name set in Collect",
    "simserial": "the SIM card's serial number",
    "subscriberid": "the SIM subscriber's identity (IMSI)",
}
_MEDIA = ("image", "photo", "audio", "video", "background-audio")
# Types whose answer can be a name, number or address typed in; a select's answer is a choice.
_TYPED_VALUES = ("text", "integer", "int", "decimal", "calculate", "barcode", "hidden")


def _facts(row: SurveyRow) -> RowFacts:
    return RowFacts(
        row=row.row,
        name=row.name,
        base_type=row.base_type,
        appearance=row.get("appearance").lower(),
        holds_answer=row.holds_answer,
        type=row.type,
    )


def pii_values(workbook: Workbook) -> Iterable[Finding]:
    """Report pii and pii_rule values that are unknown, incomplete or misplaced."""
    for row in workbook.survey:
        try:
            parse_pii(row.get("pii"), row.get("pii_rule"), _facts(row))
        except FormError as error:
            yield Finding.from_error(error)


def identifying_reason(row: SurveyRow) -> str | None:
    """Say why a question looks identifying, or None."""
    tokens = set(name_tokens(row.name))
    if row.base_type in _DEVICE_METADATA:
        return _DEVICE_METADATA[row.base_type]
    if row.base_type in _PLACES:
        return "an exact location"
    if row.base_type in _MEDIA:
        return "a photo or recording"
    if tokens & _BIRTH and row.base_type in ("date", "datetime"):
        return "a date of birth"
    if row.base_type not in _TYPED_VALUES:
        return None
    checks = (
        (tokens & _PHONES, "a phone number"),
        (tokens & _EMAILS, "an e-mail address"),
        (
            (tokens & _DOCUMENTS and tokens & _NUMBERS) or tokens & _DOCUMENT_WORDS,
            "a document number",
        ),
        (tokens & _NAMES, "a name"),
        (tokens & _ADDRESSES, "an address"),
    )
    return next((reason for hit, reason in checks if hit), None)


def untagged_identifiers(workbook: Workbook) -> Iterable[Finding]:
    """Warn about questions that look identifying (by name or type) but carry no pii value."""
    for row in workbook.survey:
        if not row.holds_answer or row.get("pii"):
            continue
        reason = identifying_reason(row)
        if reason:
            yield Finding.of(
                ErrorCode.PII_008, sheet="survey", row=row.row, name=row.name, reason=reason
            )


def untagged_free_text(workbook: Workbook) -> Iterable[Finding]:
    """Warn about free-text questions without a pii value (a regex constraint makes a code)."""
    for row in workbook.survey:
        if row.base_type != "text" or row.get("pii") or identifying_reason(row):
            continue
        if "regex(" in row.get("constraint").replace(" ", ""):
            continue
        yield Finding.of(ErrorCode.PII_009, sheet="survey", row=row.row, name=row.name)
