"""The one loader of ../shared/vectors for keys/ tests: every real producer's output as data.

Each case is a ``KnownAnswer``: what the producer sent (manifest, .enc files), the key that opens
it, and what must come out, all read from the vector files and their PROVENANCE notes, never
from our own encryptor. Cases are named ``<dir>/<case>`` after where their files live.
"""

from __future__ import annotations

import base64
import csv
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from keys.odk import SignatureStatus, parse_manifest

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors"

BRIEFCASE_CASES = ("briefcase/encrypted-form", "briefcase/encrypted-form-media")
CENTRAL_CASE = "central-backend/collect-1.22.4"
ONADATA_MANIFESTS = (
    "onadata/tutorial_encrypted/tutorial_encrypted.xml",
    "onadata/transportation_encrypted/submission.xml",
    "onadata/api_enketo_style/encrypted-submission.xml",
)


@dataclass(frozen=True)
class KnownAnswer:
    """One real submission and everything its provenance says must come out of it."""

    name: str
    private_key: RSAPrivateKey = field(repr=False)
    manifest: bytes
    files: dict[str, bytes] = field(repr=False)  # .enc name -> ciphertext, as available
    plaintexts: dict[str, bytes] = field(repr=False)  # .enc name -> exact expected plaintext
    iv_indexes: dict[str, int]
    # None when not every file is available, so only single files can be checked.
    signature: SignatureStatus | None
    recovered: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    aes_key: bytes | None = None
    iv_seed: bytes | None = None
    spec_ivs: dict[str, bytes] = field(default_factory=dict)
    enketo_ivs: dict[str, bytes] = field(default_factory=dict)  # the IV Enketo really used
    plaintext_md5s: dict[str, str] = field(default_factory=dict)
    csv_row: dict[str, str] | None = None  # Briefcase's expected export row

    @property
    def complete(self) -> bool:
        """Tell whether every file the manifest names is in the vectors."""
        return self.signature is not None


@functools.cache
def pem_key(root: Path, relpath: str) -> RSAPrivateKey:
    """Load an unencrypted PEM private key from the vectors."""
    key = load_pem_private_key((root / relpath).read_bytes(), password=None)
    assert isinstance(key, RSAPrivateKey)
    return key


@functools.cache
def read_json(root: Path, relpath: str) -> Any:
    """Load a JSON file from the vectors."""
    return json.loads((root / relpath).read_text(encoding="utf-8"))


def read_bytes(root: Path, relpath: str) -> bytes:
    """Read one vector file."""
    return (root / relpath).read_bytes()


def central_crypto(root: Path) -> dict[str, Any]:
    """Return central-backend's crypto test vectors (key wrap, IV table, managed keys)."""
    data: dict[str, Any] = read_json(root, "central-backend/central-crypto-test-vectors.json")
    return data


def enketo_case_names(root: Path = VECTORS) -> list[str]:
    """Return the Enketo case names listed in expected.json."""
    path = root / "enketo" / "expected.json"
    if not path.is_file():
        return ["enketo/expected.json is missing"]
    return sorted(json.loads(path.read_text(encoding="utf-8"))["cases"])


def case_names(root: Path = VECTORS) -> list[str]:
    """Return every submission known answer."""
    return [*BRIEFCASE_CASES, CENTRAL_CASE, *(f"enketo/{n}" for n in enketo_case_names(root))]


def load_known_answer(root: Path, name: str) -> KnownAnswer:
    """Load one known answer by name."""
    if name in BRIEFCASE_CASES:
        return _briefcase(root, name.split("/", 1)[1])
    if name == CENTRAL_CASE:
        return _central(root)
    if name.startswith("enketo/"):
        return _enketo(root, name.split("/", 1)[1])
    raise KeyError(name)


def _briefcase(root: Path, base: str) -> KnownAnswer:
    manifest = read_bytes(root, f"briefcase/{base}-submission.xml")
    names = parse_manifest(manifest).files
    files = {n: read_bytes(root, f"briefcase/{base}-{n}") for n in names}
    plaintexts = {
        n: read_bytes(root, f"briefcase/encrypted-form-media-media/{n.removesuffix('.enc')}")
        for n in names[:-1]
    }
    with (root / f"briefcase/{base}.csv.expected").open(newline="", encoding="utf-8") as handle:
        row = next(csv.DictReader(handle))
    status = SignatureStatus.VALID if row["isValidated"] == "true" else SignatureStatus.INVALID
    return KnownAnswer(
        name=f"briefcase/{base}",
        private_key=pem_key(root, f"briefcase/{base}-key.pem"),
        manifest=manifest,
        files=files,
        plaintexts=plaintexts,
        iv_indexes={n: i for i, n in enumerate(names)},
        signature=status,
        csv_row=row,
    )


def _central(root: Path) -> KnownAnswer:
    data = central_crypto(root)["end_to_end_collect_1_22_4"]
    ciphertext = read_bytes(root, "central-backend/envelope-two.submission.xml.enc")
    plaintext = read_bytes(root, "central-backend/envelope-two.submission.xml.expected")
    # The JSON and the extracted files are two copies of the same test data.
    assert ciphertext == base64.b64decode(data["ciphertext_b64"])
    assert plaintext == data["plaintext"].encode("utf-8")
    return KnownAnswer(
        name=CENTRAL_CASE,
        private_key=pem_key(root, "central-backend/" + data["private_key_file"]),
        manifest=read_bytes(root, "central-backend/" + data["envelope_file"]),
        files={"submission.xml.enc": ciphertext},
        plaintexts={"submission.xml.enc": plaintext},
        iv_indexes={"submission.xml.enc": data["iv_index"]},
        signature=None,
    )


def _enketo_status(
    case: dict[str, Any],
) -> tuple[SignatureStatus, tuple[str, ...], tuple[str, ...]]:
    garbled = tuple(
        f["enc_file"]
        for f in case["files_in_encryption_order"]
        if "iv_actually_used_by_enketo_hex" in f
    )
    if case["signature_valid_per_spec"]:
        return SignatureStatus.VALID, (), ()
    if case["signature_matches_md5s_of_original_plaintexts"]:
        return SignatureStatus.RECOVERED, garbled, ()
    assert case["signature_valid_with_legacy_enketo_xml_md5"]
    return SignatureStatus.INVALID, (), ("enketo-utf16-md5",)


def _enketo(root: Path, name: str) -> KnownAnswer:
    case = read_json(root, "enketo/expected.json")["cases"][name]
    folder = f"enketo/{name}"
    entries = case["files_in_encryption_order"]
    names = [f["enc_file"] for f in entries]
    status, recovered, notes = _enketo_status(case)
    return KnownAnswer(
        name=f"enketo/{name}",
        private_key=pem_key(root, "enketo/private_key.pem"),
        manifest=read_bytes(root, f"{folder}/submission.xml"),
        files={n: read_bytes(root, f"{folder}/{n}") for n in names},
        plaintexts={
            n: read_bytes(root, f"{folder}/plaintext/{n.removesuffix('.enc')}") for n in names
        },
        iv_indexes={f["enc_file"]: f["iv_index"] for f in entries},
        signature=status,
        recovered=recovered,
        notes=notes,
        aes_key=bytes.fromhex(case["aes_key_hex"]),
        iv_seed=bytes.fromhex(case["iv_seed_hex"]),
        spec_ivs={
            f["enc_file"]: bytes.fromhex(f["iv_spec_hex"]) for f in entries if "iv_spec_hex" in f
        },
        enketo_ivs={
            f["enc_file"]: bytes.fromhex(f["iv_actually_used_by_enketo_hex"])
            for f in entries
            if "iv_actually_used_by_enketo_hex" in f
        },
        plaintext_md5s={f["enc_file"]: f["plaintext_md5"] for f in entries},
    )
