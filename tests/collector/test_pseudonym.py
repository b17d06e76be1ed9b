"""Normalisation decides linkage; generalisation decides what a quasi-identifier keeps."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.pseudonym import generalise, normalise, normalise_phone, normalise_text


@pytest.mark.parametrize(
    ("kind", "a", "b"),
    [
        ("name", "Ayşe  Yılmaz", " ayşe yilmaz "),
        ("name", "İBRAHİM HALİL", "ibrahim halil"),
        ("name", "IŞIK", "ışık"),
        ("name", "Mehmet\u00a0Öz", "MEHMET ÖZ"),
        ("name", "مُحَمَّد", "محمد"),
        ("name", "أحمد", "احمد"),
        ("name", "ＡＬＩ", "ali"),
        ("phone", "+90 532 123 45 67", "0532 123 4567"),
        ("phone", "0090 (532) 123-45-67", "5321234567"),
        ("phone", "+963 944 123 456", "00963944123456"),
        ("document", "u 1234-5678", "U12345678"),
    ],
)
def test_same_identifier_written_differently_normalises_alike(kind: str, a: str, b: str) -> None:
    assert normalise(a, kind) == normalise(b, kind)


@pytest.mark.parametrize(
    ("kind", "a", "b"),
    [
        ("name", "Ali Yılmaz", "Ali Yılmazer"),
        ("phone", "+90 532 123 45 67", "+90 532 123 45 68"),
        ("document", "U12345678", "U12345679"),
        ("name", "Hasan", "Hüsnü"),
    ],
)
def test_different_identifiers_stay_apart(kind: str, a: str, b: str) -> None:
    assert normalise(a, kind) != normalise(b, kind)


@pytest.mark.parametrize(
    ("value", "rule", "expected"),
    [
        ("1990-05-17", "year", "1990"),
        ("1990-05-17", "month", "1990-05"),
        ("2026-11-23T10:12:00.000+03:00", "year", "2026"),
        ("34", "band:5", "30-34"),
        ("35", "band:5", "35-39"),
        ("7", "band:10", "0-9"),
        ("41.0082376 28.9783589 35.0 4.5", "round:2", "41.01 28.98"),
        ("-33.86785 151.20732 0 0", "round:1", "-33.9 151.2"),
        ("istanbul/kadikoy", "admin1", "istanbul"),
        ("not a date", "year", None),
        ("many", "band:5", None),
        ("41.0082", "round:2", "41.01"),
        ("12.5 x", "round:1", None),
        ("", "round:2", ""),
        ("", "year", ""),
    ],
)
def test_generalise(value: str, rule: str, expected: str | None) -> None:
    assert generalise(value, rule) == expected


def _text_as_documented(value: str) -> str:
    """The normalisation steps one by one, as the module docstring lists them."""
    text = unicodedata.normalize("NFKC", value)
    text = text.translate(str.maketrans({"İ": "i", "I": "i", "ı": "i"}))
    text = text.casefold().replace("\u0307", "")
    text = re.sub("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]", "", text)
    text = text.translate(str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي"}))
    return re.sub(r"\s+", " ", text).strip()


def _phone_as_documented(value: str) -> str:
    text = unicodedata.normalize("NFKC", value)
    digits = "".join(str(unicodedata.digit(ch)) for ch in text if ch.isdigit())
    if digits.startswith("00"):
        return digits[2:]
    if text.strip().startswith("+"):
        return digits
    if len(digits) == 11 and digits.startswith("0"):
        return "90" + digits[1:]
    return "90" + digits if len(digits) == 10 and digits.startswith("5") else digits


# Linkage rests on these: a shortcut that normalised one spelling differently would split a
# person in two. ASCII takes a shortcut, other text the full path; both must agree.
@settings(max_examples=300)
@given(st.one_of(st.text(alphabet=st.characters(max_codepoint=127)), st.text()))
def test_text_normalisation_is_the_documented_one(value: str) -> None:
    assert normalise_text(value) == _text_as_documented(value)


@settings(max_examples=300)
@given(st.one_of(st.text(alphabet="0123456789 +-()٠١٢٣٤٥٦٧٨٩²"), st.text()))
def test_phone_normalisation_is_the_documented_one(value: str) -> None:
    assert normalise_phone(value) == _phone_as_documented(value)
