"""Build an XForm from an XLSForm: pii columns out, pyxform, public key and URL in.

The ``pii``/``pii_rule`` columns become the PII policy and are removed before pyxform reads
the workbook. The public key and submission URL go through pyxform's own ``public_key`` and
``submission_url`` settings (a key passed here replaces the workbook's), so the element is the
one pyxform writes: ``<submission action=… method="post" base64RsaPublicKey=…/>``.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyxform.errors import PyXFormError
from pyxform.xls2xform import convert

from forms.entity import check_entity_policy
from forms.errors import ErrorCode, Finding, FormError
from forms.lint import lint_workbook
from forms.model import FormModel, parse_xform
from forms.policy import (
    Derived,
    PIIKind,
    PIIPolicy,
    PIIRule,
    RowFacts,
    derive_protection,
    parse_pii,
    protect_audit_logs,
)
from forms.submission import check_submission_url, parse_public_key
from forms.verify import verify_xform
from forms.workbook import Workbook, read_workbook
from forms.xmlsafe import MAX_XFORM_BYTES, local, parse_xml

_ROW = re.compile(r"\[row\s*:\s*(\d+)\]|\bon row (\d+)\b|\brow number (\d+)\b", re.I)
_NAMED = re.compile(r"\bnamed '([^']+)'")
_SHEET = re.compile(r"On the '(\w+)' sheet|sheet: '(\w+)'|the (\w+) sheet\b")


@dataclass
class BuiltForm:
    """A built XForm with its identity, its PII policy and the warnings met on the way."""

    xml: bytes
    form_id: str
    version: str
    title: str
    policy: PIIPolicy
    warnings: list[Finding] = field(default_factory=list)
    model: FormModel | None = field(default=None, repr=False)

    def write(self, xform_path: Path) -> tuple[Path, Path]:
        """Write the XForm and, beside it, the policy as '<stem>.pii.json'."""
        policy_path = policy_path_for(xform_path)
        xform_path.write_bytes(self.xml)
        policy_path.write_text(self.policy.to_json(), encoding="utf-8")
        return xform_path, policy_path


def policy_path_for(xform_path: Path) -> Path:
    """Return where the policy of an XForm file is written."""
    return xform_path.with_name(xform_path.stem + ".pii.json")


def build_xform(
    source: Path | bytes,
    *,
    public_key: str | bytes | None = None,
    submission_url: str | None = None,
    form_id_fallback: str | None = None,
    version: str | None = None,
) -> BuiltForm:
    """Build an XLSForm into an XForm with its PII policy, injecting the key and URL.

    ``version`` replaces the settings sheet's version (a key rotation republishes a form as a
    new version of the same workbook).
    """
    workbook = read_workbook(source, fallback_name=form_id_fallback)
    if version is not None:
        workbook.settings["version"] = version
    key = public_key if public_key is not None else (workbook.settings.get("public_key") or None)
    if key is not None:
        workbook.settings["public_key"] = parse_public_key(key).base64
    if submission_url is not None:
        workbook.settings["submission_url"] = submission_url.strip()
        _raise_first(check_submission_url(submission_url.strip()))
    findings = lint_workbook(workbook)
    _raise_first(findings)
    xml, pyxform_warnings = run_pyxform(workbook)
    bare = parse_xform(xml)
    policy, derived = derive_protection(
        policy_of(workbook, bare.root), value_expressions(xml, bare)
    )
    findings += [_derived_finding(bare.root, d) for d in derived]
    policy, audits = protect_audit_logs(
        policy,
        [f.path for f in bare.fields if f.type == "binary" and f.path.endswith("/meta/audit")],
    )
    findings += [Finding.of(ErrorCode.PII_011, path=path[len(bare.root) + 1 :]) for path in audits]
    _raise_first(verify_xform(xml))
    model = parse_xform(xml, policy)
    entity_problems = check_entity_policy(model, policy, value_expressions(xml, bare))
    _raise_first([Finding.from_error(problem) for problem in entity_problems])
    _check_key_injected(xml, workbook)
    return BuiltForm(
        xml=xml,
        form_id=model.form_id,
        version=model.version,
        title=model.title,
        policy=policy,
        warnings=[*findings, *pyxform_warnings],
        model=model,
    )


def value_expressions(xml: bytes, model: FormModel) -> dict[str, str]:
    """Map each field to the expressions that set its value, joined when there are several.

    A bind's ``calculate`` is one; a ``setvalue`` action's ``value`` is another, wherever it
    stands (in the model, or in the body under the control that triggers it). pyxform writes
    one for a calculation with a ``trigger`` and for a dynamic ``default`` (``${full_name}``).
    """
    found = {f.path: [f.calculate] for f in model.fields if f.calculate}
    for element in parse_xml(xml, what="XForm", limit=MAX_XFORM_BYTES).iter():
        ref, value = (element.get("ref") or "").strip(), element.get("value")
        if local(element.tag) == "setvalue" and value and model.has_field(ref):
            found.setdefault(model.field(ref).path, []).append(value)
    return {path: " ".join(values) for path, values in found.items()}


def _derived_finding(root: str, derived: Derived) -> Finding:
    def shown(path: str) -> str:
        return path[len(root) + 1 :]

    treatment = (
        "nowhere (dropped)"
        if derived.rule.kind is PIIKind.DROP
        else "sealed, for admins only (sensitive)"
    )
    return Finding.of(
        ErrorCode.PII_010,
        path=shown(derived.path),
        source=shown(derived.source),
        treatment=treatment,
    )


def _raise_first(findings: list[Finding]) -> None:
    error = next((f for f in findings if f.level == "error"), None)
    if error is not None:
        raise FormError.from_finding(error)


def policy_of(workbook: Workbook, root: str) -> PIIPolicy:
    """Collect the pii columns of a workbook into a policy keyed by instance path."""
    fields: dict[str, PIIRule] = {}
    for row in workbook.survey:
        facts = RowFacts(
            row.row,
            row.name,
            row.base_type,
            row.get("appearance").lower(),
            row.holds_answer,
            row.type,
        )
        rule = parse_pii(row.get("pii"), row.get("pii_rule"), facts)
        if rule is not None:
            fields[root + "/" + "/".join(row.path)] = rule
    return PIIPolicy(fields)


def run_pyxform(workbook: Workbook) -> tuple[bytes, list[Finding]]:
    """Convert the workbook (pii columns removed, settings applied) with pyxform."""
    data = _with_settings(copy.deepcopy(workbook.pyxform_data), workbook.settings)
    warnings: list[str] = []
    try:
        result = convert(xlsform=data, warnings=warnings)
    except PyXFormError as exc:
        raise _pyxform_error(exc, str(exc), workbook) from None
    except Exception as exc:  # pyxform can fail on input it does not anticipate
        message = f"pyxform could not convert the form: {exc}"
        raise _pyxform_error(exc, message, workbook) from None
    found = [_located(ErrorCode.PYXFORM_002, w) for w in warnings]
    return str(result.xform).encode("utf-8"), found


def _with_settings(data: dict[str, Any], settings: dict[str, str]) -> dict[str, Any]:
    """Apply the key, URL and version (possibly passed to the build) to pyxform's settings."""
    names = ("public_key", "submission_url", "version")
    wanted = {k: settings[k] for k in names if settings.get(k)}
    if not wanted:
        return data
    rows = data.get("settings") or [{}]
    headers = data.get("settings_header") or [{}]
    for key, value in wanted.items():
        rows[0][key] = value
        headers[0][key] = None
    data["settings"], data["settings_header"] = rows, headers
    return data


def _pyxform_error(exc: Exception, message: str, workbook: Workbook) -> FormError:
    context = getattr(exc, "context", None) or {}
    finding = _located(ErrorCode.PYXFORM_001, message)
    row = context.get("row") or finding.row
    sheet = context.get("sheet") or finding.sheet or ("survey" if row else None)
    text = finding.message
    if row is None:
        # Some pyxform errors name the element but not its row: find the row by name.
        named = _NAMED.search(text)
        found = [r.row for r in workbook.survey if named and r.name == named.group(1)]
        if len(found) == 1:
            sheet, row = "survey", found[0]
            text = f"[row : {row}] On the 'survey' sheet: {text}"
    return FormError(ErrorCode.PYXFORM_001, sheet=sheet, row=row, message=text)


def _located(code: ErrorCode, message: str) -> Finding:
    """Make a finding from a pyxform message, reading its sheet and row from the text."""
    text = " ".join(message.split())
    row_match = _ROW.search(text)
    sheet_match = _SHEET.search(text)
    row = int(next(g for g in row_match.groups() if g)) if row_match else None
    sheet = next(g for g in sheet_match.groups() if g).lower() if sheet_match else None
    return Finding(code, code.level, text, sheet, row)


def _check_key_injected(xml: bytes, workbook: Workbook) -> None:
    key = workbook.settings.get("public_key")
    if key and f'base64RsaPublicKey="{key}"'.encode() not in xml:
        raise FormError(ErrorCode.XML_004, part="submission element carrying the public key")
