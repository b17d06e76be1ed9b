"""Read an XLSForm workbook once: rows with their sheet row numbers and paths, pii columns apart.

pyxform reads the file (so .xlsx and .xls behave exactly as pyxform sees them); this module
keeps the row numbers pyxform reports, works out each row's path inside the instance, and hands
pyxform a copy of the data without the ``pii``/``pii_rule`` columns, which it does not know.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

from pyxform.errors import PyXFormError
from pyxform.xls2json_backends import DefinitionData, get_xlsform

from forms.errors import ErrorCode, FormError

#: Workbooks above this size are refused before any parsing (the largest real XLSForms are a
#: few MiB); the server can pass uploads straight in.
MAX_WORKBOOK_BYTES = 20 * 1024 * 1024
PII_COLUMNS = ("pii", "pii_rule")
_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SPACES = re.compile(r"\s+")
# Survey header aliases that matter to this toolkit (pyxform knows more; these are the ones a
# lint rule reads).
_SURVEY_ALIASES = {
    "command": "type",
    "value": "name",
    "tag": "name",
    "caption": "label",
    "relevance": "relevant",
    "calculate": "calculation",
    "constraining_message": "constraint_message",
    "requiredmsg": "required_message",
    "read_only": "readonly",
}
_SETTINGS_ALIASES = {
    "id_string": "form_id",
    "set_form_id": "form_id",
    "set_form_title": "form_title",
}
# Row types that hold no answer of their own.
CONTAINER_TYPES = ("begin group", "begin repeat", "begin loop")
END_TYPES = ("end group", "end repeat", "end loop")


def normalise_type(value: str) -> str:
    """Lower-case a type and turn 'begin_group'-style underscores of control words into spaces."""
    text = _SPACES.sub(" ", value.strip().lower())
    for word in ("begin", "end"):
        if text.startswith(word + "_"):
            text = word + " " + text[len(word) + 1 :]
    return text


def split_header(header: str) -> tuple[str, str | None]:
    """Split 'label::English (en)' into ('label', 'English (en)'); plain headers get None."""
    base, sep, language = header.partition("::")
    base = base.strip().lower()
    return _SURVEY_ALIASES.get(base, base), (language.strip() if sep else None)


@dataclass(frozen=True)
class SheetRow:
    """One row of a sheet: its 1-based row number and its cells by original header."""

    sheet: str
    row: int
    cells: Mapping[str, str]

    def get(self, column: str) -> str:
        """Return a plain column's value ('' when blank), header aliases resolved."""
        for header, value in self.cells.items():
            base, language = split_header(header)
            if base == column and language is None:
                return value
        return ""

    def translations(self, column: str) -> dict[str, str]:
        """Return a translatable column's values by language ('' for the plain column)."""
        found: dict[str, str] = {}
        for header, value in self.cells.items():
            base, language = split_header(header)
            if base == column and value:
                found[language or ""] = value
        return found


@dataclass(frozen=True)
class SurveyRow(SheetRow):
    """A survey row with its normalised type and its place in the instance."""

    type: str = ""
    name: str = ""
    #: Group and repeat names from the root down to this row (this row's name last).
    path: tuple[str, ...] = ()
    #: Relative path of the innermost enclosing repeat, if any.
    repeat: tuple[str, ...] | None = None

    @property
    def holds_answer(self) -> bool:
        """Tell whether this row makes an instance node that stores a value."""
        if not self.type or self.type in END_TYPES or self.type.startswith(CONTAINER_TYPES):
            return False
        return self.type != "note" and bool(self.name)

    @property
    def base_type(self) -> str:
        """Return the question type without its list name ('select_one yes_no' -> 'select_one')."""
        return self.type.split(" ")[0] if self.type else ""


@dataclass
class Workbook:
    """An XLSForm as read from its file."""

    survey: list[SurveyRow]
    choices: list[SheetRow]
    settings: dict[str, str]
    sheet_names: tuple[str, ...]
    fallback_name: str | None
    #: pyxform's reading of the file, pii columns removed, ready for pyxform's converter.
    pyxform_data: dict[str, Any] = field(repr=False)

    @property
    def languages(self) -> tuple[str, ...]:
        """Return the languages named in translated columns, in first-seen order."""
        seen: dict[str, None] = {}
        for row in (*self.survey, *self.choices):
            for header in row.cells:
                language = split_header(header)[1]
                if language:
                    seen.setdefault(language, None)
        return tuple(seen)


def read_workbook(source: Path | bytes, *, fallback_name: str | None = None) -> Workbook:
    """Read an XLSForm workbook (.xlsx or .xls) from a path or its bytes."""
    data = _read_bytes(source)
    if isinstance(source, Path) and fallback_name is None:
        fallback_name = source.stem
    definition = _parse(data)
    sheet_names = tuple(definition.sheet_names or ())
    if not definition.survey and not definition.survey_header:
        raise FormError(ErrorCode.READ_003, sheets=", ".join(sheet_names) or "none")
    survey = list(_survey_rows(definition.survey or []))
    choices = [SheetRow("choices", i + 2, dict(c)) for i, c in enumerate(definition.choices or [])]
    settings = _settings(definition.settings or [])
    pyxform_data = _without_pii(definition, fallback_name)
    return Workbook(survey, choices, settings, sheet_names, fallback_name, pyxform_data)


def _read_bytes(source: Path | bytes) -> bytes:
    if isinstance(source, Path):
        try:
            if source.stat().st_size > MAX_WORKBOOK_BYTES:
                raise FormError(ErrorCode.READ_004, limit=MAX_WORKBOOK_BYTES)
            data = source.read_bytes()
        except OSError as exc:
            raise FormError(ErrorCode.READ_005, path=source, reason=exc.strerror or exc) from None
    else:
        data = bytes(source)
    if not data:
        raise FormError(ErrorCode.READ_002)
    if len(data) > MAX_WORKBOOK_BYTES:
        raise FormError(ErrorCode.READ_004, limit=MAX_WORKBOOK_BYTES)
    return data


def _parse(data: bytes) -> Any:
    if data.startswith(_XLSX_MAGIC):
        file_type = ".xlsx"
    elif data.startswith(_XLS_MAGIC):
        file_type = ".xls"
    else:
        raise FormError(ErrorCode.READ_001, detail="it is neither an .xlsx nor an .xls file")
    try:
        return get_xlsform(xlsform=BytesIO(data), file_type=file_type)
    except PyXFormError as exc:
        detail = str(exc).removeprefix("Argument 'definition' was not recognized as ")
        raise FormError(ErrorCode.READ_001, detail=_one_line(detail)) from None
    except Exception as exc:  # a damaged file can fail deep inside openpyxl or xlrd
        raise FormError(
            ErrorCode.READ_001, detail=_one_line(f"{type(exc).__name__}: {exc}")
        ) from None


def _one_line(text: str) -> str:
    return " ".join(text.split()).rstrip(".")


def _survey_rows(rows: Iterable[Mapping[str, str]]) -> Iterable[SurveyRow]:
    stack: list[tuple[str, bool]] = []  # (name, is_repeat) of the open groups and repeats
    for index, cells in enumerate(rows):
        probe = SheetRow("survey", index + 2, dict(cells))
        kind = normalise_type(probe.get("type"))
        name = probe.get("name")
        path = (*(n for n, _ in stack), name) if name else ()
        repeats = [i for i, (_, is_repeat) in enumerate(stack) if is_repeat]
        repeat = tuple(n for n, _ in stack[: repeats[-1] + 1]) if repeats else None
        yield SurveyRow("survey", index + 2, dict(cells), kind, name, path, repeat)
        if kind.startswith(CONTAINER_TYPES):
            stack.append((name, kind.startswith("begin repeat")))
        elif kind in END_TYPES and stack:
            stack.pop()


def _settings(rows: list[Mapping[str, str]]) -> dict[str, str]:
    if not rows:
        return {}
    found: dict[str, str] = {}
    for header, value in rows[0].items():
        key = header.strip().lower()
        found[_SETTINGS_ALIASES.get(key, key)] = str(value).strip()
    return found


def _is_pii_header(header: str) -> bool:
    return header.strip().lower() in PII_COLUMNS


def _without_pii(definition: Any, fallback_name: str | None) -> dict[str, Any]:
    data = {f.name: getattr(definition, f.name) for f in dataclasses.fields(DefinitionData)}
    data["survey"] = [
        {k: v for k, v in row.items() if not _is_pii_header(k)} for row in data["survey"] or []
    ]
    data["survey_header"] = [
        {k: v for k, v in row.items() if not _is_pii_header(k)}
        for row in data["survey_header"] or []
    ]
    data["fallback_form_name"] = fallback_name
    return data
