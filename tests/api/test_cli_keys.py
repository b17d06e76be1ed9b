"""``collector init``, ``projects``, ``keys`` and ``decrypt`` as an operator runs them."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from keys import keyring as kr
from keys import odk
from tests.api.conftest import Invoke

BRIEFCASE_MEDIA = "encrypted-form-media"


def briefcase_dir(vectors: Path, tmp_path: Path, name: str = BRIEFCASE_MEDIA) -> Path:
    """Lay out a Briefcase vector as Briefcase stores an instance: submission.xml + .enc files."""
    src = vectors / "briefcase"
    out = tmp_path / "instance"
    out.mkdir()
    shutil.copy(src / f"{name}-submission.xml", out / "submission.xml")
    shutil.copy(src / f"{name}-submission.xml.enc", out / "submission.xml.enc")
    for enc in src.glob(f"{name}-*.jpg.enc"):
        shutil.copy(enc, out / enc.name.removeprefix(f"{name}-"))
    return out


def one_line_error(result: object) -> str:
    output = result.stderr  # type: ignore[attr-defined]
    assert result.exit_code == 1, output  # type: ignore[attr-defined]
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


def test_init_is_idempotent_and_makes_a_private_key_file(cli: Invoke, tmp_path: Path) -> None:
    first = cli("init")
    assert first.exit_code == 0, first.output
    key_file = tmp_path / "data" / "keys" / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    content = key_file.read_bytes()
    again = cli("init")
    assert again.exit_code == 0, again.output
    assert key_file.read_bytes() == content


def test_commands_before_init_say_so(cli: Invoke) -> None:
    assert "collector init" in one_line_error(cli("projects", "create", "X"))


def test_projects_and_keys(initialised: Invoke) -> None:
    created = initialised("projects", "create", "Göç profili")
    assert created.exit_code == 0, created.output
    project = created.stdout.strip()
    assert project.isdigit()
    rotated = initialised("keys", "rotate", "--project", project)
    assert rotated.exit_code == 0, rotated.output
    listed = json.loads(initialised("keys", "list", "--project", project, "--json").stdout)
    assert [(g["generation"], g["state"]) for g in listed] == [(1, "retired"), (2, "active")]
    assert all("private" not in json.dumps(g).lower() for g in listed)
    assert "does not exist" in one_line_error(initialised("keys", "rotate", "--project", "99"))


def test_decrypt_briefcase_vector_with_pem(cli: Invoke, vectors: Path, tmp_path: Path) -> None:
    src = briefcase_dir(vectors, tmp_path)
    out = tmp_path / "out"
    result = cli(
        "decrypt",
        str(src),
        "--out",
        str(out),
        "--key",
        str(vectors / "briefcase" / "encrypted-form-key.pem"),
    )
    assert result.exit_code == 0, result.output
    manifest = odk.parse_manifest((src / "submission.xml").read_bytes())
    assert result.stdout.strip() == f"{manifest.instance_id} signature=valid"
    media = vectors / "briefcase" / "encrypted-form-media-media"
    for original in media.iterdir():
        assert (out / original.name).read_bytes() == original.read_bytes()
    assert b"<" in (out / "submission.xml").read_bytes()[:1]


@pytest.mark.parametrize(
    ("case", "damage", "expected"),
    [
        ("wrong key", "key", "could not be decrypted"),
        ("missing media", "missing", "1538040019351.jpg.enc"),
        ("corrupt ciphertext", "truncate", "could not be decrypted"),
        ("not a manifest", "manifest", "not an encrypted submission"),
    ],
)
def test_decrypt_failures_write_nothing(
    cli: Invoke, vectors: Path, tmp_path: Path, case: str, damage: str, expected: str
) -> None:
    src = briefcase_dir(vectors, tmp_path)
    key = vectors / "briefcase" / "encrypted-form-key.pem"
    if damage == "key":
        key = vectors / "central-backend" / "priv.pem"
    elif damage == "missing":
        (src / "1538040019351.jpg.enc").unlink()
    elif damage == "truncate":
        enc = src / "1538040019351.jpg.enc"
        enc.write_bytes(enc.read_bytes()[:-5])
    elif damage == "manifest":
        (src / "submission.xml").write_bytes(b"<data>not encrypted</data>")
    out = tmp_path / "out"
    message = one_line_error(cli("decrypt", str(src), "--out", str(out), "--key", str(key)))
    assert expected in message
    assert not out.exists() or not any(out.iterdir())


def test_decrypt_with_the_managed_keyring(
    initialised: Invoke, vectors: Path, tmp_path: Path
) -> None:
    project = initialised("projects", "create", "Imported").stdout.strip()
    src = briefcase_dir(vectors, tmp_path)
    out = tmp_path / "out"
    before = initialised("decrypt", str(src), "--out", str(out), "--project", project)
    assert "could not be decrypted" in one_line_error(before)
    pem = vectors / "briefcase" / "encrypted-form-key.pem"
    imported = initialised("keys", "import", "--project", project, "--pem", str(pem))
    assert imported.exit_code == 0, imported.output
    after = initialised("decrypt", str(src), "--out", str(out), "--project", project)
    assert after.exit_code == 0, after.output
    assert after.stdout.strip().endswith("signature=valid")


def test_central_key_import_and_decrypt(initialised: Invoke, vectors: Path, tmp_path: Path) -> None:
    data = json.loads(
        (vectors / "central-backend" / "central-crypto-test-vectors.json").read_text()
    )["managed_getPrivate"]
    record = tmp_path / "central-key.json"
    record.write_text(json.dumps(data["examples"][0]))
    good = tmp_path / "pass"
    good.write_text(data["passphrase"] + "\n")
    bad = tmp_path / "bad"
    bad.write_text(data["wrong_passphrases"][0])
    # A submission sealed for the Central key (made by our Collect-equivalent encryptor).
    private = kr.import_central_managed_key(data["examples"][0], data["passphrase"])
    sealed = odk.encrypt_submission(
        form_id="central_form",
        version="1",
        instance_id="uuid:5e1f8a43-1b84-4e09-9d54-cf8f1b0e1a11",
        xml=b"<data id='central_form'><name>Ay\xc5\x9fe</name></data>",
        media=[],
        public_key=private.public_key(),
    )
    src = tmp_path / "sub"
    src.mkdir()
    (src / "submission.xml").write_bytes(sealed.manifest)
    for name, blob in sealed.files.items():
        (src / name).write_bytes(blob)
    wrong = initialised(
        "decrypt",
        str(src),
        "--out",
        str(tmp_path / "o1"),
        "--central-key",
        str(record),
        "--passphrase-file",
        str(bad),
    )
    assert "passphrase" in one_line_error(wrong).lower()
    ok = initialised(
        "decrypt",
        str(src),
        "--out",
        str(tmp_path / "o2"),
        "--central-key",
        str(record),
        "--passphrase-file",
        str(good),
    )
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "o2" / "submission.xml").read_bytes().startswith(b"<data id='central")
    project = initialised("projects", "create", "From Central").stdout.strip()
    imported = initialised(
        "keys",
        "import",
        "--project",
        project,
        "--central-key",
        str(record),
        "--passphrase-file",
        str(good),
    )
    assert imported.exit_code == 0, imported.output
    via_ring = initialised("decrypt", str(src), "--out", str(tmp_path / "o3"), "--project", project)
    assert via_ring.exit_code == 0, via_ring.output
    # Opening plaintext with the server's keys is audited (the directory, by whom, when).
    entries = json.loads(initialised("audit", "list", "--json").stdout)
    [entry] = [e for e in entries if e["action"] == "keys.decrypt"]
    assert json.loads(entry["details"])["directory"] == str(src)
    assert str(entry["projectId"]) == project


def test_rewrap_replaces_the_key_file_and_keeps_every_key(
    initialised: Invoke, tmp_path: Path, vectors: Path
) -> None:
    project = initialised("projects", "create", "P").stdout.strip()
    pem = vectors / "briefcase" / "encrypted-form-key.pem"
    assert initialised("keys", "import", "--project", project, "--pem", str(pem)).exit_code == 0
    key_file = tmp_path / "data" / "keys" / "master.key"
    old = key_file.read_bytes()
    result = initialised("keys", "rewrap")
    assert result.exit_code == 0, result.output
    assert "rewrapped 4 sealed keys" in result.stdout  # 2 RSA + pseudonym and data keys
    assert key_file.read_bytes() != old
    assert [p.read_bytes() for p in key_file.parent.glob("master.key.retired-*")] == [old]
    src = briefcase_dir(vectors, tmp_path)
    decrypted = initialised("decrypt", str(src), "--out", str(tmp_path / "o"), "--project", project)
    assert decrypted.exit_code == 0, decrypted.output
    retired = next(key_file.parent.glob("master.key.retired-*"))
    stale = initialised(
        "keys", "list", "--project", project, env={"COLLECTOR_MASTER_KEY_FILE": str(retired)}
    )
    assert "master key does not match" in one_line_error(stale)


def test_escrow_export_then_offline_decrypt(
    initialised: Invoke, vectors: Path, tmp_path: Path
) -> None:
    project = initialised("projects", "create", "Escrow").stdout.strip()
    pem = vectors / "briefcase" / "encrypted-form-key.pem"
    assert initialised("keys", "import", "--project", project, "--pem", str(pem)).exit_code == 0
    passphrase = tmp_path / "escrow-pass"
    passphrase.write_text("long escrow passphrase\n")
    bundle = tmp_path / "escrow.json"
    exported = initialised(
        "keys",
        "export",
        "--project",
        project,
        "--out",
        str(bundle),
        "--passphrase-file",
        str(passphrase),
    )
    assert exported.exit_code == 0, exported.output
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" not in bundle.read_bytes()
    src = briefcase_dir(vectors, tmp_path)
    done = initialised(
        "decrypt",
        str(src),
        "--out",
        str(tmp_path / "o"),
        "--bundle",
        str(bundle),
        "--passphrase-file",
        str(passphrase),
    )
    assert done.exit_code == 0, done.output


def test_decrypt_needs_exactly_one_key_source(cli: Invoke, vectors: Path, tmp_path: Path) -> None:
    src = briefcase_dir(vectors, tmp_path)
    result = cli("decrypt", str(src), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert "exactly one" in result.stderr


def test_rotate_republishes_and_status_and_destroy(initialised: Invoke, tmp_path: Path) -> None:
    from tests.support.xlsform import FIELD_VISIT, md_to_xlsx

    project = initialised("projects", "create", "Rotating").stdout.strip()
    xlsx = tmp_path / "visit.xlsx"
    xlsx.write_bytes(md_to_xlsx(FIELD_VISIT))
    published = initialised("forms", "publish", str(xlsx), "--project", project)
    assert published.stdout.split() == ["field_visit", "2026112301"]
    rotated = initialised("keys", "rotate", "--project", project)
    assert rotated.exit_code == 0, rotated.output
    assert "republished field_visit: 2026112301 -> 2026112301-k2" in rotated.stdout
    status = json.loads(initialised("keys", "status", "--project", project, "--json").stdout)
    assert [(g["generation"], g["state"], g["pending"], g["stragglers"]) for g in status] == [
        (1, "retired", 0, []),
        (2, "active", 0, []),
    ]
    assert "rotate first" in one_line_error(
        initialised("keys", "destroy", "--project", project, "--generation", "2")
    )
    destroyed = initialised("keys", "destroy", "--project", project, "--generation", "1")
    assert destroyed.exit_code == 0, destroyed.output
    listed = json.loads(initialised("keys", "list", "--project", project, "--json").stdout)
    assert [g["state"] for g in listed] == ["destroyed", "active"]
