"""``collector serve`` (gunicorn) and ``collector worker`` as real processes.

From the QR code to processed submissions; tokens never in the server's log; SIGKILL of the
whole server while submissions stream in loses nothing that got a 201; several servers and
workers on one PostgreSQL schema process every submission exactly once.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine, func, select, update

from collector.db import make_engine
from collector.models import Submission, SubmissionRecord
from tests.api.conftest import Invoke
from tests.api.test_cli_setup import URL, assert_qr_png
from tests.support.collect import CollectClient, Upload
from tests.support.server import free_port, kill_group, served, spawned
from tests.support.site import Sealer
from tests.support.xlsform import FIELD_VISIT, md_to_xlsx

STARTED_LINE = "collector.worker: decryption worker started"
PROCESSED_LINE = re.compile(r"\[(\d+)\] \[INFO\] collector\.worker: submission (\d+) processed")


@pytest.fixture
def engine(cli_env: dict[str, str]) -> Iterator[Engine]:
    engine = make_engine(cli_env["COLLECTOR_DATABASE_URL"])
    yield engine
    engine.dispose()


def states(engine: Engine) -> dict[str, tuple[str, int]]:
    """instanceID -> (state, attempts) of every stored submission."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(Submission.instance_id, Submission.state, Submission.attempts)
        )
        return {iid: (state, attempts) for iid, state, attempts in rows}


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {timeout}s")
        time.sleep(0.2)


def started(logs: list[Path]) -> int:
    """How many decryption workers have started, by their logs."""
    return sum(p.read_text().count(STARTED_LINE) for p in logs if p.exists())


def hold(engine: Engine, until: datetime | None) -> None:
    """Put every submission under a lease until ``until`` (None: release them)."""
    with engine.begin() as connection:
        connection.execute(update(Submission).values(claimed_until=until))


def all_processed(engine: Engine, iids: set[str]) -> Callable[[], bool]:
    def check() -> bool:
        found = states(engine)
        return all(found.get(i, ("", 0))[0] == "processed" for i in iids)

    return check


@dataclass
class Field:
    """A project with FIELD_VISIT and an app user, set up through the CLI."""

    project_id: int
    token: str

    def url(self, origin: str) -> str:
        return f"{origin}/v1/key/{self.token}/projects/{self.project_id}"


@pytest.fixture
def field(initialised: Invoke, tmp_path: Path) -> Field:
    project = initialised("projects", "create", "Field").output.strip()
    xlsx = tmp_path / "field_visit.xlsx"
    xlsx.write_bytes(md_to_xlsx(FIELD_VISIT))
    assert initialised("forms", "publish", str(xlsx), "--project", project).exit_code == 0
    created = initialised(
        "app-users", "create", "--project", project, "Tablet", "--forms", "field_visit"
    )
    token = re.search(r"^token: (\S+)$", created.output, re.MULTILINE)
    assert token
    return Field(int(project), token.group(1))


def survey_instance(form_id: str, iid: str) -> bytes:
    return (
        f'<{form_id} id="{form_id}" version="2026112301"><consent>yes</consent>'
        f"<meta><instanceID>{iid}</instanceID></meta></{form_id}>"
    ).encode()


def test_from_the_quickstart_qr_code_to_processed_submissions(
    cli: Invoke, cli_env: dict[str, str], engine: Engine, tmp_path: Path
) -> None:
    port = free_port()
    setup = cli("quickstart", "--no-serve", "--port", str(port))
    assert setup.exit_code == 0, setup.output
    url = URL.search(setup.output)
    assert url
    server_url = url.group(1)
    png = Path(cli_env["COLLECTOR_DATA_DIR"]) / "collect-qr.png"
    assert_qr_png(png, server_url, "Migration field work")
    log = tmp_path / "serve.log"
    with served(cli_env, "--workers", "2", port=port, log=log) as (_origin, process):
        # Whatever the server writes (the database's -wal and -shm among them) is its own.
        status = Path(f"/proc/{process.pid}/status")
        if status.exists():
            assert "Umask:\t0077" in status.read_text()
        client = CollectClient(server_url)
        listed = client.form_list()
        assert sorted(f.form_id for f in listed) == ["capacity_needs", "migration_profile"]
        assert client.head().status_code == 204
        iids = set()
        for form in listed:
            form_xml = client.download(form)
            iid = f"uuid:{form.form_id}-0001"
            xml = survey_instance(form.form_id, iid)
            upload = client.seal(form_xml, form.form_id, form.version, xml, [], iid)
            assert client.post(upload).status_code == 201
            iids.add(iid)
        wait_for(all_processed(engine, iids), 30, "not processed")
        # Refused tokens are logged too, and must not leak either.
        origin = f"http://127.0.0.1:{port}"
        for bad in ("B" * 64, "short"):
            response = requests.get(f"{origin}/v1/key/{bad}/projects/1/formList", timeout=10)
            assert response.status_code in (401, 403)
        # Other spellings of the same URL are served, redirected or refused, and logged alike.
        token, project = server_url.split("/v1/key/")[1].split("/projects/")
        for spelling, status in SPELLINGS:
            path = spelling.format(token=token, project=project)
            assert raw_get(port, path) == status, path
    text = log.read_text()
    assert "/v1/key/***/projects/" in text
    assert "POST /v1/key/***/projects/1/submission" in text
    assert token not in text
    assert token[:16] not in text
    assert "B" * 64 not in text
    assert "/key/short/" not in text


#: (path, status): the token segment as Collect, a proxy or a typo may spell it.
SPELLINGS = [
    ("/v1/k%65y/{token}/projects/{project}/formList", 200),
    ("/v1/key%2F{token}/projects/{project}/formList", 200),
    ("/v1/key//{token}/projects/{project}/formList", 308),
    ("//v1/key/{token}/projects/{project}/formList", 200),
    ("/v1/KEY/{token}/projects/{project}/formList", 404),
    ("/v1/%6B%45%79/./{token}/projects/{project}/formList", 404),
    ("/v1/key/{token}/projects/{project}/formList?x=/v1/key/{token}", 200),
]


def raw_get(port: int, path: str) -> int:
    """GET a request target exactly as written (requests would normalise its escapes)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"X-OpenRosa-Version": "1.0"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def seal_many(client: CollectClient, count: int) -> list[Upload]:
    sealer = Sealer(client)
    return [sealer(media=[("photo.jpg", b"p" * 2000)]) for _ in range(count)]


def post_all(
    server_urls: list[str], uploads: list[Upload], threads: int, stop: threading.Event
) -> tuple[list[str], list[BaseException]]:
    """POST uploads from several threads until done or one fails; return the acknowledged ids."""
    queue = list(reversed(uploads))
    lock = threading.Lock()
    acked: list[str] = []
    errors: list[BaseException] = []

    def run(n: int) -> None:
        client = CollectClient(server_urls[n % len(server_urls)], timeout=10)
        while not stop.is_set():
            with lock:
                if not queue:
                    return
                upload = queue.pop()
            try:
                response = client.post(upload)
            except requests.RequestException as exc:
                errors.append(exc)
                return
            if response.status_code == 201:
                with lock:
                    acked.append(upload.instance_id)

    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(120)
    return acked, errors


@pytest.mark.slow
def test_sigkill_while_submissions_stream_in_loses_nothing_acknowledged(
    field: Field, cli_env: dict[str, str], engine: Engine, tmp_path: Path
) -> None:
    env = {**cli_env, "COLLECTOR_WORKER_LEASE": "2"}
    log = tmp_path / "serve.log"
    stop = threading.Event()
    with served(env, "--workers", "2", log=log) as (origin, process):
        uploads = seal_many(CollectClient(field.url(origin)), 400)
        result: list[tuple[list[str], list[BaseException]]] = []
        poster = threading.Thread(
            target=lambda: result.append(post_all([field.url(origin)], uploads, 6, stop))
        )
        poster.start()
        wait_for(lambda: len(states(engine)) >= 40, 60, "too few submissions arrived")
        kill_group(process)  # The server and all its workers, mid-stream.
        poster.join(60)
    acked, errors = result[0]
    assert errors, "the kill came after every upload had finished: nothing was mid-stream"
    # At least 40 were committed when the kill came; a few of their answers may still have
    # been on the way, so fewer than 40 may have been acknowledged, but some were.
    assert 0 < len(acked) < len(uploads)
    stored = states(engine)
    assert set(acked) <= set(stored)
    with served(env, "--workers", "2", log=log):
        wait_for(all_processed(engine, set(stored)), 60, "not all processed after restart")
    final = states(engine)
    assert {state for state, _attempts in final.values()} == {"processed"}
    with engine.connect() as connection:
        records = connection.scalar(select(func.count()).select_from(SubmissionRecord))
    assert records == len(final)


@pytest.mark.postgres
def test_servers_and_workers_process_every_submission_exactly_once(
    field: Field, cli_env: dict[str, str], engine: Engine, tmp_path: Path
) -> None:
    logs = [tmp_path / "a.log", tmp_path / "b.log", tmp_path / "c.log", tmp_path / "workers.log"]
    # Two receiving servers; every upload is posted twice, to both, by concurrent clients.
    with (
        served(cli_env, "--workers", "2", "--no-decrypt", log=logs[0]) as (first, _a),
        served(cli_env, "--workers", "2", "--no-decrypt", log=logs[1]) as (second, _b),
    ):
        urls = [field.url(first), field.url(second)]
        uploads = seal_many(CollectClient(urls[0]), 100)
        acked, errors = post_all(urls, uploads + uploads[::-1], 8, threading.Event())
    assert errors == []
    assert Counter(acked) == Counter({u.instance_id: 2 for u in uploads})
    assert set(states(engine).values()) == {("received", 0)}
    # Then the backlog meets four decryptors at once: two worker processes and a server's
    # two in-process threads, all claiming from the same table. A lease holds it (as a
    # crashed worker's would) until all four run, so that the first one up cannot take it all.
    hold(engine, datetime(2100, 1, 1, tzinfo=UTC))
    # One decryptor clears 100 in about 0.1 s; polling every 50 ms, the others find the queue
    # while it still holds work (at the default half second, one could take it all).
    quick = {**cli_env, "COLLECTOR_WORKER_POLL": "0.05"}
    with (
        spawned(quick, "worker", "--processes", "2", log=logs[3]),
        served(quick, "--workers", "2", log=logs[2]),
    ):
        wait_for(lambda: started(logs[2:]) >= 4, 60, "not every decryptor started")
        hold(engine, None)
        wait_for(all_processed(engine, set(acked)), 90, "not all processed")
    final = states(engine)
    assert len(final) == len(uploads)
    assert set(final.values()) == {("processed", 1)}
    with engine.connect() as connection:
        records = connection.scalar(select(func.count()).select_from(SubmissionRecord))
        ids = connection.scalars(select(Submission.id)).all()
    assert records == len(ids) == len(uploads)
    lines = [m.groups() for path in logs for m in PROCESSED_LINE.finditer(path.read_text())]
    assert Counter(int(sid) for _pid, sid in lines) == Counter(ids)
    assert len({pid for pid, _sid in lines}) >= 2, "only one decryptor took part"


def test_stalled_and_malformed_bodies_end_without_holding_the_server(
    field: Field, cli_env: dict[str, str], engine: Engine, tmp_path: Path
) -> None:
    """A body that stops arriving ends after the idle timeout (400), however many there are;
    a malformed chunked body is a 400; neither stores anything."""
    env = {**cli_env, "COLLECTOR_IDLE_TIMEOUT": "1"}
    log = tmp_path / "serve.log"
    with served(env, "--workers", "1", "--threads", "2", log=log) as (origin, _process):
        url = field.url(origin)
        path = url.removeprefix(origin) + "/submission"
        port = int(origin.rsplit(":", 1)[1])
        head = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nX-OpenRosa-Version: 1.0\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n"
        )
        # More stalled uploads than the server has threads: each ends on its own timeout.
        stalled = []
        for _ in range(6):
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(f"{head}Content-Length: 100000\r\n\r\n--b\r\n".encode())
            stalled.append(sock)
        answers = []
        for sock in stalled:
            answers.append(read_answer(sock))
            sock.close()
        assert all(a.startswith(b"HTTP/1.1 400") for a in answers), answers
        assert all(b"the client disconnected or stopped sending" in a for a in answers), answers
        assert CollectClient(url, timeout=10).head().status_code == 204
        # A chunk size that is not a number, or smaller than its chunk.
        body = b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--b--\r\n'
        for chunk in (b"zz\r\n" + body, f"{len(body) - 5:x}\r\n".encode() + body):
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                chunked = f"{head}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                sock.sendall(chunked.encode() + chunk + b"\r\n0\r\n\r\n")
                answer = read_answer(sock)
            assert answer.startswith(b"HTTP/1.1 400"), answer
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Submission)) == 0
    assert "unexpected error" not in log.read_text()


def read_answer(sock: socket.socket) -> bytes:
    """Read one OpenRosa answer off a raw connection (until its XML ends or the peer closes)."""
    answer = b""
    while b"</OpenRosaResponse>" not in answer and (chunk := sock.recv(4096)):
        answer += chunk
    return answer
