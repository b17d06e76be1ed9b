"""Rules on translations: every text given in one of the form's languages is given in all."""

from __future__ import annotations

from collections.abc import Iterable

from forms.errors import ErrorCode, Finding
from forms.workbook import SheetRow, Workbook

TRANSLATED_COLUMNS = {
    "survey": ("label", "hint", "guidance_hint", "constraint_message", "required_message"),
    "choices": ("label",),
}
DEFAULT = "default"


def _row_findings(row: SheetRow, languages: tuple[str, ...]) -> Iterable[Finding]:
    for column in TRANSLATED_COLUMNS[row.sheet]:
        given = {language or DEFAULT for language in row.translations(column)}
        if not given:
            continue
        missing = [language for language in languages if language not in given]
        if missing:
            yield Finding.of(
                ErrorCode.TRANS_001,
                sheet=row.sheet,
                row=row.row,
                column=column,
                present=", ".join(sorted(given)),
                missing=", ".join(missing),
            )


def missing_translations(workbook: Workbook) -> Iterable[Finding]:
    """Warn about a label, hint or message given in some of the form's languages only."""
    languages = workbook.languages
    if not languages:
        return
    for row in (*workbook.survey, *workbook.choices):
        yield from _row_findings(row, languages)


def default_language_known(workbook: Workbook) -> Iterable[Finding]:
    """Warn when default_language names none of the form's languages."""
    default = workbook.settings.get("default_language", "")
    languages = workbook.languages
    if default and languages and default not in languages:
        yield Finding.of(
            ErrorCode.SETTINGS_004,
            sheet="settings",
            value=default,
            languages=", ".join(languages),
        )
