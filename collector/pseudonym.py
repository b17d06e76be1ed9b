"""Normalising identifiers before they are pseudonymised, and generalising quasi-identifiers.

Normalisation decides linkage: two spellings that normalise alike get the same pseudonym.
- every identifier: Unicode NFKC, Turkish i-variants folded together (İ, I, ı, i all become
  ``i``, so "İSTANBUL", "Istanbul" and "istanbul" meet), case-folded, Arabic diacritics and
  tatweel removed, Arabic alef forms unified, spaces trimmed and collapsed;
- phone numbers: digits only, international prefix ``00``/``+`` dropped, and a national number
  of Türkiye (``0`` + 10 digits, or 10 digits starting with 5) written with country code 90;
- document numbers: letters and digits only.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date

DEFAULT_COUNTRY_CODE = "90"
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ALEF = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي"})
_TURKISH_I = str.maketrans({"İ": "i", "I": "i", "ı": "i"})


def normalise_text(value: str) -> str:
    """Normalise a name or other free identifier for linkage."""
    if value.isascii():
        # What the steps below come to for ASCII: NFKC, the Turkish and Arabic foldings
        # change nothing, and case-folding is lower-casing.
        return " ".join(value.lower().split())
    text = unicodedata.normalize("NFKC", value).translate(_TURKISH_I)
    text = text.casefold().replace("\u0307", "")
    text = _ARABIC_MARKS.sub("", text).translate(_ALEF)
    # Splitting on whitespace and joining with one space trims and collapses it.
    return " ".join(text.split())


def normalise_phone(value: str, country_code: str = DEFAULT_COUNTRY_CODE) -> str:
    """Normalise a phone number to its digits in international form."""
    text = value if value.isascii() else unicodedata.normalize("NFKC", value)
    digits = "".join(ch for ch in text if ch.isdigit())
    if not digits.isascii():  # Other scripts' digits (Arabic-Indic, say) as 0-9.
        digits = "".join(str(unicodedata.digit(ch)) for ch in digits)
    if digits.startswith("00"):
        return digits[2:]
    if text.strip().startswith("+"):
        return digits
    if country_code == "90" and len(digits) == 11 and digits.startswith("0"):
        return country_code + digits[1:]
    if country_code == "90" and len(digits) == 10 and digits.startswith("5"):
        return country_code + digits
    return digits


def normalise_document(value: str) -> str:
    """Normalise a document number to its letters and digits, case-folded."""
    text = normalise_text(value)
    return "".join(ch for ch in text if ch.isalnum())


def normalise(value: str, identifier_type: str | None) -> str:
    """Normalise an identifier by its type (phone, document, or anything else as text)."""
    if identifier_type == "phone":
        return normalise_phone(value)
    if identifier_type in {"document", "id", "passport"}:
        return normalise_document(value)
    if identifier_type == "email":
        return normalise_text(value).replace(" ", "")
    return normalise_text(value)


def generalise(value: str, rule: str | None) -> str | None:
    """Generalise a quasi-identifier by its rule: year, month, band:N, round:N, admin1.

    Returns None when the rule cannot read the answer: such a value is suppressed, never
    stored exact.
    """
    if value == "" or rule is None:
        return value
    name, _, arg = rule.partition(":")
    try:
        if name == "year":
            return _date(value).strftime("%Y")
        if name == "month":
            return _date(value).strftime("%Y-%m")
        if name == "band":
            return _band(value, int(arg))
        if name == "round":
            return _round_geo(value, int(arg))
        if name == "admin1":
            return re.split(r"[/.\-_]", value.strip(), maxsplit=1)[0]
    except (ValueError, OverflowError):
        return None
    return None


def _date(value: str) -> date:
    return date.fromisoformat(value.strip()[:10])


def _band(value: str, width: int) -> str:
    number = math.floor(float(value))
    low = number - number % width
    return f"{low}-{low + width - 1}"


def _round_geo(value: str, places: int) -> str:
    """Round a number, or a geopoint's latitude and longitude (altitude and accuracy go)."""
    parts = value.split()
    if len(parts) == 1:
        return f"{round(float(parts[0]), places):.{places}f}"
    if len(parts) < 2:
        raise ValueError("not a number or a geopoint")
    lat, lon = (round(float(p), places) for p in parts[:2])
    return f"{lat:.{places}f} {lon:.{places}f}"
