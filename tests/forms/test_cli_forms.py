"""``collector forms build`` and ``collector forms check``, run through click's CliRunner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli_forms import forms_group
from forms.errors import ErrorCode
from forms.policy import PIIPolicy
from forms.surveys import path

Form = Callable[[str], Path]

UNTAGGED = """
| survey |
|        | type | name      | label |
|        | text | full_name | Name  |
| settings |
|          | form_id | version |
|          | u       | 1       |
"""


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_build_writes_xform_and_policy(
    runner: CliRunner, tmp_path: Path, public_pem: bytes, public_b64: str
) -> None:
    key = tmp_path / "key.pem"
    key.write_bytes(public_pem)
    out = tmp_path / "out" / "profile.xml"
    out.parent.mkdir()
    url = "https://collector.example.org/v1/key/t/projects/1/submission"
    result = runner.invoke(
        forms_group,
        [
            "build",
            str(path("migration_profile")),
            "--public-key",
            str(key),
            "--submission-url",
            url,
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert f'base64RsaPublicKey="{public_b64}"'.encode() in out.read_bytes()
    policy = PIIPolicy.from_json(
        (tmp_path / "out" / "profile.pii.json").read_text(encoding="utf-8")
    )
    assert "/migration_profile/person/full_name" in policy.fields
    assert "migration_profile version 2026112301, encrypted" in result.output


def test_build_defaults_beside_the_workbook_and_shows_warnings(
    runner: CliRunner, xlsform: Form
) -> None:
    source = xlsform(UNTAGGED)
    result = runner.invoke(forms_group, ["build", str(source)])
    assert result.exit_code == 0, result.output
    assert source.with_suffix(".xml").is_file()
    assert source.with_name(source.stem + ".pii.json").is_file()
    assert "warning: PII_008:" in result.output
    assert "NOT encrypted" in result.output


def test_check_clean_survey(runner: CliRunner) -> None:
    result = runner.invoke(forms_group, ["check", str(path("capacity_needs"))])
    assert result.exit_code == 0, result.output
    assert "0 errors, 0 warnings" in result.output


def test_check_reports_and_fails_on_errors(runner: CliRunner, xlsform: Form) -> None:
    source = xlsform(
        UNTAGGED.replace("| label |", "| label | pii |").replace("| Name  |", "| Name  | secret |")
    )
    result = runner.invoke(forms_group, ["check", str(source)])
    assert result.exit_code == 1
    expected = ErrorCode.PII_001.format(sheet="survey", row=2, value="secret")
    assert f"error: PII_001: {expected}" in result.output


def test_check_strict_fails_on_warnings(runner: CliRunner, xlsform: Form) -> None:
    source = xlsform(UNTAGGED)
    assert runner.invoke(forms_group, ["check", str(source)]).exit_code == 0
    assert runner.invoke(forms_group, ["check", "--strict", str(source)]).exit_code == 1


BAD = [
    ("not a workbook", "notes.txt", b"just text", ErrorCode.READ_001),
    ("empty file", "empty.xlsx", b"", ErrorCode.READ_002),
    ("missing file", "missing.xlsx", None, ErrorCode.READ_005),
]


@pytest.mark.parametrize(("case", "name", "payload", "code"), BAD, ids=[c[0] for c in BAD])
@pytest.mark.parametrize("command", ["build", "check"])
def test_bad_input_is_one_line_and_exit_1(
    runner: CliRunner,
    tmp_path: Path,
    command: str,
    case: str,
    name: str,
    payload: bytes | None,
    code: ErrorCode,
) -> None:
    source = tmp_path / name
    if payload is not None:
        source.write_bytes(payload)
    result = runner.invoke(forms_group, [command, str(source)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


KEYS = [
    (
        "broken key file",
        b"-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----\n",
        "The public key is invalid",
    ),
    ("PKCS#1 key", "pkcs1", "PKCS#1"),
    ("private key", "pkcs8_private", "That is a private key"),
]


@pytest.mark.parametrize(("case", "payload", "text"), KEYS, ids=[k[0] for k in KEYS])
def test_bad_key_file_is_one_line_and_exit_1(
    runner: CliRunner,
    tmp_path: Path,
    key_shapes: dict[str, bytes],
    case: str,
    payload: bytes | str,
    text: str,
) -> None:
    key = tmp_path / "key.pem"
    key.write_bytes(key_shapes[payload] if isinstance(payload, str) else payload)
    result = runner.invoke(
        forms_group,
        [
            "build",
            str(path("capacity_needs")),
            "--public-key",
            str(key),
            "-o",
            str(tmp_path / "x.xml"),
        ],
    )
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert text in lines[0]
    assert not (tmp_path / "x.xml").exists()


def test_unreadable_key_path_is_one_line(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(
        forms_group,
        ["build", str(path("capacity_needs")), "--public-key", str(tmp_path / "none.pem")],
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: Cannot read the public key '{tmp_path / 'none.pem'}': No such file or directory."
    ]
