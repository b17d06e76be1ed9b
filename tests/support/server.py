"""Live servers on loopback: the app in a thread (werkzeug), or ``collector serve`` (gunicorn)."""

from __future__ import annotations

import contextlib
import os
import signal
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


def wait_until_up(
    origin: str, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Wait until a server answers on ``origin`` (and fail early if its process died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        try:
            requests.get(origin + "/", timeout=5)
            return
        except (requests.ConnectionError, requests.Timeout):
            # Gunicorn listens before its workers have booted: connections queue meanwhile.
            time.sleep(0.1)
    raise TimeoutError(f"no server on {origin} after {timeout}s")


ROOT = Path(__file__).resolve().parents[2]


def collector_command() -> list[str]:
    """The ``collector`` entry point of this checkout (whatever an installed script points at)."""
    return [sys.executable, "-m", "api.cli"]


def child_env(env: dict[str, str]) -> dict[str, str]:
    """The environment of a child ``collector`` process: ours, ``env``, this checkout first."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, **env, "PYTHONPATH": path}


def run_cli(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run ``collector ARGS`` in a child process; return its stdout (exit status must be 0)."""
    done = subprocess.run(
        [*collector_command(), *args],
        env=child_env(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a child and every process it started (its session), as a power cut would."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextmanager
def spawned(
    env: dict[str, str], *args: str, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``collector ARGS`` as a child in its own session; stop it (and its children) after."""
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(log.open("ab")) if log else subprocess.DEVNULL
        process = subprocess.Popen(
            [*collector_command(), *args],
            env=child_env(env),
            cwd=ROOT,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    pass
            kill_group(process)


@contextmanager
def served(
    env: dict[str, str], *args: str, log: Path | None = None, port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``collector serve`` as a child process; yield its origin and the process."""
    port = port or free_port()
    origin = f"http://127.0.0.1:{port}"
    with spawned(env, "serve", "--port", str(port), *args, log=log) as process:
        wait_until_up(origin, process=process)
        yield origin, process
