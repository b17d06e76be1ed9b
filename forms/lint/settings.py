"""Rules on the settings sheet: a version and a usable form_id."""

from __future__ import annotations

import re
from collections.abc import Iterable

from forms.errors import ErrorCode, Finding
from forms.workbook import Workbook

_FORM_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def version_set(workbook: Workbook) -> Iterable[Finding]:
    """Warn when the form has no version, so updates would not reach the tablets."""
    if not workbook.settings.get("version"):
        yield Finding.of(ErrorCode.SETTINGS_001, sheet="settings")


def form_id_set(workbook: Workbook) -> Iterable[Finding]:
    """Warn when no form_id is set; fail when the one set cannot name a form."""
    form_id = workbook.settings.get("form_id", "")
    if not form_id:
        fallback = workbook.fallback_name or "data"
        yield Finding.of(ErrorCode.SETTINGS_002, sheet="settings", fallback=fallback)
    elif not _FORM_ID.match(form_id):
        yield Finding.of(ErrorCode.SETTINGS_003, sheet="settings", value=form_id)
