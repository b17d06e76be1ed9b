"""Intake and decryption throughput of a real server, each against a baseline of the same run.

1. Intake: the app runs under gunicorn exactly as ``collector serve --no-decrypt`` runs it
   (gthread, 2 workers x 4 threads by default), with one extra, benchmark-only route added to
   this run's own app instance: ``POST /bench/parse`` parses the same multipart body and
   answers 201, and does nothing else. Eight client threads (persistent HTTP/1.1 connections
   on loopback) post the same encrypted ~2 KB Collect submissions to the real
   ``/v1/key/<token>/projects/<p>/submission`` and to the baseline, interleaved in rounds.
   Printed: accepted/s, baseline/s and their ratio (goal >= 0.7).
2. Decryption: ``collector worker --processes 2`` decrypts, pseudonymises and stores what was
   accepted; its rate runs from the moment every worker process has started to the last
   processed_at. The ceiling is what decryption cannot avoid, with cryptography directly over
   the same ciphertexts in 2 processes: two RSA-OAEP private operations and AES-CFB per
   submission. Printed: decrypted/s, ceiling/s
   and their ratio (goal >= 0.7).

Nothing here is a test: run it by hand.

    .venv/bin/python benchmarks/intake.py -n 2000
    .venv/bin/python benchmarks/intake.py -n 2000 --database-url postgresql+psycopg://…
"""

from __future__ import annotations

import argparse
import base64
import http.client
import itertools
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.decrepit.ciphers.modes import CFB  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey  # noqa: E402
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms  # noqa: E402
from flask import Flask, Response, request  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from api import create_app  # noqa: E402
from api.config import Instance, Settings  # noqa: E402
from api.server import CollectorServer  # noqa: E402
from collector import appusers, keyring, publishing  # noqa: E402
from collector.db import transaction  # noqa: E402
from collector.models import Submission, SubmissionPart, SubmissionState  # noqa: E402
from keys import keyring as kr  # noqa: E402
from keys import odk  # noqa: E402
from tests.support.databases import fresh_database  # noqa: E402
from tests.support.server import free_port, wait_until_up  # noqa: E402
from tests.support.xlsform import FIELD_VISIT, md_to_xlsx  # noqa: E402

GOAL = 0.7
BOUNDARY = "bench0boundary0collector"
OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
KEY_ATTR = re.compile(rb'base64RsaPublicKey="([^"]+)"')
ACCEPTED = (
    '<OpenRosaResponse xmlns="http://openrosa.org/http/response" items="0">'
    '<message nature="">full submission upload was successful!</message></OpenRosaResponse>'
)


@dataclass(frozen=True)
class Site:
    """The benchmark's instance: settings, and the app user's submission path."""

    settings: Settings
    project_id: int
    path: str
    form_xml: bytes


def set_up(data_dir: Path, database_url: str | None, bits: int) -> Site:
    """Initialise an instance with one project (FIELD_VISIT published) and one app user."""
    settings = Settings(data_dir=data_dir, database_url=database_url, rsa_bits=bits)
    instance = Instance(settings, create=True)
    try:
        with transaction(instance.sessions) as session:
            project = keyring.create_project(session, "Benchmark", instance.kek, bits=bits)
            version = publishing.publish_xlsform(session, project.id, md_to_xlsx(FIELD_VISIT))
            _user, token = appusers.create(
                session, project.id, "Bench", instance.kek, forms=["field_visit"]
            )
            project_id, form_xml = project.id, version.xml
    finally:
        instance.close()
    path = f"/v1/key/{token}/projects/{project_id}/submission?deviceID=bench"
    return Site(replace(settings, in_process_workers=False), project_id, path, form_xml)


def instance_xml(iid: str, n: int) -> bytes:
    """A FIELD_VISIT instance of about 2 KB (identifiers, a quasi-identifier, a long story)."""
    story = ("Geçen yıl Van üzerinden geldi; yolculuk uzun sürdü. " * 40)[:1700]
    return (
        f'<data id="field_visit" version="2026112301"><full_name>Kişi {n} Yılmaz</full_name>'
        f"<age>{20 + n % 50}</age><story>{story}</story>"
        f"<member><member_name>Üye {n}</member_name></member><photo/>"
        f"<meta><instanceID>{iid}</instanceID></meta></data>"
    ).encode()


def multipart(sealed: odk.EncryptedSubmission) -> bytes:
    """The multipart body Collect sends for a sealed submission."""
    parts = [("xml_submission_file", "submission.xml", sealed.manifest, "text/xml")]
    parts += [(n, n, data, "application/octet-stream") for n, data in sealed.files.items()]
    body = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{file}"\r\n'
        f"Content-Type: {kind}\r\n\r\n".encode()
        + data
        + b"\r\n"
        for name, file, data, kind in parts
    )
    return body + f"--{BOUNDARY}--\r\n".encode()


def seal_bodies(form_xml: bytes, count: int) -> list[bytes]:
    """Encrypt ``count`` submissions with the key the form carries, as Collect does."""
    match = KEY_ATTR.search(form_xml)
    assert match, "the form carries no public key"
    public_key = kr.load_public_key(match.group(1))
    bodies = []
    for n in range(count):
        iid = f"uuid:{uuid.uuid4()}"
        sealed = odk.encrypt_submission(
            form_id="field_visit",
            version="2026112301",
            instance_id=iid,
            xml=instance_xml(iid, n),
            media=[],
            public_key=public_key,
        )
        bodies.append(multipart(sealed))
    return bodies


def bench_app(settings: Settings) -> Flask:
    """The real app plus one benchmark-only route that parses the same multipart body."""
    app = create_app(settings=settings)

    @app.post("/bench/parse")
    def parse_only() -> Response:
        for storage in request.files.values():
            storage.read()
        return Response(ACCEPTED, status=201, content_type="text/xml; charset=utf-8")

    return app


class BenchServer(CollectorServer):
    """``collector serve`` as configured in api.server, loading the benchmark's app."""

    def load(self) -> Any:
        return bench_app(self.settings)


def run_server(settings: Settings, port: int, workers: int, threads: int) -> None:
    """Run gunicorn with the options ``collector serve`` uses (access log off)."""
    options = {
        "bind": f"127.0.0.1:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 120,
        "graceful_timeout": 10,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
    }
    BenchServer(settings, options).run()


def drive(port: int, path: str, bodies: Sequence[bytes], clients: int) -> float:
    """POST every body once from ``clients`` threads; return requests per second."""
    counter = itertools.count()
    failures: list[str] = []
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while (i := next(counter)) < len(bodies):
            connection.request("POST", path, body=bodies[i], headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 201:
                failures.append(f"{response.status} on {path}")
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, first: {failures[0]}")
    return len(bodies) / wall


def measure_intake(site: Site, bodies: list[bytes], args: argparse.Namespace) -> float:
    """Serve, warm up, then alternate baseline and real rounds; print and return the ratio."""
    port = free_port()
    context = multiprocessing.get_context("fork")
    server = context.Process(
        target=run_server, args=(site.settings, port, args.workers, args.threads)
    )
    server.start()
    try:
        wait_until_up(f"http://127.0.0.1:{port}")
        warm, rest = bodies[: args.clients * 4], bodies[args.clients * 4 :]
        drive(port, "/bench/parse", warm, args.clients)
        drive(port, site.path, warm, args.clients)
        rounds = [rest[i :: args.rounds] for i in range(args.rounds)]
        base = [drive(port, "/bench/parse", r, args.clients) for r in rounds[:1]]
        real: list[float] = []
        for i, chunk in enumerate(rounds):
            real.append(drive(port, site.path, chunk, args.clients))
            if i:
                base.append(drive(port, "/bench/parse", chunk, args.clients))
    finally:
        server.terminate()
        server.join(30)
    return report_intake(base, real, args)


def report_intake(base: list[float], real: list[float], args: argparse.Namespace) -> float:
    accepted, baseline = sum(real) / len(real), sum(base) / len(base)
    print(
        f"intake: {args.clients} clients, gunicorn {args.workers} workers x {args.threads} "
        f"threads, {len(real)} rounds"
    )
    print(f"  per round accepted/s: {', '.join(f'{r:.0f}' for r in real)}")
    print(f"  per round baseline/s: {', '.join(f'{b:.0f}' for b in base)}")
    ratio = accepted / baseline
    print(f"  accepted/s {accepted:.1f}  baseline (parse only)/s {baseline:.1f}  ratio {ratio:.3f}")
    print(f"  goal >= {GOAL}: {'met' if ratio >= GOAL else 'NOT met'}")
    return ratio


def run_workers(site: Site, processes: int, expected: int, timeout: float) -> float:
    """Run ``collector worker --processes N`` until everything is processed; return sub/s.

    The clock starts when the last worker process logs that it has started (start-up, imports
    and key unsealing excluded) and stops at the last ``processed_at``. The workers log to a
    file, so that reading their log costs nothing while they run.
    """
    env = dict(os.environ, COLLECTOR_DATA_DIR=str(site.settings.data_dir))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    if site.settings.database_url:
        env["COLLECTOR_DATABASE_URL"] = site.settings.database_url
    command = [sys.executable, "-m", "api.cli", "worker", "--processes", str(processes)]
    instance = Instance(site.settings)
    log = site.settings.data_dir / "worker.log"
    with log.open("w") as sink:
        child = subprocess.Popen(command, env=env, cwd=ROOT, stderr=sink)
    try:
        deadline = time.monotonic() + timeout
        while _count(instance, SubmissionState.PROCESSED) < expected:
            if time.monotonic() > deadline or child.poll() is not None:
                raise SystemExit("the workers did not process every submission")
            time.sleep(0.2)
        started = _starts(log)
        if len(started) < processes:
            raise SystemExit("the workers did not all log their start")
        return expected / (_last_processed(instance) - started[processes - 1])
    finally:
        child.terminate()
        child.wait(30)
        instance.close()


def _starts(log: Path) -> list[float]:
    """The times (seconds since the epoch) of the workers' start lines, from their stamps."""
    found = []
    with log.open() as lines:
        for line in lines:
            if "decryption worker started" in line:
                stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
                found.append(stamp.astimezone().timestamp())
    return sorted(found)


def _count(instance: Instance, state: SubmissionState) -> int:
    with instance.sessions() as session:
        stmt = select(func.count()).select_from(Submission).where(Submission.state == state.value)
        return int(session.scalar(stmt) or 0)


def _last_processed(instance: Instance) -> float:
    """The wall time (seconds since the epoch) of the last submission processed."""
    with instance.sessions() as session:
        last = session.scalar(
            select(func.max(Submission.processed_at)).where(
                Submission.state == SubmissionState.PROCESSED.value
            )
        )
    assert last is not None
    return (last if last.tzinfo else last.replace(tzinfo=UTC)).timestamp()


@dataclass(frozen=True)
class Work:
    """One stored submission's ciphertexts, as the raw ceiling needs them."""

    wrapped_key: bytes
    signature: bytes
    instance_id: str
    files: tuple[bytes, ...]


def stored_work(site: Site) -> tuple[RSAPrivateKey, list[Work]]:
    """Load the project's private key and every stored submission's ciphertexts."""
    instance = Instance(site.settings)
    try:
        with instance.sessions() as session:
            row = keyring.active_generation(session, site.project_id)
            key = keyring.private_key(session, row, instance.kek)
            parts: dict[int, list[bytes]] = {}
            for part in session.scalars(select(SubmissionPart).order_by(SubmissionPart.id)):
                parts.setdefault(part.submission_id, []).append(part.data)
            work = []
            for sub in session.scalars(select(Submission)):
                manifest = odk.parse_manifest(sub.manifest)
                assert manifest.signature_b64 is not None
                work.append(
                    Work(
                        base64.b64decode(manifest.encrypted_key_b64),
                        base64.b64decode(manifest.signature_b64),
                        manifest.instance_id,
                        tuple(parts[sub.id]),
                    )
                )
    finally:
        instance.close()
    return key, work


def ceiling_share(key: RSAPrivateKey, work: Sequence[Work], barrier: Any, out: Any) -> None:
    """Two RSA-OAEP private operations and AES-CFB per submission, nothing else."""
    barrier.wait()
    start = time.perf_counter()
    for item in work:
        aes_key = key.decrypt(item.wrapped_key, OAEP)
        key.decrypt(item.signature, OAEP)
        for index, data in enumerate(item.files):
            iv = odk.file_iv(item.instance_id, aes_key, index)
            decryptor = Cipher(algorithms.AES(aes_key), CFB(iv)).decryptor()
            decryptor.update(data)
            decryptor.finalize()
    out.put((start, time.perf_counter()))


def ceiling(key: RSAPrivateKey, work: list[Work], processes: int) -> float:
    """The raw crypto rate over ``processes`` processes (forked, each doing its share)."""
    context = multiprocessing.get_context("fork")
    barrier, out = context.Barrier(processes), context.Queue()
    procs = [
        context.Process(target=ceiling_share, args=(key, work[i::processes], barrier, out))
        for i in range(processes)
    ]
    for proc in procs:
        proc.start()
    spans = [out.get() for _ in procs]
    for proc in procs:
        proc.join()
    return len(work) / (max(e for _s, e in spans) - min(s for s, _e in spans))


def measure_decryption(site: Site, args: argparse.Namespace) -> float:
    """Decrypt everything accepted with real workers, then the raw ceiling; print the ratio."""
    key, work = stored_work(site)
    rate = run_workers(site, args.processes, len(work), timeout=600)
    raw = max(ceiling(key, work, args.processes) for _ in range(2))
    ratio = rate / raw
    print(
        f"decryption: {len(work)} submissions, RSA-{key.key_size}, "
        f"`collector worker --processes {args.processes}`"
    )
    print(f"  decrypted/s {rate:.1f}  raw crypto ceiling/s {raw:.1f}  ratio {ratio:.3f}")
    print(f"  goal >= {GOAL}: {'met' if ratio >= GOAL else 'NOT met'}")
    return ratio


def main(argv: Sequence[str] | None = None) -> int:
    """Run both measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=2000, help="submissions (default 2000)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (default 4)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--processes", type=int, default=2, help="decryption processes")
    parser.add_argument("--bits", type=int, default=3072, choices=kr.ALLOWED_RSA_BITS)
    parser.add_argument(
        "--database-url", default=None, help="PostgreSQL: a fresh schema there (default SQLite)"
    )
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory() as tmp,
        fresh_database(Path(tmp), args.database_url or "") as url,
    ):
        site = set_up(Path(tmp) / "data", url if args.database_url else None, args.bits)
        bodies = seal_bodies(site.form_xml, args.n)
        size = sum(map(len, bodies)) // len(bodies)
        where = "PostgreSQL" if args.database_url else "SQLite"
        print(f"{args.n} encrypted submissions of ~{size} B (multipart), {where}, "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
        measure_intake(site, bodies, args)
        measure_decryption(site, args)
    # Both ratios are measured in the same run, but other load on the machine weighs on the
    # database-bound side more than on the baselines: note it beside the figures.
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
