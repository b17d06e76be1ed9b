"""Export throughput against a bare SELECT + csv.writer, and peak memory at two sizes.

Set-up: a fresh database with the PROFILE test form; a sample of real submissions goes through
the whole pipeline (encrypt, receive, decrypt, pseudonymise), then its stored records are
cloned in bulk up to N processed submissions (cloning keeps the rows realistic without paying
for N RSA decryptions, which benchmarks/decrypt.py measures).

- ours: ``collector.export.write_csv_zip`` to a file (root CSV + household CSV + summary);
- baseline: one SELECT of the same submissions and records, ``json.loads`` of each record and
  ``csv.writer`` rows of the same root and repeat values into two plain CSV files.
Each side runs in a fresh child process, in alternating rounds; each side's best round
counts. The goal is ours/baseline >= 0.5. Peak memory (ru_maxrss of a child process that only runs
the export) is measured at N and at --big rows; the goal is big <= 1.2 x N.
``--format xlsx`` runs the Excel export as ours instead, and ``--format odata`` the OData feed
as pyodk's ``get_table(expand="*")`` reads it (one streamed response with every row, nested
repeats), written to a file. Neither has a speed goal of its own: the figures show what they
cost against the same baseline, and whether their memory stays flat.

    .venv/bin/python benchmarks/export.py --rows 100000 --big 1000000 [--format xlsx|odata]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, published, sessions_for
from sqlalchemy import insert, select

from collector import odata, vault
from collector.audit import CLI
from collector.dataset import Viewer
from collector.db import make_engine, migrate, sqlite_url
from collector.export import write_csv_zip
from collector.export_xlsx import write_xlsx
from collector.models import Form, Submission, SubmissionRecord
from tests.collector.test_vault import profile
from tests.support.pipeline import process_all, submit

GOAL_SPEED = 0.5
GOAL_MEMORY = 1.2
SAMPLE = 50


def build(path: Path, rows: int) -> bytes:
    """Create the database at ``path`` with ``rows`` processed submissions; return the KEK."""
    kek = secrets.token_bytes(32)
    engine = make_engine(sqlite_url(path))
    migrate(engine)
    sessions = sessions_for(engine)
    version = published(sessions, kek)
    with sessions() as session:
        for n in range(SAMPLE):
            submit(
                session,
                version,
                profile(
                    f"Kişi {n}",
                    f"+90 532 000 {n:04d}",
                    f"U{n:08d}",
                    members=(f"Üye {n} A", f"Üye {n} B"),
                ),
            )
    process_all(sessions, kek)
    with sessions() as session:
        sample = session.execute(
            select(Submission, SubmissionRecord.data).join(
                SubmissionRecord, SubmissionRecord.submission_id == Submission.id
            )
        ).all()
    _clone(engine, sample, rows - SAMPLE)
    engine.dispose()
    return kek


def _clone(engine, sample, count: int) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as connection:
        next_id = SAMPLE + 1
        for start in range(0, count, 5000):
            subs, recs = [], []
            for i in range(start, min(start + 5000, count)):
                sub, data = sample[i % len(sample)]
                iid = f"uuid:{secrets.token_hex(16)}"
                subs.append(
                    {
                        "id": next_id,
                        "project_id": sub.project_id,
                        "form_id": sub.form_id,
                        "form_version_id": sub.form_version_id,
                        "instance_id": iid,
                        "state": "processed",
                        "manifest": b"-",
                        "manifest_md5": hashlib.md5(iid.encode()).hexdigest(),
                        "expected_parts": 1,
                        "received_parts": 1,
                        "signature": "valid",
                        "created_at": sub.created_at,
                        "processed_at": sub.created_at,
                        "attempts": 1,
                    }
                )
                doc = json.loads(data)
                doc["instanceId"] = iid
                recs.append(
                    {
                        "submission_id": next_id,
                        "data": json.dumps(doc),
                        "created_at": sub.created_at,
                    }
                )
                next_id += 1
            connection.execute(insert(Submission), subs)
            connection.execute(insert(SubmissionRecord), recs)


def export_once(db: Path, kek_hex: str, out: Path) -> None:
    """Run one export (in this process): a CSV zip, or by ``out``'s suffix a workbook
    (``.xlsx``) or the OData feed (``.json``)."""
    engine = make_engine(sqlite_url(db))
    sessions = sessions_for(engine)
    viewer = Viewer(vault.Secrets(bytes.fromhex(kek_hex)))
    start = time.perf_counter()
    with sessions() as session, out.open("wb") as handle:
        form = session.scalars(select(Form)).one()
        if out.suffix == ".json":
            feed = odata.read(
                session, form, "Submissions", {"$expand": "*"}, viewer=viewer,
                service_url="http://127.0.0.1/v1/projects/1/forms/profile.svc",
            )  # fmt: skip
            for chunk in feed:
                handle.write(chunk.encode())
        else:
            write = write_xlsx if out.suffix == ".xlsx" else write_csv_zip
            write(handle, session, form, actor=CLI, viewer=viewer)
    print(time.perf_counter() - start)
    engine.dispose()


def baseline(db: Path, out: Path) -> None:
    """SELECT the same rows and write the same values with csv.writer."""
    engine = make_engine(sqlite_url(db))
    stmt = (
        select(Submission.instance_id, Submission.created_at, SubmissionRecord.data)
        .join(SubmissionRecord, SubmissionRecord.submission_id == Submission.id)
        .where(Submission.state == "processed")
        .order_by(Submission.id)
    )
    with (
        engine.connect() as connection,
        out.open("w", newline="") as root_f,
        out.with_suffix(".household.csv").open("w", newline="") as rep_f,
    ):
        root, rep = csv.writer(root_f), csv.writer(rep_f)
        result = connection.execution_options(yield_per=1000).execute(stmt)
        for iid, created, data in result:
            doc = json.loads(data)
            root.writerow([created, *doc["root"].values(), iid])
            for rows in doc["repeats"].values():
                for row in rows:
                    rep.writerow([*row["values"].values(), row["parent"], row["key"]])
    engine.dispose()


def baseline_once(db: Path, out: Path) -> None:
    """Run the baseline once (in this process) and print its time."""
    start = time.perf_counter()
    baseline(db, out)
    print(time.perf_counter() - start)


def child(what: str, *args: str) -> tuple[float, int]:
    """Run ``what`` of this module in a fresh child process; return its own time and the peak
    RSS (KiB) of all children so far. Both sides run alike: a new process, a cold heap."""
    code = (
        "import sys; sys.path[:0] = [sys.argv[1], sys.argv[1] + '/benchmarks'];"
        "import export; from pathlib import Path;"
        f"export.{what}(*[Path(a) if '/' in a else a for a in sys.argv[2:]])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(ROOT), *args],
        check=True,
        capture_output=True,
        text=True,
    )
    # ru_maxrss of children is the largest of all children so far: the caller runs the small
    # export first, so the big one's figure is its own unless it used less.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return float(done.stdout.strip().splitlines()[-1]), peak


def child_peak(db: Path, kek: bytes, out: Path) -> tuple[float, int]:
    """Run the export in a child process; return the export's own time and peak RSS (KiB)."""
    return child("export_once", str(db), kek.hex(), str(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--big", type=int, default=1_000_000, help="0 skips the memory run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--format", choices=("csv.zip", "xlsx", "odata"), default="csv.zip")
    args = parser.parse_args()
    label = {"csv.zip": "CSV zip", "xlsx": "xlsx", "odata": "OData"}[args.format]
    suffix = "json" if args.format == "odata" else args.format
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        kek = build(base / "n.db", args.rows)
        # Rounds alternate the two sides; each side's best round counts (the least disturbed
        # by whatever else the machine did meanwhile).
        bare_times, our_times, peak_n = [], [], 0
        for _round in range(args.rounds):
            bare_times.append(child("baseline_once", str(base / "n.db"), str(base / "b.csv"))[0])
            ours, peak = child_peak(base / "n.db", kek, base / f"n.{suffix}")
            our_times.append(ours)
            peak_n = max(peak_n, peak)
        bare, ours = min(bare_times), min(our_times)
        print(f"rows: {args.rows}, rounds: {args.rounds} (best of each)")
        print(f"export ({label}):{' ' * (17 - len(label))}{args.rows / ours:9.0f} submissions/s")
        print(f"bare SELECT + csv.writer: {args.rows / bare:9.0f} submissions/s")
        ratio = bare / ours
        goal = (
            f"goal >= {GOAL_SPEED}: {'met' if ratio >= GOAL_SPEED else 'NOT met'}"
            if args.format == "csv.zip"
            else f"no goal for {label}"
        )
        print(f"ratio (ours / baseline): {ratio:.2f}  ({goal})")
        print(f"peak memory at {args.rows} rows: {peak_n / 1024:.1f} MiB")
        if args.big:
            (base / "n.db").unlink()
            kek = build(base / "big.db", args.big)
            _t, peak_big = child_peak(base / "big.db", kek, base / f"big.{suffix}")
            growth = peak_big / peak_n
            print(
                f"peak memory at {args.big} rows: {peak_big / 1024:.1f} MiB "
                f"({growth:.2f} x; goal <= {GOAL_MEMORY}: "
                f"{'met' if growth <= GOAL_MEMORY else 'NOT met'})"
            )


if __name__ == "__main__":
    main()
