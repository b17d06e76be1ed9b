"""Live servers on loopback: the app in a thread (werkzeug), or ``collector serve`` (gunicorn)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from flask import Flask
from werkzeug.serving import make_server


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def threaded_server(app: Flask) -> Iterator[str]:
    """Serve ``app`` over real HTTP on loopback in a thread; yield its origin."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # A short poll interval: shutdown() waits for the loop to notice, once per test.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def wait_until_up(origin: str, timeout: float = 30.0) -> None:
    """Wait until a server answers on ``origin``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(origin + "/", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise TimeoutError(f"no server on {origin} after {timeout}s")


def collector_command() -> list[str]:
    """The real console entry point of this environment."""
    script = Path(sys.executable).with_name("collector")
    return [str(script)] if script.exists() else [sys.executable, "-m", "api.cli"]


@contextmanager
def served(
    env: dict[str, str], *args: str, log: Path | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``collector serve`` as a child process; yield its origin and the process."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    out = open(log, "ab") if log else subprocess.DEVNULL
    process = subprocess.Popen(
        [*collector_command(), "serve", "--port", str(port), *args],
        env={**os.environ, **env},
        stdout=out,
        stderr=out,
        start_new_session=True,
    )
    try:
        wait_until_up(origin)
        yield origin, process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if log:
            out.close()  # type: ignore[union-attr]
