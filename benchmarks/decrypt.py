"""Decryption throughput of keys.odk.decrypt_submission against its raw primitive cost.

Builds N small Collect-style submissions (1-2 KB of XML and one tiny media file) with our own
encryptor under one RSA key, then measures, in the same run and in P processes each doing its
share:

- baseline: what decryption cannot avoid, calling cryptography directly: two RSA-OAEP private
  operations (the wrapped key and the signature) and AES-CFB over the same ciphertext bytes;
- ours: keys.odk.decrypt_submission over the same N (manifests parsed beforehand).

It prints submissions per second for both, their ratio (ours / baseline, the goal is >= 0.9)
and, when P > 1, the speed-up over a 1-process run measured in the same invocation. Each
figure is the best of --repeat runs. Nothing here is a test: run it by hand.

    .venv/bin/python benchmarks/decrypt.py -n 300 --processes 2
"""

from __future__ import annotations

import argparse
import base64
import multiprocessing
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.decrepit.ciphers.modes import CFB
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from keys import keyring, odk

OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
GOAL = 0.9


@dataclass(frozen=True)
class Work:
    """One submission, prepared for both measurements."""

    manifest: odk.ODKManifest
    files: dict[str, bytes]
    wrapped_key: bytes  # baseline inputs, decoded outside the timed loop
    signature: bytes
    ivs: tuple[bytes, ...]


def instance_xml(rng: random.Random, instance_id: str) -> bytes:
    """Return 1-2 KB of plausible survey XML."""
    size = rng.randint(1024, 2048)
    fields = []
    while sum(map(len, fields)) < size:
        i = len(fields)
        fields.append(
            f"<q{i}>{rng.choice(['evet', 'hayır', 'نعم', 'unknown'])} {rng.random()}</q{i}>"
        )
    body = "".join(fields)
    return (
        f'<data id="profiling" version="1"><meta><instanceID>{instance_id}</instanceID></meta>'
        f"<photo>p.jpg</photo>{body}</data>"
    ).encode()[: size + 200]


def build(n: int, key: RSAPrivateKey, seed: int = 1) -> list[Work]:
    """Encrypt N submissions with our encryptor and prepare both measurements' inputs."""
    rng = random.Random(seed)
    work = []
    for i in range(n):
        instance_id = f"uuid:00000000-0000-4000-8000-{i:012d}"
        media = [("p.jpg", rng.randbytes(rng.randint(32, 200)))]
        sealed = odk.encrypt_submission(
            form_id="profiling",
            version="1",
            instance_id=instance_id,
            xml=instance_xml(rng, instance_id),
            media=media,
            public_key=key.public_key(),
        )
        manifest = odk.parse_manifest(sealed.manifest)
        aes_key = odk.unwrap_key(key, manifest.encrypted_key_b64)
        assert manifest.signature_b64 is not None
        work.append(
            Work(
                manifest=manifest,
                files=sealed.files,
                wrapped_key=base64.b64decode(manifest.encrypted_key_b64),
                signature=base64.b64decode(manifest.signature_b64),
                ivs=tuple(odk.file_iv(instance_id, aes_key, j) for j in range(len(manifest.files))),
            )
        )
    return work


def baseline_one(key: RSAPrivateKey, item: Work) -> int:
    """Do the unavoidable work for one submission with cryptography directly."""
    aes_key = key.decrypt(item.wrapped_key, OAEP)
    key.decrypt(item.signature, OAEP)
    total = 0
    for iv, data in zip(item.ivs, item.files.values(), strict=True):
        decryptor = Cipher(algorithms.AES(aes_key), CFB(iv)).decryptor()
        total += len(decryptor.update(data) + decryptor.finalize())
    return total


def ours_one(key: RSAPrivateKey, item: Work) -> int:
    """Decrypt one submission with keys.odk."""
    result = odk.decrypt_submission(item.manifest, key, item.files)
    if result.signature is not odk.SignatureStatus.VALID:
        raise SystemExit("benchmark submission did not verify")
    return len(result.xml)


MODES: dict[str, Callable[[RSAPrivateKey, Work], int]] = {
    "baseline": baseline_one,
    "ours": ours_one,
}


def worker(mode: str, pem: bytes, items: Sequence[Work], barrier: Any, results: Any) -> None:
    """Run one process's share after every process is ready; report its start and end."""
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, RSAPrivateKey)
    run = MODES[mode]
    run(key, items[0])  # warm up outside the timed part
    barrier.wait()
    start = time.perf_counter()
    for item in items:
        run(key, item)
    results.put((start, time.perf_counter()))


def measure(mode: str, pem: bytes, work: list[Work], processes: int) -> float:
    """Return submissions per second, wall time from the first start to the last end."""
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    barrier = context.Barrier(processes)
    results = context.Queue()
    shares = [work[i::processes] for i in range(processes)]
    procs = [
        context.Process(target=worker, args=(mode, pem, share, barrier, results))
        for share in shares
    ]
    for proc in procs:
        proc.start()
    spans = [results.get() for _ in procs]
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            raise SystemExit(f"a {mode} worker failed (exit code {proc.exitcode})")
    wall = max(end for _, end in spans) - min(start for start, _ in spans)
    return len(work) / wall


def best_rates(pem: bytes, work: list[Work], processes: int, repeat: int) -> dict[str, float]:
    """Interleave the two modes and keep each one's best rate."""
    rates = {mode: 0.0 for mode in MODES}
    for _ in range(repeat):
        for mode in MODES:
            rates[mode] = max(rates[mode], measure(mode, pem, work, processes))
    return rates


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=300, help="submissions (default 300)")
    parser.add_argument("--processes", type=int, default=1, help="processes (default 1)")
    parser.add_argument("--bits", type=int, default=2048, choices=keyring.ALLOWED_RSA_BITS)
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure, best kept")
    args = parser.parse_args(argv)
    if args.n < args.processes or args.processes < 1:
        parser.error("need at least one submission per process")

    key = keyring.generate_private_key(args.bits)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    work = build(args.n, key)
    sizes = [len(w.files["submission.xml.enc"]) for w in work]
    print(
        f"{args.n} submissions, RSA-{args.bits}, XML {min(sizes)}-{max(sizes)} B encrypted "
        f"+ 1 media file, best of {args.repeat}, {os.cpu_count()} CPUs"
    )
    counts = sorted({1, args.processes})
    table = {p: best_rates(pem, work, p, args.repeat) for p in counts}
    print(f"{'processes':>9}  {'baseline sub/s':>14}  {'ours sub/s':>10}  {'ours/baseline':>13}")
    for p in counts:
        base, ours = table[p]["baseline"], table[p]["ours"]
        print(f"{p:>9}  {base:>14.1f}  {ours:>10.1f}  {ours / base:>13.3f}")
    if args.processes > 1:
        p = args.processes
        print(
            f"speed-up with {p} processes over 1: baseline "
            f"{table[p]['baseline'] / table[1]['baseline']:.2f}x, "
            f"ours {table[p]['ours'] / table[1]['ours']:.2f}x"
        )
    ratio = table[args.processes]["ours"] / table[args.processes]["baseline"]
    print(f"goal ours/baseline >= {GOAL}: {'met' if ratio >= GOAL else 'NOT met'} ({ratio:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
