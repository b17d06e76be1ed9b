"""A safe subset of OData ``$filter``: parsed here, run in SQL where it can, in Python otherwise.

Grammar (OData's precedence: ``not`` over comparisons over ``and`` over ``or``)::

    expr       := and ("or" and)*
    and        := unary ("and" unary)*
    unary      := "not" unary | "(" expr ")" | comparison
    comparison := operand ("eq"|"ne"|"gt"|"ge"|"lt"|"le") operand
    operand    := property | literal | fn "(" property ")" | "now()"
    property   := ["$root/Submissions/"] name ("/" name)*
    fn         := year | month | day | hour | minute | second
    literal    := 'string' | number | 2024-05-01 | 2024-05-01T10:00:00Z | null | true | false

Each comparison sets one property against one literal. Comparisons on submission metadata with
a database column become SQL (``where`` of the streaming query); everything else is evaluated on
the rendered row, so a filter only ever sees what the reader may see (a pseudonym, a band, a
withheld null), never a stored original. Types follow the property: the literal is read as the
property's kind, and a literal that cannot be (a word against a number) simply does not match.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, not_, or_, true

from collector.odata.errors import ODataNotImplemented, UnparseableFilter
from collector.odata.kinds import MISMATCH, coerce, to_datetime

MAX_LENGTH = 4000
MAX_COMPARISONS = 64
MAX_DEPTH = 32
OPERATORS = ("eq", "ne", "gt", "ge", "lt", "le")
FUNCTIONS = ("year", "month", "day", "hour", "minute", "second")
_FLIPPED = {"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}
_UNSUPPORTED = {"add", "sub", "mul", "div", "divby", "mod", "has", "in", "any", "all", "cast"}
_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<string>'(?:[^']|'')*')
    |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))
    |(?P<date>\d{4}-\d{2}-\d{2})
    |(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    |(?P<name>(?:\$root/Submissions/)?[A-Za-z_][A-Za-z0-9_-]*(?:/[A-Za-z_][A-Za-z0-9_-]*)*)
    |(?P<punct>[(),])""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Target:
    """What a property names: a lookup key, the kind of its values, and its SQL column."""

    key: str
    kind: str  # string, int, number, date, datetime, bool, geo
    column: Any = None


Resolver = Callable[[str], Target]
Lookup = Callable[[str], Any]


@dataclass(frozen=True)
class Compare:
    target: Target
    function: str | None
    op: str
    literal: Any


@dataclass(frozen=True)
class Junction:
    op: str  # and, or
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Negation:
    item: Expr


Expr = Compare | Junction | Negation


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    at: int


def tokenise(text: str) -> list[_Token]:
    """Split a filter into tokens, refusing any character outside the grammar."""
    tokens, at = [], 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None or match.lastgroup is None:
            raise UnparseableFilter("unexpected character", at)
        if match.lastgroup != "space":
            tokens.append(_Token(match.lastgroup, match.group(), at))
        at = match.end()
    return tokens


@dataclass
class _Parser:
    tokens: list[_Token]
    resolve: Resolver
    now: datetime
    position: int = 0
    comparisons: int = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise UnparseableFilter("unexpected end of expression", self._end())
        self.position += 1
        return token

    def _end(self) -> int:
        last = self.tokens[-1] if self.tokens else None
        return last.at + len(last.text) if last else 0

    def is_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "name" and token.text in words

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            raise UnparseableFilter(f"expected '{text}'", token.at)

    def expression(self, depth: int = 0) -> Expr:
        if depth > MAX_DEPTH:
            raise UnparseableFilter("the expression is nested too deeply", self._end())
        items = [self.conjunction(depth)]
        while self.is_word("or"):
            self.take()
            items.append(self.conjunction(depth))
        return items[0] if len(items) == 1 else Junction("or", tuple(items))

    def conjunction(self, depth: int) -> Expr:
        items = [self.unary(depth)]
        while self.is_word("and"):
            self.take()
            items.append(self.unary(depth))
        return items[0] if len(items) == 1 else Junction("and", tuple(items))

    def unary(self, depth: int) -> Expr:
        if self.is_word("not"):
            self.take()
            return Negation(self.unary(depth + 1))
        token = self.peek()
        if token is not None and token.text == "(":
            self.take()
            inner = self.expression(depth + 1)
            self.expect(")")
            return inner
        return self.comparison()

    def comparison(self) -> Compare:
        left = self.operand()
        token = self.take()
        if token.kind == "name" and token.text in _UNSUPPORTED:
            raise ODataNotImplemented(
                f"The given OData filter expression uses features not supported by this "
                f"server: the operator '{token.text}' (at character {token.at})",
                code=501.4,
                at=token.at,
            )
        if token.kind != "name" or token.text not in OPERATORS:
            raise UnparseableFilter(
                "expected a comparison operator (eq, ne, gt, ge, lt, le)", token.at
            )
        right = self.operand()
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise UnparseableFilter(f"more than {MAX_COMPARISONS} comparisons", token.at)
        return _comparison(left, token.text, right, token.at)

    def operand(self) -> _Operand:
        token = self.take()
        if token.kind == "punct":
            raise UnparseableFilter("expected a property or a value", token.at)
        if token.kind != "name":
            return _Operand(literal=_literal(token))
        if token.text in ("null", "true", "false"):
            return _Operand(literal={"null": None, "true": True, "false": False}[token.text])
        following = self.peek()
        if following is not None and following.text == "(":
            return self.call(token)
        if token.text in OPERATORS or token.text in ("and", "or", "not"):
            raise UnparseableFilter("expected a property or a value", token.at)
        return _Operand(target=self.resolve(token.text))

    def call(self, name: _Token) -> _Operand:
        self.expect("(")
        if name.text == "now":
            self.expect(")")
            return _Operand(literal=self.now)
        if name.text not in FUNCTIONS:
            raise ODataNotImplemented(
                "The given OData filter expression uses a function not supported by this "
                f"server (at character {name.at}): use {', '.join(FUNCTIONS)} or now",
                code=501.4,
                at=name.at,
            )
        argument = self.take()
        if argument.kind != "name":
            raise UnparseableFilter(f"{name.text}() takes a property", argument.at)
        target = self.resolve(argument.text)
        if target.kind not in ("date", "datetime", "string"):
            raise UnparseableFilter(f"{name.text}() takes a date or a time", argument.at)
        self.expect(")")
        return _Operand(target=target, function=name.text)


@dataclass(frozen=True)
class _Operand:
    target: Target | None = None
    function: str | None = None
    literal: Any = None


def _literal(token: _Token) -> Any:
    try:
        if token.kind == "string":
            return token.text[1:-1].replace("''", "'")
        if token.kind == "number":
            text = token.text
            return float(text) if any(c in text for c in ".eE") else int(text)
        if token.kind == "date":
            return date.fromisoformat(token.text)
        return to_datetime(token.text)
    except ValueError:
        raise UnparseableFilter("not a valid date or number", token.at) from None


def _comparison(left: _Operand, op: str, right: _Operand, at: int) -> Compare:
    if left.target is None and right.target is not None:
        left, right, op = right, left, _FLIPPED[op]
    if left.target is None or right.target is not None:
        raise ODataNotImplemented(
            "The given OData filter expression uses features not supported by this server: "
            f"each comparison must set one property against one value (at character {at})",
            code=501.4,
            at=at,
        )
    kind = "number" if left.function else left.target.kind
    return Compare(left.target, left.function, op, coerce(kind, right.literal))


def parse(text: str, resolve: Resolver, *, now: datetime | None = None) -> Expr:
    """Parse a filter, resolving each property name with ``resolve``."""
    if len(text) > MAX_LENGTH:
        raise UnparseableFilter(f"longer than {MAX_LENGTH} characters", MAX_LENGTH)
    parser = _Parser(tokenise(text), resolve, now or datetime.now(UTC))
    if not parser.tokens:
        raise UnparseableFilter("the expression is empty", 0)
    expr = parser.expression()
    extra = parser.peek()
    if extra is not None:
        raise UnparseableFilter("unexpected text after the expression", extra.at)
    return expr


def in_sql(expr: Expr) -> bool:
    """Tell whether an expression can run entirely in SQL."""
    if isinstance(expr, Compare):
        return expr.target.column is not None and expr.function is None
    if isinstance(expr, Negation):
        return in_sql(expr.item)
    return all(in_sql(item) for item in expr.items)


def split(expr: Expr | None) -> tuple[list[ColumnElement[bool]], Expr | None]:
    """Split a filter into SQL conditions and the rest, to evaluate on rows (both must hold)."""
    if expr is None:
        return [], None
    conjuncts = expr.items if isinstance(expr, Junction) and expr.op == "and" else (expr,)
    sql = [to_sql(c) for c in conjuncts if in_sql(c)]
    rest = tuple(c for c in conjuncts if not in_sql(c))
    if not rest:
        return sql, None
    return sql, rest[0] if len(rest) == 1 else Junction("and", rest)


def to_sql(expr: Expr) -> ColumnElement[bool]:
    """Compile an SQL-able expression; comparisons never yield NULL, so ``not`` is exact."""
    if isinstance(expr, Negation):
        return not_(to_sql(expr.item))
    if isinstance(expr, Junction):
        parts = [to_sql(item) for item in expr.items]
        return and_(*parts) if expr.op == "and" else or_(*parts)
    column, op, value = expr.target.column, expr.op, expr.literal
    if value is MISMATCH:
        return true() if op == "ne" else false()
    if value is None:
        return column.is_(None) if op == "eq" else column.is_not(None) if op == "ne" else false()
    if op == "ne":
        return or_(column.is_(None), column != value)
    compared = {
        "eq": column == value,
        "gt": column > value,
        "ge": column >= value,
        "lt": column < value,
        "le": column <= value,
    }[op]
    return and_(column.is_not(None), compared)


def matches(expr: Expr, lookup: Lookup) -> bool:
    """Evaluate an expression on one row; ``lookup`` returns a target key's value."""
    if isinstance(expr, Negation):
        return not matches(expr.item, lookup)
    if isinstance(expr, Junction):
        found = (matches(item, lookup) for item in expr.items)
        return all(found) if expr.op == "and" else any(found)
    value = _value(expr, lookup(expr.target.key))
    return compare(value, expr.op, expr.literal)


def _value(expr: Compare, raw: Any) -> Any:
    if expr.function is None:
        return coerce(expr.target.kind, raw)
    kind = "date" if expr.function in ("year", "month", "day") else "datetime"
    moment = coerce(kind, raw)
    if moment is None or moment is MISMATCH:
        return moment
    return getattr(moment, expr.function)


def compare(value: Any, op: str, literal: Any) -> bool:
    """Compare with OData's null rules; values of different kinds are simply unequal."""
    if value is MISMATCH or literal is MISMATCH:
        return op == "ne"
    if value is None or literal is None:
        same = value is None and literal is None
        return same if op == "eq" else (not same) if op == "ne" else False
    try:
        return bool(
            {
                "eq": lambda: value == literal,
                "ne": lambda: value != literal,
                "gt": lambda: value > literal,
                "ge": lambda: value >= literal,
                "lt": lambda: value < literal,
                "le": lambda: value <= literal,
            }[op]()
        )
    except TypeError:
        return op == "ne"
