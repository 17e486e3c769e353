"""The SOQL subset leadflow and simple-salesforce send: SELECT fields FROM object [WHERE ...]
[ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n].

WHERE takes AND, OR, NOT, parentheses, = != <> < <= > >=, IN / NOT IN (...), LIKE, and the
literals Salesforce documents: 'quoted strings', numbers, TRUE/FALSE, NULL, and unquoted dates
(2026-11-30) and datetimes (2026-11-30T10:00:00Z, or with +hh:mm / -hh:mm; fractions of a
second are accepted and, as Salesforce stores none, the org's times are whole seconds). Names match
case-insensitively; an unknown one is INVALID_FIELD, an unknown object INVALID_TYPE, anything
else it cannot parse MALFORMED_QUERY, each in Salesforce's words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from leadflow.sources.salesforce import ids
from leadflow.sources.salesforce.sandbox.errors import SalesforceError
from leadflow.sources.salesforce.sandbox.schema import Field, SObject, find

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))
    | (?P<date>\d{4}-\d{2}-\d{2})(?![\d:T])
    | (?P<number>-?\d+(?:\.\d+)?)(?![\w-])
    | (?P<string>'(?:[^'\\]|\\.)*')
    | (?P<op><=|>=|!=|<>|=|<|>)
    | (?P<punct>[(),])
    | (?P<word>[A-Za-z_][\w.]*)
    )""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}
_ESCAPES.update({"%": "\\%", "_": "\\_"})  # kept escaped for LIKE


def malformed(message: str) -> SalesforceError:
    return SalesforceError(400, "MALFORMED_QUERY", message)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    at: int


def tokenize(soql: str) -> list[Token]:
    tokens, at = [], 0
    text = soql.rstrip()
    while at < len(text):
        match = _TOKEN.match(text, at)
        if not match or match.end() == at:
            raise malformed(f"unexpected token: '{text[at:].split()[0]}'")
        kind = match.lastgroup or ""
        tokens.append(Token(kind, match.group(kind), match.start(kind)))
        at = match.end()
    return tokens


@dataclass(frozen=True)
class Order:
    field: Field
    descending: bool
    nulls_last: bool


@dataclass(frozen=True)
class Query:
    sobject: SObject
    fields: list[Field]
    where: Callable[[dict[str, Any]], bool]
    order: list[Order]
    limit: int | None
    offset: int

    def run(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The matching records, ordered, limited (each as stored: every field)."""
        found = [r for r in records if self.where(r)]
        for order in reversed(self.order):
            name = order.field.name
            present = sorted(
                (r for r in found if r.get(name) is not None),
                key=lambda r, f=order.field: _sort_key(f, r[f.name]),
                reverse=order.descending,
            )
            missing = [r for r in found if r.get(name) is None]
            found = present + missing if order.nulls_last else missing + present
        found = found[self.offset :]
        return found if self.limit is None else found[: self.limit]


class _Parser:
    def __init__(self, soql: str) -> None:
        self.soql = soql
        self.tokens = tokenize(soql)
        self.pos = 0

    def peek(self, offset: int = 0) -> Token | None:
        at = self.pos + offset
        return self.tokens[at] if at < len(self.tokens) else None

    def keyword(self, *words: str) -> bool:
        """Consume the keywords `words` if they come next."""
        for i, word in enumerate(words):
            token = self.peek(i)
            if token is None or token.kind != "word" or token.text.upper() != word:
                return False
        self.pos += len(words)
        return True

    def expect(self, word: str) -> None:
        if not self.keyword(word):
            token = self.peek()
            raise malformed(
                f"unexpected token: '{token.text}'" if token else f"expecting '{word}', found EOF"
            )

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise malformed("unexpected end of query")
        self.pos += 1
        return token

    def parse(self) -> Query:
        self.expect("SELECT")
        names = [self.name()]
        while self.peek() and self.peek().text == ",":  # type: ignore[union-attr]
            self.pos += 1
            names.append(self.name())
        self.expect("FROM")
        object_name = self.name()
        sobject = find(object_name)
        if sobject is None:
            raise SalesforceError(
                400,
                "INVALID_TYPE",
                f"sObject type '{object_name}' is not supported. If you are attempting to use a "
                "custom object, be sure to append the '__c' after the entity name. Please "
                "reference your WSDL or the describe call for the appropriate names.",
            )
        self.sobject = sobject
        fields = [self.field(n) for n in names]
        where: Callable[[dict[str, Any]], bool] = lambda r: True  # noqa: E731
        if self.keyword("WHERE"):
            where = self.disjunction()
        order: list[Order] = []
        if self.keyword("ORDER", "BY"):
            order.append(self.order())
            while self.peek() and self.peek().text == ",":  # type: ignore[union-attr]
                self.pos += 1
                order.append(self.order())
        limit = self.count() if self.keyword("LIMIT") else None
        offset = self.count() if self.keyword("OFFSET") else 0
        if offset > 2000:
            raise SalesforceError(
                400, "NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000"
            )
        if self.peek() is not None:
            raise malformed(f"unexpected token: '{self.peek().text}'")  # type: ignore[union-attr]
        return Query(sobject, fields, where, order, limit, offset)

    def name(self) -> str:
        token = self.next()
        if token.kind != "word":
            raise malformed(f"unexpected token: '{token.text}'")
        return token.text

    def field(self, name: str) -> Field:
        found = self.sobject.field(name)
        if found is None:
            raise SalesforceError(
                400,
                "INVALID_FIELD",
                f"No such column '{name}' on entity '{self.sobject.name}'. If you are attempting "
                "to use a custom field, be sure to append the '__c' after the custom field name. "
                "Please reference your WSDL or the describe call for the appropriate names.",
            )
        return found

    def count(self) -> int:
        token = self.next()
        if token.kind != "number" or "." in token.text or token.text.startswith("-"):
            raise malformed(f"unexpected token: '{token.text}'")
        return int(token.text)

    def order(self) -> Order:
        field = self.field(self.name())
        descending = self.keyword("DESC")
        if not descending:
            self.keyword("ASC")
        nulls_last = descending  # Salesforce's default: nulls first ascending, last descending
        if self.keyword("NULLS", "FIRST"):
            nulls_last = False
        elif self.keyword("NULLS", "LAST"):
            nulls_last = True
        return Order(field, descending, nulls_last)

    def disjunction(self) -> Callable[[dict[str, Any]], bool]:
        terms = [self.conjunction()]
        while self.keyword("OR"):
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else lambda r: any(t(r) for t in terms)

    def conjunction(self) -> Callable[[dict[str, Any]], bool]:
        terms = [self.negation()]
        while self.keyword("AND"):
            terms.append(self.negation())
        return terms[0] if len(terms) == 1 else lambda r: all(t(r) for t in terms)

    def negation(self) -> Callable[[dict[str, Any]], bool]:
        if self.keyword("NOT"):
            inner = self.negation()
            return lambda r: not inner(r)
        token = self.peek()
        if token is not None and token.text == "(":
            self.pos += 1
            inner = self.disjunction()
            if self.next().text != ")":
                raise malformed("expecting a right parentheses")
            return inner
        return self.comparison()

    def comparison(self) -> Callable[[dict[str, Any]], bool]:
        field = self.field(self.name())
        name = field.name
        if self.keyword("NOT", "IN") or self.keyword("IN"):
            negate = self.tokens[self.pos - 2].text.upper() == "NOT"
            values = {_comparable(field, v) for v in self.value_list(field)}
            return lambda r: (_comparable(field, r.get(name)) in values) != negate
        if self.keyword("LIKE"):
            token = self.next()
            if token.kind != "string":
                raise malformed(f"unexpected token: '{token.text}'")
            pattern = _like(token.text)
            return lambda r: r.get(name) is not None and bool(pattern.fullmatch(str(r[name])))
        op = self.next()
        if op.kind != "op":
            raise malformed(f"unexpected token: '{op.text}'")
        value = _comparable(field, self.value(field))
        test = _COMPARE[op.text]
        if value is None:
            if op.text not in ("=", "!=", "<>"):
                raise malformed("unexpected token: 'null'")
            return lambda r: (r.get(name) is None) == (op.text == "=")
        return lambda r: test(_comparable(field, r.get(name)), value)

    def value_list(self, field: Field) -> list[Any]:
        if self.next().text != "(":
            raise malformed("expecting a left parentheses")
        values = [self.value(field)]
        while (token := self.next()).text == ",":
            values.append(self.value(field))
        if token.text != ")":
            raise malformed(f"unexpected token: '{token.text}'")
        return values

    def value(self, field: Field) -> Any:
        token = self.next()
        kind, text = token.kind, token.text
        quoted = field.type in ("datetime", "date") and kind == "string"
        if quoted or (kind == "datetime" and field.type not in ("datetime", "anyType")):
            raise SalesforceError(
                400,
                "INVALID_FIELD",
                f"value of filter criterion for field '{field.name}' must be of type "
                f"{field.type} and should not be enclosed in quotes",
            )
        if kind == "string":
            return _unquote(text)
        if kind == "word" and text.upper() in ("TRUE", "FALSE", "NULL"):
            return {"TRUE": True, "FALSE": False, "NULL": None}[text.upper()]
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind == "datetime":
            return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(microsecond=0)
        if kind == "date":
            return date.fromisoformat(text)
        raise malformed(f"unexpected token: '{text}'")


def _unquote(text: str) -> str:
    body, out, i = text[1:-1], [], 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            nxt = body[i + 1] if i + 1 < len(body) else ""
            if nxt not in _ESCAPES:
                raise malformed(f"Invalid string literal '{text}'. Illegal character sequence")
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _like(text: str) -> re.Pattern[str]:
    """LIKE's pattern: % any run, _ one character, case-insensitively."""
    body = _unquote(text)
    parts, i = [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            parts.append(re.escape(body[i + 1]))
            i += 2
            continue
        parts.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _comparable(field: Field, value: Any) -> Any:
    """A stored or literal value in the form comparisons use for `field`'s type."""
    if value is None:
        return None
    if field.type == "datetime":
        if isinstance(value, str):
            return parse_datetime(value)
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        return value
    if field.type == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    if field.type in ("id", "reference") and isinstance(value, str):
        return ids.normalize(value) or value
    if isinstance(value, str):
        return value.casefold()  # SOQL compares text case-insensitively
    return value


def _sort_key(field: Field, value: Any) -> Any:
    if field.type in ("id", "reference"):
        return value  # ids sort as the text they are
    return _comparable(field, value)


def _safe(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        if a is None:
            return False
        try:
            return test(a, b)
        except TypeError:
            return False

    return compare


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": _safe(lambda a, b: a == b),
    "!=": lambda a, b: a != b,
    "<>": lambda a, b: a != b,
    "<": _safe(lambda a, b: a < b),
    "<=": _safe(lambda a, b: a <= b),
    ">": _safe(lambda a, b: a > b),
    ">=": _safe(lambda a, b: a >= b),
}


def parse_datetime(text: str) -> datetime:
    """A datetime as the API renders it: 2026-11-30T10:00:00.000+0000."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")


def render_datetime(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


def parse(soql: str) -> Query:
    return _Parser(soql).parse()
