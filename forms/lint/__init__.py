"""The project's own XLSForm lint: one rule per function, grouped by topic, pyxform-style.

Each rule takes the read workbook and yields findings from the ``ErrorCode`` catalogue. The
build raises the first error; ``check`` reports them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from forms.errors import Finding
from forms.lint import encryption, pii, settings, translations
from forms.workbook import Workbook

Rule = Callable[[Workbook], Iterable[Finding]]

RULES: tuple[Rule, ...] = (
    pii.pii_values,
    pii.untagged_identifiers,
    pii.untagged_free_text,
    translations.missing_translations,
    translations.default_language_known,
    settings.version_set,
    settings.form_id_set,
    encryption.instance_id_kept,
    encryption.instance_id_name_free,
    encryption.public_key_valid,
    encryption.submission_url_valid,
)


def lint_workbook(workbook: Workbook) -> list[Finding]:
    """Run every rule on a workbook and return the findings in rule order."""
    return [finding for rule in RULES for finding in rule(workbook)]
