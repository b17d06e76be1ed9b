"""Both shipped surveys load in an independent XForm engine: ODK Web Forms' own.

``tests/forms/xforms_engine`` pins ``@getodk/xforms-engine`` and ``jsdom`` (package-lock.json
committed); ``npm ci`` installs them on first use. The loader creates an instance, answers a
few gate questions, adds repeat entries, reads every label in every language and prepares the
submission, which evaluates every relevant, constraint, required and calculate expression. The
submission it produces is then flattened with this project's model: two independent readings
of the same form have to agree.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from forms.build import BuiltForm
from forms.model import FormModel

ENGINE = Path(__file__).resolve().parent / "xforms_engine"
LANGUAGES = {"Türkçe (tr)", "English (en)", "العربية (ar)"}
# Answers that open the gated parts of each survey, so their expressions run with data.
ANSWERS = {
    "migration_profile": {
        "/migration_profile/consent": "yes",
        "/migration_profile/person/dob_known": "no",
        "/migration_profile/person/age_estimate": "16",
        "/migration_profile/person/has_phone": "yes",
        "/migration_profile/profiling/profile": "trafficking_victim",
        "/migration_profile/person/languages_spoken": "arabic kurmanji",
        "/migration_profile/documents/documents_held": "passport tp_id",
        "/migration_profile/family/hh_count": "2",
    },
    "capacity_needs": {
        "/capacity_needs/consent": "yes",
        "/capacity_needs/human/staff_total": "40",
        "/capacity_needs/human/staff_migration": "12",
        "/capacity_needs/human/staff_trained": "6",
        "/capacity_needs/priorities/priority_1": "training",
    },
}


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"'{name}' is not installed: the independent XForm engine check needs Node.js 20 "
            "and npm (apt-get install nodejs npm)."
        )
    return found


@pytest.fixture(scope="session")
def engine() -> Path:
    """The loader script, with its pinned packages installed."""
    node = _tool("node")
    if not (ENGINE / "node_modules" / "@getodk" / "xforms-engine").is_dir():
        npm = _tool("npm")
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=ENGINE,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"npm ci failed in {ENGINE}:\n{done.stderr[-2000:]}")
    assert node
    return ENGINE / "load.mjs"


def run_engine(engine: Path, form: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_tool("node"), str(engine), str(form), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def load(engine: Path, built: BuiltForm, tmp_path: Path, answers: dict[str, str]) -> dict[str, Any]:
    form = tmp_path / f"{built.form_id}.xml"
    form.write_bytes(built.xml)
    sets = [item for ref, value in answers.items() for item in ("--set", f"{ref}={value}")]
    done = run_engine(engine, form, *sets, "--payload", str(tmp_path / "payload.xml"))
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_survey_loads_in_odk_web_forms_engine(
    engine: Path, built_surveys: dict[str, BuiltForm], tmp_path: Path, name: str
) -> None:
    built = built_surveys[name]
    result = load(engine, built, tmp_path, ANSWERS[name])
    assert result["status"] == "success"
    assert result["warnings"] is None
    assert set(result["languages"]) == LANGUAGES
    for language, labels in result["languages"].items():
        assert labels["missing"] == [], language
        assert labels["labelled"] > 60, language
    assert result["counts"]["select"] > 30
    payload = (tmp_path / "payload.xml").read_bytes()
    model = built.model
    assert isinstance(model, FormModel)
    flat = model.flatten(payload)
    assert flat.instance_id.startswith("uuid:")
    assert flat.unknown == ()
    for ref, value in ANSWERS[name].items():
        assert flat.root.values[ref] == value


def test_household_repeat_follows_the_count(
    engine: Path, built_surveys: dict[str, BuiltForm], tmp_path: Path
) -> None:
    built = built_surveys["migration_profile"]
    result = load(engine, built, tmp_path, ANSWERS["migration_profile"])
    assert result["counts"]["repeat-instance"] == 2
    assert built.model is not None
    flat = built.model.flatten((tmp_path / "payload.xml").read_bytes())
    rows = flat.rows("/migration_profile/household")
    assert [r.key for r in rows] == [f"{flat.instance_id}/household[{i}]" for i in (1, 2)]
    assert [r.values["/migration_profile/household/member_index"] for r in rows] == ["1", "2"]


def test_trafficking_indicators_open_when_flagged(
    engine: Path, built_surveys: dict[str, BuiltForm], tmp_path: Path
) -> None:
    built = built_surveys["migration_profile"]
    load(engine, built, tmp_path, ANSWERS["migration_profile"])
    assert built.model is not None
    flat = built.model.flatten((tmp_path / "payload.xml").read_bytes())
    assert flat.root.values["/migration_profile/trafficking/trafficking_flag"] == "yes"
    assert flat.root.values["/migration_profile/person/is_minor"] == "yes"
    assert "/migration_profile/trafficking/indicators/ti_ongoing" in flat.root.values


def test_refusal_leaves_nothing_about_the_person(
    engine: Path, built_surveys: dict[str, BuiltForm], tmp_path: Path
) -> None:
    built = built_surveys["migration_profile"]
    load(engine, built, tmp_path, {"/migration_profile/consent": "no"})
    assert built.model is not None
    flat = built.model.flatten((tmp_path / "payload.xml").read_bytes())
    recorded = {path for path, value in flat.root.values.items() if value}
    assert recorded <= {
        "/migration_profile/start",
        "/migration_profile/end",
        "/migration_profile/today",
        "/migration_profile/interview_date",
        "/migration_profile/consent",
        "/migration_profile/meta/instanceID",
    }
    assert flat.rows("/migration_profile/household") == ()


def test_engine_harness_reports_a_broken_form(engine: Path, tmp_path: Path) -> None:
    form = tmp_path / "broken.xml"
    form.write_text(
        '<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml">'
        "<h:head><h:title>b</h:title><model><instance><data id='b'><a/></data></instance>"
        '<bind nodeset="/data/a" type="int" relevant="1 +* 2"/></model></h:head>'
        '<h:body><input ref="/data/a"><label>A</label></input></h:body></h:html>',
        encoding="utf-8",
    )
    done = run_engine(engine, form)
    assert done.returncode != 0
    assert done.stderr.strip()
