"""The PII policy: what the ``pii`` and ``pii_rule`` columns of an XLSForm say about each field.

| pii          | pii_rule                                   | at rest                          |
|--------------|--------------------------------------------|----------------------------------|
| identifier   | optional identifier type: phone, document, | keyed pseudonym; original sealed |
|              | name, email, text (else derived)           | in the identity vault            |
| quasi        | year, month, band:N, round:N, admin1       | generalised by the rule          |
| sensitive    | (none)                                     | kept, sealed, role-restricted    |
| drop         | (none)                                     | never stored after decryption    |

The policy is keyed by each field's path in the instance (``/root/group/name``; a field inside
a repeat has one path for every entry). The identifier type says how the collector normalises a
value before pseudonymising it, so that the same phone number written two ways links.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from forms.errors import ErrorCode, FormError

POLICY_FORMAT = 1
IDENTIFIER_TYPES = ("phone", "document", "name", "email", "text")
_QUASI_RULE = re.compile(r"^(?:year|month|admin1|band:(\d+)|round:(\d+))$")
_POSITION = re.compile(r"\[\d+\]")
# Which quasi rules can generalise which question types. A calculate has no declared type, so
# any rule may apply; the collector checks the value at run time.
_RULE_FITS = {
    "year": ("date", "datetime", "calculate", "today", "start", "end"),
    "month": ("date", "datetime", "calculate", "today", "start", "end"),
    "band": ("integer", "int", "decimal", "range", "calculate"),
    "round": ("decimal", "geopoint", "start-geopoint", "range", "calculate"),
    "admin1": (
        "select_one",
        "select_one_from_file",
        "text",
        "calculate",
        "geopoint",
        "start-geopoint",
    ),
}
# Name fragments that say what kind of identifier a field holds, most specific first.
_IDENTIFIER_HINTS = (
    ("phone", ("phone", "mobile", "telephone", "tel", "gsm", "msisdn", "whatsapp", "telefon")),
    ("email", ("email", "mail", "eposta")),
    ("document", ("passport", "document", "doc", "id", "identity", "kimlik", "ykn", "number")),
    ("name", ("name", "surname", "firstname", "lastname", "fullname", "isim", "ad", "soyad")),
)


class PIIKind(StrEnum):
    """How a field is treated at rest."""

    IDENTIFIER = "identifier"
    QUASI = "quasi"
    SENSITIVE = "sensitive"
    DROP = "drop"


@dataclass(frozen=True)
class PIIRule:
    """The treatment of one field: its kind, a quasi rule, and an identifier's type."""

    kind: PIIKind
    rule: str | None = None
    identifier_type: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        """Return the rule as plain JSON values."""
        return {"kind": self.kind.value, "rule": self.rule, "identifier_type": self.identifier_type}


@dataclass(frozen=True)
class PIIPolicy:
    """Every field of a form that carries a ``pii`` value, by its instance path."""

    fields: Mapping[str, PIIRule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(sorted(self.fields.items()))))

    def __hash__(self) -> int:
        return hash(tuple(self.fields.items()))

    def rule_for(self, path: str) -> PIIRule | None:
        """Return the rule for a field path; repeat positions such as '[2]' are ignored."""
        return self.fields.get(_POSITION.sub("", path))

    def to_json(self) -> str:
        """Serialise the policy as stable, sorted JSON."""
        body = {"format": POLICY_FORMAT, "fields": {p: r.to_dict() for p, r in self.fields.items()}}
        return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> PIIPolicy:
        """Load a policy written by ``to_json``, checking every rule again."""
        try:
            body = json.loads(text)
            if body.get("format") != POLICY_FORMAT:
                raise ValueError(f"unknown format {body.get('format')!r}")
            fields = {
                str(path): _rule_from_dict(value) for path, value in dict(body["fields"]).items()
            }
        except FormError as exc:
            raise FormError(ErrorCode.XML_009, detail=exc.message) from None
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise FormError(ErrorCode.XML_009, detail=f"{type(exc).__name__}: {exc}") from None
        return cls(fields)


def _rule_from_dict(value: Mapping[str, str | None]) -> PIIRule:
    kind = PIIKind(str(value["kind"]))
    rule = value.get("rule")
    identifier_type = value.get("identifier_type")
    if kind is PIIKind.QUASI:
        parse_quasi_rule(rule or "")
    elif kind is PIIKind.IDENTIFIER and identifier_type not in IDENTIFIER_TYPES:
        raise ValueError(f"unknown identifier type {identifier_type!r}")
    return PIIRule(kind, rule, identifier_type)


def parse_quasi_rule(rule: str) -> tuple[str, int | None]:
    """Split a quasi rule into its name and number, raising ValueError when invalid."""
    match = _QUASI_RULE.match(rule.strip())
    if not match:
        raise ValueError(rule)
    band, digits = match.groups()
    if band is not None:
        if not 1 <= int(band) <= 1000:
            raise ValueError(rule)
        return "band", int(band)
    if digits is not None:
        if not 0 <= int(digits) <= 6:
            raise ValueError(rule)
        return "round", int(digits)
    return rule.strip(), None


def name_tokens(name: str) -> list[str]:
    """Split a field name into lower-case words ('passportNo_2' -> ['passport', 'no', '2'])."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [t for t in re.split(r"[^A-Za-z0-9]+|(?<=[a-z])(?=[0-9])", spaced.lower()) if t]


def derive_identifier_type(name: str, base_type: str, appearance: str) -> str:
    """Guess an identifier's type from the question's name, type and appearance."""
    tokens = set(name_tokens(name))
    for identifier_type, hints in _IDENTIFIER_HINTS:
        if tokens & set(hints):
            return identifier_type
    if base_type == "email" or "email" in appearance:
        return "email"
    if "numbers" in appearance:
        return "document"
    return "text"


@dataclass(frozen=True)
class RowFacts:
    """What the policy parser needs to know about one survey row."""

    row: int
    name: str
    base_type: str
    appearance: str
    holds_answer: bool
    type: str


def parse_pii(pii: str, rule: str, facts: RowFacts) -> PIIRule | None:
    """Turn a row's pii and pii_rule cells into a rule, raising FormError when they are wrong."""
    pii, rule = pii.strip(), rule.strip()
    if not pii:
        if rule:
            raise FormError(ErrorCode.PII_004, sheet="survey", row=facts.row, value=rule)
        return None
    try:
        kind = PIIKind(pii.lower())
    except ValueError:
        raise FormError(ErrorCode.PII_001, sheet="survey", row=facts.row, value=pii) from None
    if not facts.holds_answer:
        raise FormError(
            ErrorCode.PII_006, sheet="survey", row=facts.row, type=facts.type or "blank"
        )
    if kind is PIIKind.QUASI:
        return PIIRule(kind, _quasi_rule(rule, facts), None)
    if kind is PIIKind.IDENTIFIER:
        return PIIRule(kind, None, _identifier_type(rule, facts))
    if rule:
        allowed = f"'{kind.value}' takes no rule: remove it."
        raise FormError(
            ErrorCode.PII_005,
            sheet="survey",
            row=facts.row,
            value=rule,
            kind=kind.value,
            allowed=allowed,
        )
    return PIIRule(kind)


def _quasi_rule(rule: str, facts: RowFacts) -> str:
    if not rule:
        raise FormError(ErrorCode.PII_002, sheet="survey", row=facts.row)
    try:
        name, _ = parse_quasi_rule(rule)
    except ValueError:
        raise FormError(ErrorCode.PII_003, sheet="survey", row=facts.row, value=rule) from None
    fits = _RULE_FITS[name]
    if facts.base_type not in fits:
        raise FormError(
            ErrorCode.PII_007,
            sheet="survey",
            row=facts.row,
            value=rule,
            type=facts.base_type,
            fits=", ".join(fits),
        )
    return rule.replace(" ", "")


def _identifier_type(rule: str, facts: RowFacts) -> str:
    if not rule:
        return derive_identifier_type(facts.name, facts.base_type, facts.appearance)
    if rule.lower() not in IDENTIFIER_TYPES:
        allowed = "For 'identifier' it names the identifier type: " + ", ".join(IDENTIFIER_TYPES)
        raise FormError(
            ErrorCode.PII_005,
            sheet="survey",
            row=facts.row,
            value=rule,
            kind="identifier",
            allowed=allowed + ".",
        )
    return rule.lower()


@dataclass(frozen=True)
class Derived:
    """A field whose value is computed from protected fields (by a calculation or a default)."""

    path: str
    #: The protected field it was found to use first (directly or through other calculates).
    source: str
    rule: PIIRule


# Names in an XPath expression: each step of a path, and function names (harmless extra hits).
_XPATH_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


def derive_protection(
    policy: PIIPolicy, calculates: Mapping[str, str]
) -> tuple[PIIPolicy, list[Derived]]:
    """Protect calculated fields that compute their value from protected ones.

    ``calculates`` maps the path of each field whose value is computed to its expression: a
    bind's ``calculate`` (the settings' ``instance_name`` is one: ``meta/instanceName``) or a
    ``setvalue`` action's value (a calculation's ``trigger``, a dynamic ``default``), several
    joined. A calculation that names an identifier, a sensitive or a dropped field, directly or
    through other calculations, can carry its value (``concat`` of a name into the instance
    name, a phone number reformatted, a copy made when it changes), so it is stored as ``drop``
    when it uses a dropped field and sealed as ``sensitive`` otherwise. Quasi-identifiers are
    left to their author: what is computed from one (an age from a date of birth, a minor flag
    from an age) is the analysis variable the rule exists to allow. A calculation with a
    ``pii`` value of its own keeps it. Fields are matched by name, which errs towards
    protecting: a calculation naming a field its form has twice is protected by either.
    """
    fields = dict(policy.fields)
    derived: dict[str, Derived] = {}
    changed = True
    while changed:
        changed = False
        protected = {
            _last(path): (path, rule)
            for path, rule in fields.items()
            if rule.kind is not PIIKind.QUASI
        }
        for path, expression in calculates.items():
            if path in policy.fields:
                continue
            sources = [protected[n] for n in _XPATH_NAME.findall(expression) if n in protected]
            sources = [(p, r) for p, r in sources if p != path]
            if not sources:
                continue
            drop = next((p for p, r in sources if r.kind is PIIKind.DROP), None)
            rule = PIIRule(PIIKind.DROP if drop else PIIKind.SENSITIVE)
            if fields.get(path) == rule:
                continue
            fields[path] = rule
            derived[path] = Derived(path, drop or sources[0][0], rule)
            changed = True
    return PIIPolicy(fields), sorted(derived.values(), key=lambda d: d.path)


def _last(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def protect_audit_logs(policy: PIIPolicy, audits: Sequence[str]) -> tuple[PIIPolicy, list[str]]:
    """Seal Collect's audit logs (``meta/audit`` files) as ``sensitive``; return their paths.

    An audit log lists each question as it was answered. With ``track-changes`` it holds the
    answers themselves, identifiers included; with ``location-*`` the device's position all
    along; with ``identify-user`` who filled the form in. Only an admin gets it, whatever its
    parameters say (a ``pii`` value of its own overrides that).
    """
    fields = dict(policy.fields)
    sealed = [path for path in audits if path not in fields]
    fields |= {path: PIIRule(PIIKind.SENSITIVE) for path in sealed}
    return PIIPolicy(fields), sealed
