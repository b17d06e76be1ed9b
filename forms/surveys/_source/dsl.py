"""A small vocabulary for writing XLSForm rows in Python, three languages at a time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: (key, XLSForm language name) in column order; Turkish is the default language.
LANGUAGES = (("tr", "Türkçe (tr)"), ("en", "English (en)"), ("ar", "العربية (ar)"))
DEFAULT_LANGUAGE = LANGUAGES[0][1]


@dataclass(frozen=True)
class T:
    """One text in Turkish, English and Arabic."""

    tr: str
    en: str
    ar: str

    def by_language(self) -> dict[str, str]:
        """Return the text keyed by XLSForm language name."""
        return {name: getattr(self, key) for key, name in LANGUAGES}


@dataclass(frozen=True)
class Q:
    """One survey row; fields left blank stay blank in the sheet."""

    type: str
    name: str = ""
    label: T | None = None
    hint: T | None = None
    required: bool = False
    required_message: T | None = None
    relevant: str = ""
    constraint: str = ""
    constraint_message: T | None = None
    appearance: str = ""
    choice_filter: str = ""
    calculation: str = ""
    default: str = ""
    repeat_count: str = ""
    parameters: str = ""
    read_only: bool = False
    pii: str = ""
    pii_rule: str = ""


def begin_group(name: str, label: T, *, relevant: str = "", appearance: str = "") -> Q:
    """Open a group."""
    return Q("begin_group", name, label, relevant=relevant, appearance=appearance)


def end_group() -> Q:
    """Close the innermost group."""
    return Q("end_group")


def begin_repeat(name: str, label: T, *, repeat_count: str = "", relevant: str = "") -> Q:
    """Open a repeat."""
    return Q("begin_repeat", name, label, repeat_count=repeat_count, relevant=relevant)


def end_repeat() -> Q:
    """Close the innermost repeat."""
    return Q("end_repeat")


def note(name: str, label: T, *, relevant: str = "", hint: T | None = None) -> Q:
    """A read-only note."""
    return Q("note", name, label, hint=hint, relevant=relevant)


@dataclass(frozen=True)
class C:
    """One choice of a list, with optional filter columns."""

    list_name: str
    name: str
    label: T
    extra: Mapping[str, str] = field(default_factory=dict)


def choices(list_name: str, *items: tuple[str, T]) -> list[C]:
    """Make a list of choices from (name, label) pairs."""
    return [C(list_name, name, label) for name, label in items]


@dataclass(frozen=True)
class Survey:
    """A whole XLSForm: settings, survey rows and choices."""

    settings: Mapping[str, str]
    survey: list[Q]
    choices: list[C]
