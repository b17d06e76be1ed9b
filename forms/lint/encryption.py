"""Rules on what encrypted submission needs: meta/instanceID, a sound key and URL."""

from __future__ import annotations

from collections.abc import Iterable

from forms.errors import ErrorCode, Finding, FormError
from forms.submission import check_submission_url, parse_public_key
from forms.workbook import Workbook

_YES = {"yes", "true", "true()", "1"}


def instance_id_kept(workbook: Workbook) -> Iterable[Finding]:
    """Fail when the settings drop or replace the meta/instanceID preload."""
    settings = workbook.settings
    if settings.get("omit_instanceid", "").strip().lower() in _YES:
        yield Finding.of(ErrorCode.ENC_001, sheet="settings")
    preload = settings.get("instance_id", "")
    if preload and preload != "uid":
        yield Finding.of(ErrorCode.ENC_002, sheet="settings", value=preload)


def instance_id_name_free(workbook: Workbook) -> Iterable[Finding]:
    """Fail when a question is named like meta/instanceID."""
    for row in workbook.survey:
        if row.name.lower() == "instanceid":
            yield Finding.of(ErrorCode.ENC_003, sheet="survey", row=row.row, name=row.name)


def public_key_valid(workbook: Workbook) -> Iterable[Finding]:
    """Fail when the settings' public_key is not an RSA SubjectPublicKeyInfo of 2048+ bits."""
    key = workbook.settings.get("public_key", "")
    if key:
        try:
            parse_public_key(key)
        except FormError as error:
            yield Finding.from_error(error)


def submission_url_valid(workbook: Workbook) -> Iterable[Finding]:
    """Fail on a submission_url tablets cannot post to; warn on plain http."""
    url = workbook.settings.get("submission_url", "")
    if url:
        yield from check_submission_url(url)
