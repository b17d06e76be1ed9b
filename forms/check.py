"""Check an XLSForm: pyxform's errors and warnings plus the project's own lint.

``check_xlsform`` never raises for a bad survey: every problem becomes a ``Finding`` with the
sheet and row where there is one. A form with no error findings builds.
"""

from __future__ import annotations

from pathlib import Path

from forms.build import run_pyxform
from forms.errors import ErrorCode, Finding, FormError
from forms.lint import lint_workbook
from forms.verify import verify_xform
from forms.workbook import read_workbook

__all__ = ["ErrorCode", "Finding", "check_xlsform", "errors_of"]


def check_xlsform(source: Path | bytes) -> list[Finding]:
    """Return every finding about an XLSForm workbook, errors and warnings alike."""
    try:
        workbook = read_workbook(source)
    except FormError as error:
        return [Finding.from_error(error)]
    findings = lint_workbook(workbook)
    try:
        xml, warnings = run_pyxform(workbook)
    except FormError as error:
        return [*findings, Finding.from_error(error)]
    return [*findings, *warnings, *verify_xform(xml)]


def errors_of(findings: list[Finding]) -> list[Finding]:
    """Return the findings at error level."""
    return [f for f in findings if f.level == "error"]
