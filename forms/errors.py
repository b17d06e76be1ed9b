"""Errors and findings of the survey toolkit, with one catalogue of message templates.

```
Exception
 └── FormError          one clear message (code, sheet, row); raised by build, model, policy
Finding                 a lint or pyxform result (error or warning); returned by check
ErrorCode               the catalogue: each member holds a name, a level and a template
```
Templates follow pyxform's habit: a location prefix ``[row : N] On the 'sheet' sheet`` where
there is one, then what is wrong and what to do. Tests assert with the same templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from string import Formatter
from typing import Any, Literal

Level = Literal["error", "warning"]


class _Formatter(Formatter):
    """Fill a missing template key with 'unknown' rather than failing while reporting."""

    def get_value(self, key: int | str, args: Any, kwargs: Any) -> Any:
        if isinstance(key, str):
            value = kwargs.get(key)
            return "unknown" if value is None else value
        return super().get_value(key, args, kwargs)


_FORMATTER = _Formatter()


@dataclass(frozen=True)
class Detail:
    """One catalogue entry: a short name, a default level and a message template."""

    name: str
    level: Level
    msg: str

    def format(self, **context: object) -> str:
        """Fill the template from the context."""
        return _FORMATTER.format(self.msg, **context)


_ROW = "[row : {row}] On the '{sheet}' sheet, "
_PII_VALUES = "identifier, quasi, sensitive, drop"
_QUASI_RULES = "year, month, band:N, round:N, admin1"


class ErrorCode(Enum):
    """Catalogue of every message the toolkit gives."""

    # Reading the workbook.
    READ_001 = Detail(
        "not a workbook",
        "error",
        ("The file is not an XLSForm workbook (.xlsx or .xls): {detail}."),
    )
    READ_002 = Detail(
        "empty file",
        "error",
        ("The file is empty: an XLSForm workbook (.xlsx or .xls) is expected."),
    )
    READ_003 = Detail(
        "missing survey sheet",
        "error",
        (
            "The workbook has no 'survey' sheet (sheets found: {sheets}). Add a sheet named "
            "'survey'."
        ),
    )
    READ_004 = Detail(
        "too large",
        "error",
        ("The file is larger than {limit} bytes; this is not a survey workbook."),
    )
    READ_005 = Detail("unreadable file", "error", "Cannot read '{path}': {reason}.")
    # pyxform's own results, kept in its words.
    PYXFORM_001 = Detail("pyxform error", "error", "{message}")
    PYXFORM_002 = Detail("pyxform warning", "warning", "{message}")
    # The pii and pii_rule columns.
    PII_001 = Detail(
        "unknown pii value",
        "error",
        (
            _ROW
            + "the 'pii' value '{value}' is invalid. Use one of: "
            + _PII_VALUES
            + ", or leave it blank for ordinary data."
        ),
    )
    PII_002 = Detail(
        "quasi without rule",
        "error",
        (
            _ROW
            + "the 'pii' value 'quasi' needs a 'pii_rule' saying how to generalise it: one of "
            + _QUASI_RULES
            + "."
        ),
    )
    PII_003 = Detail(
        "invalid quasi rule",
        "error",
        (
            _ROW
            + "the 'pii_rule' value '{value}' is invalid for 'quasi'. Use one of: "
            + _QUASI_RULES
            + " (band:N with N from 1 to 1000, round:N with N from 0 to 6)."
        ),
    )
    PII_004 = Detail(
        "rule without pii",
        "error",
        (
            _ROW + "the 'pii_rule' value '{value}' is set but 'pii' is blank. Set 'pii' or remove "
            "the rule."
        ),
    )
    PII_005 = Detail(
        "rule not allowed",
        "error",
        (_ROW + "the 'pii_rule' value '{value}' is invalid for '{kind}'. {allowed}"),
    )
    PII_006 = Detail(
        "pii on a row without data",
        "error",
        (
            _ROW
            + "the 'pii' value is set on a '{type}' row, which stores no answer. Put it on the "
            "question itself."
        ),
    )
    PII_007 = Detail(
        "quasi rule does not fit the type",
        "error",
        (
            _ROW + "the 'pii_rule' value '{value}' cannot generalise a '{type}' question. It fits: "
            "{fits}."
        ),
    )
    PII_008 = Detail(
        "untagged identifier",
        "warning",
        (
            _ROW
            + "the question '{name}' looks identifying ({reason}) but has no 'pii' value. Mark "
            "it identifier, quasi, sensitive or drop."
        ),
    )
    PII_009 = Detail(
        "untagged free text",
        "warning",
        (
            _ROW
            + "the free-text question '{name}' has no 'pii' value. Free text can hold anything:"
            " mark it sensitive or drop (or identifier)."
        ),
    )
    PII_010 = Detail(
        "calculation from protected data",
        "warning",
        (
            "The calculated field '{path}' uses '{source}', which holds protected data, so its "
            "value is stored {treatment}. Give it a 'pii' value of its own to choose otherwise."
        ),
    )
    PII_011 = Detail(
        "audit log sealed",
        "warning",
        (
            "The audit log '{path}' can hold answers, locations and user names as they were "
            "entered, so it is stored sealed, for admins only (sensitive)."
        ),
    )
    # Translations.
    TRANS_001 = Detail(
        "missing translation",
        "warning",
        (_ROW + "the '{column}' text is given in {present} but missing in {missing}."),
    )
    # Settings.
    SETTINGS_001 = Detail(
        "no version",
        "warning",
        (
            "On the 'settings' sheet, no 'version' is set. Set one (for example a date such "
            "as 2026112301) so every change reaches the tablets as a new version."
        ),
    )
    SETTINGS_002 = Detail(
        "no form_id",
        "warning",
        (
            "On the 'settings' sheet, no 'form_id' is set; the form would be called "
            "'{fallback}'. Set a 'form_id'."
        ),
    )
    SETTINGS_003 = Detail(
        "form_id not usable",
        "error",
        (
            "On the 'settings' sheet, the 'form_id' '{value}' is invalid. Use letters, "
            "digits, '_', '-' and '.', starting with a letter or '_'."
        ),
    )
    SETTINGS_004 = Detail(
        "default language unknown",
        "warning",
        (
            "On the 'settings' sheet, the 'default_language' '{value}' is not one of the "
            "form's languages: {languages}."
        ),
    )
    # Encrypted submission.
    ENC_001 = Detail(
        "instanceID omitted",
        "error",
        (
            "On the 'settings' sheet, 'omit_instanceID' is set: encrypted submissions need "
            "meta/instanceID. Remove the setting."
        ),
    )
    ENC_002 = Detail(
        "instanceID overridden",
        "error",
        (
            "On the 'settings' sheet, 'instance_id' replaces the meta/instanceID preload with"
            " '{value}': encrypted submissions need the standard unique instanceID. Remove "
            "the setting."
        ),
    )
    ENC_003 = Detail(
        "instanceID question",
        "error",
        (
            _ROW
            + "the question '{name}' collides with meta/instanceID, which encrypted submissions"
            " need. Rename it."
        ),
    )
    ENC_004 = Detail(
        "malformed public key",
        "error",
        (
            "The public key is invalid: {detail}. Give an RSA public key as PEM ('BEGIN "
            "PUBLIC KEY') or as base64 DER SubjectPublicKeyInfo."
        ),
    )
    ENC_005 = Detail(
        "PKCS#1 public key",
        "error",
        (
            "The public key is a PKCS#1 'BEGIN RSA PUBLIC KEY'; ODK Collect needs the "
            "SubjectPublicKeyInfo form ('BEGIN PUBLIC KEY'). Convert it with: openssl rsa "
            "-RSAPublicKey_in -in KEY -pubout."
        ),
    )
    ENC_006 = Detail(
        "private key given",
        "error",
        (
            "That is a private key ('{label}'): never put it in a form. Give the public key "
            "('BEGIN PUBLIC KEY')."
        ),
    )
    ENC_007 = Detail(
        "malformed submission_url",
        "error",
        ("The submission_url '{value}' is invalid: {detail}."),
    )
    ENC_008 = Detail(
        "plain http submission_url",
        "warning",
        (
            "The submission_url '{value}' uses plain http; tablets would send app-user tokens"
            " in clear. Use https."
        ),
    )
    ENC_009 = Detail(
        "RSA key too small",
        "error",
        ("The public key is RSA-{bits}; use at least 2048 bits."),
    )
    ENC_010 = Detail(
        "not an RSA key",
        "error",
        ("The public key is not an RSA key (algorithm {oid}); ODK encryption needs RSA."),
    )
    # The XForm and its instances.
    # Entities (the entities sheet).
    ENT_001 = Detail(
        "entity declaration", "error", "The form's entity declaration is not valid: {detail}."
    )
    ENT_002 = Detail(
        "entity property name",
        "error",
        (
            "The field '{path}' saves to '{property}', which is not a valid property name "
            "(letters, digits, _ . -; not name or label, not starting with __)."
        ),
    )
    ENT_003 = Detail(
        "save_to on no field",
        "error",
        "The bind '{path}' saves to '{property}' but is not a field of the form.",
    )
    ENT_004 = Detail(
        "save_to in a repeat",
        "error",
        (
            "The field '{path}' is inside a repeat and saves to '{property}'; only fields "
            "outside repeats can be saved to an entity."
        ),
    )
    ENT_005 = Detail(
        "protected data saved to an entity",
        "error",
        (
            "The field '{path}' is {kind} but saves to the entity property '{property}'. "
            "Entities are served to devices and data managers outside the pseudonymised "
            "record: remove the save_to, or save a field that holds no protected data."
        ),
    )
    ENT_006 = Detail(
        "protected data in an entity label",
        "error",
        (
            "The entity label uses '{source}', which has a 'pii' value. A label is shown on "
            "every device that uses the list: build it from fields without a 'pii' value."
        ),
    )
    XML_001 = Detail("not well-formed", "error", "The {what} is not well-formed XML: {detail}.")
    XML_002 = Detail(
        "DTD or entity",
        "error",
        ("The {what} declares a DTD or an entity; these are refused."),
    )
    XML_003 = Detail("XML too large", "error", "The {what} is larger than {limit} bytes.")
    XML_004 = Detail("XForm structure", "error", "The XForm has no {part}.")
    XML_005 = Detail(
        "dangling reference",
        "error",
        ("The XForm's {where} '{ref}' matches no node of the primary instance."),
    )
    XML_006 = Detail(
        "missing itext",
        "error",
        ("The XForm's itext for language '{language}' lacks the text '{text_id}'."),
    )
    XML_007 = Detail(
        "instance does not match",
        "error",
        ("The submission's root '{found}' does not match the form's root '{expected}'."),
    )
    XML_008 = Detail(
        "policy field not in form",
        "error",
        ("The PII policy names '{path}', which is not a field of the form."),
    )
    XML_009 = Detail("bad policy JSON", "error", "The PII policy JSON is invalid: {detail}.")

    XML_010 = Detail(
        "unknown bind type",
        "error",
        "The XForm's bind for '{ref}' has the unknown type '{value}'.",
    )

    @property
    def level(self) -> Level:
        """Return the code's default level."""
        return self.value.level

    def format(self, **context: object) -> str:
        """Fill the code's template from the context."""
        return self.value.format(**context)


class FormError(Exception):
    """A survey, key or XForm problem, told in one line that names the sheet and row."""

    def __init__(
        self,
        code: ErrorCode,
        *,
        sheet: str | None = None,
        row: int | None = None,
        **context: object,
    ) -> None:
        self.code = code
        self.sheet = sheet
        self.row = row
        self.context = context
        self.message = " ".join(code.format(sheet=sheet, row=row, **context).split())
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    @classmethod
    def from_finding(cls, finding: Finding) -> FormError:
        """Raise-ready error from an error finding, keeping its message."""
        error = cls(finding.code, sheet=finding.sheet, row=finding.row)
        error.message = finding.message
        error.args = (finding.message,)
        return error


@dataclass(frozen=True)
class Finding:
    """One result of checking a survey: a catalogued code, its level and where it is."""

    code: ErrorCode
    level: Level
    message: str
    sheet: str | None = None
    row: int | None = None

    @classmethod
    def of(
        cls, code: ErrorCode, *, sheet: str | None = None, row: int | None = None, **context: object
    ) -> Finding:
        """Make a finding at the code's default level from its template."""
        message = " ".join(code.format(sheet=sheet, row=row, **context).split())
        return cls(code, code.level, message, sheet, row)

    @classmethod
    def from_error(cls, error: FormError) -> Finding:
        """Turn a raised error into an error finding."""
        return cls(error.code, "error", error.message, error.sheet, error.row)

    def __str__(self) -> str:
        return f"{self.level}: {self.code.name}: {self.message}"
