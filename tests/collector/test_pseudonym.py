"""Normalisation decides linkage; generalisation decides what a quasi-identifier keeps."""

from __future__ import annotations

import pytest

from collector.pseudonym import generalise, normalise


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
