"""The entities sheet: what a form declares, and the rule that keeps protected data out."""

# ruff: noqa: E501 - XLSForms written as markdown tables keep one form row per line.

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from forms.build import build_xform
from forms.entity import EntityDeclaration, check_entity_policy, read_action
from forms.errors import ErrorCode, FormError
from forms.model import parse_xform

Form = Callable[[str], Path]

HEAD = """
| survey |
|        | type      | name      | label     | pii        | pii_rule | save_to   | calculation       |
|        | text      | full_name | Name      | identifier | name     |           |                   |
|        | text      | village   | Village   |            |          | village   |                   |
|        | date      | dob       | Born      | quasi      | year     | born      |                   |
|        | text      | story     | Story     | sensitive  |          |           |                   |
|        | text      | notes     | Notes     | drop       |          |           |                   |
|        | calculate | initials  |           |            |          |           | substr(${full_name}, 0, 2) |
|        | calculate | decade    |           |            |          |           | substr(${dob}, 0, 3) |
|        | calculate | place     |           |            |          |           | concat(${village}, '') |
{extra}
| entities |
|          | list_name | label   |
|          | people    | {label} |
| settings |
|          | form_id  | version |
|          | register | 1       |
"""


def form(label: str = "${village}", extra: str = "") -> str:
    return HEAD.replace("{extra}", extra).replace("{label}", label)


def refusal(xlsform: Form, md: str) -> FormError:
    with pytest.raises(FormError) as caught:
        build_xform(xlsform(md))
    return caught.value


def test_a_clean_form_declares_its_list_properties_and_label(xlsform: Form) -> None:
    built = build_xform(xlsform(form("concat('Household ', ${place})")))
    assert built.model is not None
    declaration = built.model.entity
    assert declaration == EntityDeclaration(
        path="/data/meta/entity",
        dataset="people",
        spec_version="2024.1.0",
        label="/data/meta/entity/label",
        saveto={"/data/village": "village", "/data/dob": "born"},
    )
    # The same declaration is read back from the published XForm alone.
    assert parse_xform(built.xml).entity == declaration


@pytest.mark.parametrize(
    ("field", "kind"),
    [
        ("full_name", "identifier"),
        ("story", "sensitive"),
        ("notes", "drop"),
        ("initials", "sensitive"),
    ],
)
def test_protected_fields_cannot_be_saved(xlsform: Form, field: str, kind: str) -> None:
    error = refusal(xlsform, _save(form(), field, "leak"))
    assert error.code is ErrorCode.ENT_005
    assert error.message == ErrorCode.ENT_005.format(
        path=f"/data/{field}", property="leak", kind=kind
    )


def _save(md: str, field: str, prop: str) -> str:
    """Give the survey row named ``field`` a save_to."""
    lines = []
    for line in md.splitlines():
        cells = line.split("|")
        if len(cells) > 7 and cells[3].strip() == field:
            cells[7] = f" {prop} "
            line = "|".join(cells)
        lines.append(line)
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("label", "source"),
    [
        ("${full_name}", "/data/full_name"),  # an identifier
        ("concat('HH ', ${initials})", "/data/full_name"),  # through a calculation
        ("${decade}", "/data/dob"),  # a quasi-identifier, through a calculation
        ("concat(${village}, ${story})", "/data/story"),  # sensitive, next to a clean field
    ],
)
def test_a_label_cannot_use_protected_fields(xlsform: Form, label: str, source: str) -> None:
    error = refusal(xlsform, form(label))
    assert error.code is ErrorCode.ENT_006
    assert f"'{source}'" in error.message


def test_fields_in_repeats_cannot_be_saved(xlsform: Form) -> None:
    extra = (
        "|        | begin_repeat | member | Member |  |  |        |  |\n"
        "|        | text         | role   | Role   |  |  | role   |  |\n"
        "|        | end_repeat   |        |        |  |  |        |  |"
    )
    assert "save_to" in refusal(xlsform, form(extra=extra)).message  # pyxform's own check
    # An uploaded XForm is checked here.
    xml = (
        b'<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml"'
        b' xmlns:entities="http://www.opendatakit.org/xforms/entities"><h:head><h:title>t</h:title>'
        b'<model entities:entities-version="2024.1.0"><instance><data id="t"><member><role/></member>'
        b'<meta><entity dataset="t" id="" create="1"/><instanceID/></meta></data></instance>'
        b'<bind nodeset="/data/member/role" type="string" entities:saveto="role"/></model></h:head>'
        b'<h:body><repeat nodeset="/data/member"><input ref="/data/member/role"/></repeat></h:body>'
        b"</h:html>"
    )
    model = parse_xform(xml)
    [problem] = check_entity_policy(model, model.policy, {})
    assert problem.code is ErrorCode.ENT_004


def test_an_xform_that_saves_without_declaring_an_entity_is_refused() -> None:
    xml = (
        b'<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml"'
        b' xmlns:entities="http://www.opendatakit.org/xforms/entities"><h:head><h:title>t</h:title>'
        b'<model entities:entities-version="2024.1.0"><instance><data id="t"><a/><meta><instanceID/>'
        b'</meta></data></instance><bind nodeset="/data/a" type="string" entities:saveto="a"/>'
        b"</model></h:head><h:body/></h:html>"
    )
    with pytest.raises(FormError) as caught:
        parse_xform(xml)
    assert caught.value.code is ErrorCode.ENT_001
    future = xml.replace(
        b"<meta><instanceID/>", b'<meta><entity dataset="t" id="" create="1"/><instanceID/>'
    )
    with pytest.raises(FormError) as caught:
        parse_xform(future.replace(b"2024.1.0", b"2099.1.0"))
    assert "2099.1.0" in caught.value.message
    assert parse_xform(future).entity is not None


def test_a_submission_asks_for_create_or_update() -> None:
    declaration = EntityDeclaration("/data/meta/entity", "people", "2024.1.0", None)
    entity_id = "1f0e7a52-3c64-45fa-81fa-f5a7a94f9a97"
    made = read_action(
        declaration, {"dataset": "other", "id": f"uuid:{entity_id}", "create": "true"}
    )
    assert made is not None
    assert (made.dataset, made.uuid, made.create, made.update) == ("people", entity_id, True, False)
    # An id that is not a UUID (a form computing it from an answer, say) is not carried on.
    named = read_action(declaration, {"id": "Ayşe Yılmaz", "create": "1"})
    assert named is not None
    assert named.uuid == ""
    changed = read_action(declaration, {"id": "x", "update": "1", "baseVersion": "3"})
    assert changed is not None
    assert (changed.update, changed.base_version) == (True, 3)
    assert read_action(declaration, {"id": "x", "create": "0", "update": "false()"}) is None
    assert read_action(declaration, None) is None
