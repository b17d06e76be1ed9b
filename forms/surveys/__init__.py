"""The shipped XLSForm surveys, generated from ``_source`` (see its docstring)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
#: Form id -> what the survey is for.
SURVEYS = {
    "capacity_needs": "Capacity-needs assessment of an institution working on migration",
    "migration_profile": "Mixed-migration profiling of one person on the move",
}


def path(name: str) -> Path:
    """Return the .xlsx file of a shipped survey."""
    if name not in SURVEYS:
        raise KeyError(f"no shipped survey {name!r}; known: {', '.join(SURVEYS)}")
    return HERE / f"{name}.xlsx"
