"""``collector forms``: build XLSForms into encrypted-submission XForms, and check them.

Every survey problem is one line on stderr and exit status 1, naming the sheet and row where
there is one; never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from forms.build import build_xform
from forms.check import check_xlsform, errors_of
from forms.errors import FormError
from forms.policy import PIIKind


class FormsGroup(click.Group):
    """A group that turns a FormError into a one-line message and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FormError as exc:
            raise click.ClickException(str(exc)) from None


forms_group = FormsGroup(
    "forms", help="Build XLSForms into XForms (key and URL injected) and check them."
)


def _read_key(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise click.ClickException(
            f"Cannot read the public key '{path}': {exc.strerror}."
        ) from None


@forms_group.command("build")
@click.argument("xlsform", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--public-key",
    "public_key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="PEM file of the RSA public key ('BEGIN PUBLIC KEY') to encrypt submissions with.",
)
@click.option("--submission-url", help="Where tablets post submissions (https://…).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the XForm (default: XLSFORM with .xml); the PII policy goes beside it.",
)
def build(
    xlsform: Path, public_key: Path | None, submission_url: str | None, output: Path | None
) -> None:
    """Build XLSFORM into an XForm and its PII policy (<name>.pii.json)."""
    key = _read_key(public_key) if public_key is not None else None
    built = build_xform(xlsform, public_key=key, submission_url=submission_url)
    for warning in built.warnings:
        click.echo(str(warning), err=True)
    target = output or xlsform.with_suffix(".xml")
    try:
        xform_path, policy_path = built.write(target)
    except OSError as exc:
        raise click.ClickException(f"Cannot write '{target}': {exc.strerror}.") from None
    kinds = {kind: 0 for kind in PIIKind}
    for rule in built.policy.fields.values():
        kinds[rule.kind] += 1
    summary = ", ".join(f"{count} {kind.value}" for kind, count in kinds.items() if count)
    encrypted = (
        "encrypted" if b"base64RsaPublicKey" in built.xml else "NOT encrypted (no public key)"
    )
    click.echo(f"{xform_path}: {built.form_id} version {built.version or '(none)'}, {encrypted}")
    click.echo(f"{policy_path}: {len(built.policy.fields)} pii fields ({summary or 'none'})")


@forms_group.command("check")
@click.argument("xlsform", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
def check(xlsform: Path, strict: bool) -> None:
    """Check XLSFORM: pyxform's errors and warnings plus the project's lint."""
    findings = check_xlsform(xlsform)
    if len(findings) == 1 and findings[0].code.name.startswith("READ_"):
        raise click.ClickException(findings[0].message)
    for finding in findings:
        click.echo(str(finding))
    errors = errors_of(findings)
    warnings = len(findings) - len(errors)
    click.echo(f"{xlsform}: {len(errors)} errors, {warnings} warnings", err=True)
    if errors or (strict and warnings):
        raise SystemExit(1)


__all__ = ["build", "check", "forms_group"]
