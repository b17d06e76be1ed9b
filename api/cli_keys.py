"""``collector keys`` (the managed keyring) and ``collector decrypt`` (offline, Briefcase-like)."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from api.cli_common import CLIState, echo_json, pass_state, read_secret_file
from api.config import promote_key_file, staged_key_file
from collector import audit, keyring, masterkey, offline, rotation
from collector.audit import CLI
from collector.db import transaction
from collector.errors import InvalidInput
from keys import kek as kek_sources
from keys import keyring as kr

PathArg = click.Path(dir_okay=False, path_type=Path)
ExistingFile = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group("keys")
def keys_group() -> None:
    """The project keyrings: list, rotate, rewrap, import and export."""


@keys_group.command("list")
@click.option("--project", "project_id", type=int, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_state
def list_keys(state: CLIState, project_id: int, as_json: bool) -> None:
    """List a project's key generations (public facts only)."""
    instance = state.instance()
    with instance.sessions() as session:
        infos = [keyring.describe(r) for r in keyring.generations(session, project_id)]
    if as_json:
        echo_json([info.__dict__ for info in infos])
        return
    for info in infos:
        click.echo(
            f"{info.generation}\t{info.state}\tRSA-{info.bits}\t{info.source}\t"
            f"sha256:{info.fingerprint[:16]}\t{info.created_at}"
        )


@keys_group.command("rotate")
@click.option("--project", "project_id", type=int, required=True)
@click.option("--bits", type=click.Choice(["2048", "3072", "4096"]), default=None)
@pass_state
def rotate(state: CLIState, project_id: int, bits: str | None) -> None:
    """Make a new key generation active and republish every form with it.

    The old generation stays for decryption only: submissions from tablets that have not
    updated yet keep arriving and keep decrypting.
    """
    instance = state.instance()
    size = int(bits) if bits else instance.settings.rsa_bits
    with transaction(instance.sessions) as session:
        row, republished = rotation.rotate_project(
            session, project_id, instance.kek, bits=size, actor=CLI
        )
        generation = row.generation
    click.echo(f"project {project_id}: generation {generation} is active")
    for form in republished:
        click.echo(f"republished {form.xml_form_id}: {form.old_version} -> {form.new_version}")


@keys_group.command("status")
@click.option("--project", "project_id", type=int, required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def key_status(state: CLIState, project_id: int, as_json: bool) -> None:
    """Show each generation's pending envelopes, last submission and devices not updated."""
    instance = state.instance()
    with instance.sessions() as session:
        rows = rotation.status(session, project_id)
    if as_json:
        echo_json([dataclasses.asdict(r) for r in rows])
        return
    for row in rows:
        last = row.last_submission.isoformat() if row.last_submission else "never"
        click.echo(
            f"generation {row.generation}\t{row.state}\tpending {row.pending}\t"
            f"processed {row.processed}\tlast submission {last}"
        )
        for s in row.stragglers:
            click.echo(
                f"  not updated: app user {s.app_user_id} {s.display_name} "
                f"({s.xml_form_id} {s.version}, last download {s.last_download:%Y-%m-%d})"
            )


@keys_group.command("destroy")
@click.option("--project", "project_id", type=int, required=True)
@click.option("--generation", type=int, required=True)
@click.option("--force", is_flag=True, help="Destroy even if something still depends on it.")
@click.option("--reason", default="", help="Required with --force (audited).")
@pass_state
def destroy(state: CLIState, project_id: int, generation: int, force: bool, reason: str) -> None:
    """Destroy a retired generation's private key for good (refused while still needed)."""
    instance = state.instance()
    with transaction(instance.sessions) as session:
        rotation.destroy(session, project_id, generation, actor=CLI, force=force, reason=reason)
    click.echo(f"project {project_id}: generation {generation} destroyed")


def _load_private_keys(
    key: Path | None, central_key: Path | None, bundle: Path | None, passphrase_file: Path | None
) -> list[RSAPrivateKey]:
    passphrase = read_secret_file(passphrase_file) if passphrase_file else None
    if key is not None:
        return [
            kr.load_private_key_pem(
                key.read_bytes(), passphrase.encode() if passphrase is not None else None
            )
        ]
    if passphrase is None:
        raise click.UsageError("--passphrase-file is required with --central-key and --bundle")
    if central_key is not None:
        return [kr.import_central_managed_key(r, passphrase) for r in _central_records(central_key)]
    assert bundle is not None
    return [e.private_key for e in kr.import_escrow_bundle(bundle.read_bytes(), passphrase)]


def _central_records(path: Path) -> list[dict[str, str]]:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{path} is not a JSON file: {exc}") from None
    records = data if isinstance(data, list) else [data]
    if not records or not all(isinstance(r, dict) for r in records):
        raise InvalidInput(f"{path} holds no ODK Central key record {{pubkey, privkey, salt, iv}}")
    return records


def _one_source(**sources: object) -> None:
    given = [name for name, value in sources.items() if value not in (None, False)]
    if len(given) != 1:
        names = ", ".join("--" + n.replace("_", "-") for n in sources)
        raise click.UsageError(f"give exactly one of {names}")


@keys_group.command("import")
@click.option("--project", "project_id", type=int, required=True)
@click.option("--pem", type=ExistingFile, help="A PEM private key (PKCS#1 or PKCS#8).")
@click.option(
    "--central-key",
    type=ExistingFile,
    help="An ODK Central managed-key record {pubkey, privkey, salt, iv} as JSON.",
)
@click.option("--bundle", type=ExistingFile, help="An escrow bundle made by `keys export`.")
@click.option("--passphrase-file", type=ExistingFile)
@click.option(
    "--activate", is_flag=True, help="Make the imported key the active one (default: decrypt-only)."
)
@pass_state
def import_keys(
    state: CLIState,
    project_id: int,
    pem: Path | None,
    central_key: Path | None,
    bundle: Path | None,
    passphrase_file: Path | None,
    activate: bool,
) -> None:
    """Add existing private keys to a project's keyring as generations."""
    _one_source(pem=pem, central_key=central_key, bundle=bundle)
    private_keys = _load_private_keys(pem, central_key, bundle, passphrase_file)
    source = "pem" if pem else "central" if central_key else "bundle"
    instance = state.instance()
    with transaction(instance.sessions) as session:
        keyring.get_project(session, project_id)
        numbers = [
            keyring.add_private_key(
                session,
                project_id,
                instance.kek,
                key,
                source=source,
                activate=activate and i == len(private_keys) - 1,
                actor=CLI,
            ).generation
            for i, key in enumerate(private_keys)
        ]
    for number in numbers:
        click.echo(f"project {project_id}: imported as generation {number}")


@keys_group.command("export")
@click.option("--project", "project_id", type=int, required=True)
@click.option("--out", type=PathArg, required=True, help="The escrow bundle to write.")
@click.option(
    "--passphrase-file",
    type=ExistingFile,
    required=True,
    help="The passphrase that seals the bundle (at least 10 characters).",
)
@pass_state
def export_keys(state: CLIState, project_id: int, out: Path, passphrase_file: Path) -> None:
    """Write a passphrase-sealed escrow bundle of a project's usable keys."""
    passphrase = read_secret_file(passphrase_file)
    if len(passphrase) < 10:
        raise click.UsageError("the bundle passphrase must have at least 10 characters")
    if out.exists():
        raise click.UsageError(f"{out} exists; choose another --out")
    instance = state.instance()
    with instance.sessions() as session:
        bundle = keyring.export_bundle(session, project_id, instance.kek, passphrase, actor=CLI)
        session.commit()
    _write_private_file(out, bundle)
    click.echo(f"escrow bundle written: {out}")


def _write_private_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


@keys_group.command("rewrap")
@click.option(
    "--project",
    "project_id",
    type=int,
    default=None,
    help="Accepted for symmetry; the master key covers every project.",
)
@click.option(
    "--to-key-file", type=PathArg, help="Seal under this key file (created 0600 when missing)."
)
@click.option(
    "--to-passphrase-file", type=ExistingFile, help="Seal under a key derived from this passphrase."
)
@pass_state
def rewrap(
    state: CLIState,
    project_id: int | None,
    to_key_file: Path | None,
    to_passphrase_file: Path | None,
) -> None:
    """Re-seal every private key under a new master key, in one transaction.

    With no option, a new key file replaces the default one (the old file is kept beside it
    as master.key.retired-<time> until you delete it).
    """
    if to_key_file and to_passphrase_file:
        raise click.UsageError("give at most one of --to-key-file, --to-passphrase-file")
    instance = state.instance()
    old = instance.kek
    with transaction(instance.sessions) as session:
        if project_id is not None:
            keyring.get_project(session, project_id)
        new, finish = _new_kek(state, session, to_key_file, to_passphrase_file)
        count = keyring.rewrap(session, old, new, actor=CLI)
    finish()
    click.echo(f"rewrapped {count} sealed keys under master key {kek_sources.kek_id(new)}")


def _new_kek(
    state: CLIState, session: Any, key_file: Path | None, passphrase_file: Path | None
) -> tuple[bytes, Callable[[], None]]:
    settings = state.settings
    if passphrase_file is not None:
        salt, params = masterkey.replace_passphrase_kdf(session)
        new = kek_sources.kek_from_passphrase(read_secret_file(passphrase_file), salt, params)
        return new, lambda: click.echo(
            "from now on set COLLECTOR_MASTER_PASSPHRASE_FILE to the new passphrase file"
        )
    masterkey.forget_passphrase_kdf(session)
    if key_file is not None:
        new = kek_sources.load_or_create_key_file(key_file)
        return new, lambda: click.echo(f"from now on set COLLECTOR_MASTER_KEY_FILE={key_file}")
    if settings.master_key or settings.master_passphrase is not None:
        raise click.UsageError("say where the new key goes: --to-key-file or --to-passphrase-file")
    current = settings.key_file
    staged = staged_key_file(current)
    staged.unlink(missing_ok=True)
    new = kek_sources.load_or_create_key_file(staged)

    def finish() -> None:
        retired = promote_key_file(current)
        click.echo(f"new master key in {current}; delete {retired.name} once backed up")

    return new, finish


@click.command("decrypt")
@click.argument("submission_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--key", type=ExistingFile, help="A PEM private key.")
@click.option("--central-key", type=ExistingFile, help="An ODK Central managed-key record (JSON).")
@click.option("--bundle", type=ExistingFile, help="An escrow bundle from `keys export`.")
@click.option("--project", "project_id", type=int, help="Use this project's managed keyring.")
@click.option("--passphrase-file", type=ExistingFile)
@pass_state
def decrypt(
    state: CLIState,
    submission_dir: Path,
    out_dir: Path,
    key: Path | None,
    central_key: Path | None,
    bundle: Path | None,
    project_id: int | None,
    passphrase_file: Path | None,
) -> None:
    """Decrypt one submission directory (submission.xml + .enc files) into OUT."""
    _one_source(key=key, central_key=central_key, bundle=bundle, project=project_id)
    if project_id is not None:
        # The server's own keys open plaintext outside the pseudonymising path: audited, and
        # recorded before the keys are opened.
        instance = state.instance()
        with transaction(instance.sessions) as session:
            keyring.get_project(session, project_id)
            audit.record(
                session, CLI, "keys.decrypt", project_id=project_id, directory=str(submission_dir)
            )
        with instance.sessions() as session:
            private_keys = keyring.decryption_keys(session, project_id, instance.kek)
    else:
        private_keys = _load_private_keys(key, central_key, bundle, passphrase_file)
    result = offline.decrypt_directory(submission_dir, out_dir, private_keys)
    click.echo(f"{result.instance_id} signature={result.signature.value}")
