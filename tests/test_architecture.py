"""The one-way rule, checked mechanically: api -> collector -> {keys, forms}."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROOMS = ("api", "collector", "keys", "forms")
STDLIB = set(sys.stdlib_module_names)

# What each room may import besides the standard library.
ALLOWED = {
    "keys": {"keys", "cryptography"},
    "forms": {"forms", "pyxform", "openpyxl"},
    "collector": {
        "collector",
        "keys",
        "forms",
        "sqlalchemy",
        "alembic",
        "cryptography",
        "argon2",
        "segno",
        "rich",
        "psycopg",
        "gunicorn",
        "openpyxl",  # the Excel export (collector.export_xlsx)
    },
}
EDGE_ONLY = {"flask", "marshmallow", "click", "werkzeug", "api"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def room_files(room: str) -> list[Path]:
    return sorted((ROOT / room).rglob("*.py"))


@pytest.mark.parametrize("room", ["keys", "forms", "collector"])
def test_room_imports_only_what_it_may(room: str) -> None:
    bad = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in room_files(room)
        for name in imports_of(path) - STDLIB
        if name not in ALLOWED[room] or name in EDGE_ONLY
    }
    assert not bad, f"{room}/ breaks the one-way rule: {sorted(bad)}"


def test_only_hazmat_module_imports_cryptography_hazmat() -> None:
    offenders = []
    for path in room_files("keys"):
        if path.name == "_hazmat.py":
            continue
        text = path.read_text(encoding="utf-8")
        if "cryptography.hazmat" in text.replace("# ", ""):
            tree = ast.parse(text)
            for node in ast.walk(tree):
                module = getattr(node, "module", None) or ""
                names = [a.name for a in getattr(node, "names", [])]
                if module.startswith("cryptography.hazmat") or any(
                    n.startswith("cryptography.hazmat") for n in names
                ):
                    offenders.append(str(path.relative_to(ROOT)))
    assert not offenders


def test_nothing_imports_api() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for room in ("collector", "keys", "forms")
        for path in room_files(room)
        if "api" in imports_of(path)
    ]
    assert not offenders
