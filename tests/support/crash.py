"""Run the ``collector`` CLI and SIGKILL it at the n-th call of a given function.

    python -m tests.support.crash MODULE:NAME N -- ARGS...

Fault injection for the interrupted-job tests: the process dies as a ``kill -9`` would leave
it (no cleanup, no rollback handlers, an open transaction abandoned).
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from collections.abc import Callable
from typing import Any


def arm(target: str, n: int) -> None:
    """Replace MODULE:NAME with a wrapper that kills the process on its n-th call."""
    module_name, name = target.split(":")
    module = importlib.import_module(module_name)
    original: Callable[..., Any] = getattr(module, name)
    calls = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == n:
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)

    setattr(module, name, wrapper)


def main() -> None:
    target, n, separator, *args = sys.argv[1:]
    assert separator == "--"
    arm(target, int(n))
    from api.cli import main as cli

    cli(args)


if __name__ == "__main__":
    main()
