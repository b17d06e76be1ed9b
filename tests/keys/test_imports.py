"""keys/ is a leaf: only the standard library and cryptography, hazmat through one module."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

KEYS = Path(__file__).resolve().parents[2] / "keys"
MODULES = sorted(KEYS.glob("*.py"))


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.add("keys")  # a relative import stays inside the package
            elif node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_there_are_modules_to_check() -> None:
    assert {p.name for p in MODULES} >= {"errors.py", "odk.py", "keyring.py", "kek.py", "seal.py"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_only_stdlib_cryptography_and_keys(path: Path) -> None:
    tops = {name.split(".")[0] for name in imported_modules(path)}
    allowed = set(sys.stdlib_module_names) | {"cryptography", "keys", "__future__"}
    assert tops <= allowed, sorted(tops - allowed)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_only_hazmat_module_touches_hazmat(path: Path) -> None:
    hazmat = {n for n in imported_modules(path) if n.startswith("cryptography.hazmat")}
    if path.name == "_hazmat.py":
        assert hazmat
        assert path.read_text(encoding="utf-8").startswith("# WARNING")
    else:
        assert not hazmat, sorted(hazmat)
