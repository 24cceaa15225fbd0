"""One lexer and parser for the five DynamoDB expression kinds.

``parse(kind, text)`` turns ConditionExpression, FilterExpression, KeyConditionExpression,
UpdateExpression or ProjectionExpression text into a :class:`ParsedExpression`: the syntax tree
(engine.expr.ast) plus the expression attribute names and values it refers to. Names and values
are *not* resolved here, so the result depends only on (kind, text) and is cached
(:func:`parse` is an LRU cache; parsed trees are immutable and shared between threads).

Grammar (keywords are case-insensitive, function names are not):

```
condition  := or
or         := and (OR and)*
and        := not (AND not)*
not        := NOT not | '(' condition ')' | function | comparison
comparison := operand (comparator operand | BETWEEN operand AND operand
                       | IN '(' operand (',' operand)* ')')
operand    := path | :value | size '(' path ')'
path       := (name | #name) ('.' (name | #name) | '[' digits ']')*
update     := (SET set (',' set)* | REMOVE path (',' path)* | ADD path :value (',' ...)*
               | DELETE path :value (',' ...)*)+          each clause at most once
set        := path '=' setvalue ;  setvalue := setop (('+' | '-') setop)?
setop      := path | :value | if_not_exists '(' path ',' setvalue ')'
            | list_append '(' setvalue ',' setvalue ')'
projection := path (',' path)*
```

Precedence, from DynamoDB's documentation: comparators, IN, BETWEEN, functions, parentheses,
NOT, AND, OR. Syntax errors name the offending token and its neighbourhood like DynamoDB:
``Invalid UpdateExpression: Syntax error; token: "=", near: "a = = :v"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from engine.errors import ValidationException, msg_expression_syntax, msg_invalid_expression
from engine.expr.ast import (
    And,
    Arith,
    Between,
    Compare,
    Func,
    In,
    Node,
    Not,
    Or,
    Path,
    UpdateAction,
    Value,
)
from engine.expr.reserved import RESERVED_WORDS

__all__ = [
    "CONDITION",
    "FILTER",
    "KEY_CONDITION",
    "KINDS",
    "MAX_EXPRESSION_BYTES",
    "MAX_IN_OPERANDS",
    "MAX_OPERATORS",
    "MAX_PATH_DEPTH",
    "PROJECTION",
    "UPDATE",
    "ParsedExpression",
    "parse",
]

CONDITION = "ConditionExpression"
FILTER = "FilterExpression"
KEY_CONDITION = "KeyConditionExpression"
UPDATE = "UpdateExpression"
PROJECTION = "ProjectionExpression"
KINDS = (CONDITION, FILTER, KEY_CONDITION, UPDATE, PROJECTION)

MAX_EXPRESSION_BYTES = 4096  # DynamoDB: any single expression string, 4 KB
MAX_IN_OPERANDS = 100
MAX_OPERATORS = 300  # operators and functions in one expression
MAX_PATH_DEPTH = 32

CONDITION_FUNCTIONS = frozenset(
    ("attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains")
)
OPERAND_FUNCTIONS = frozenset(("size",))
UPDATE_FUNCTIONS = frozenset(("if_not_exists", "list_append"))
ALL_FUNCTIONS = CONDITION_FUNCTIONS | OPERAND_FUNCTIONS | UPDATE_FUNCTIONS
FUNCTION_ARITY = {
    "attribute_exists": 1,
    "attribute_not_exists": 1,
    "attribute_type": 2,
    "begins_with": 2,
    "contains": 2,
    "size": 1,
    "if_not_exists": 2,
    "list_append": 2,
}
_KEYWORDS = frozenset(("AND", "OR", "NOT", "BETWEEN", "IN"))
_CLAUSES = ("SET", "REMOVE", "ADD", "DELETE")
_COMPARATORS = frozenset(("=", "<>", "<", "<=", ">", ">="))

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<name>\#[A-Za-z0-9_]+)
    | (?P<value>:[A-Za-z0-9_]+)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<number>[0-9]+)
    | (?P<op><>|<=|>=|[=<>()\[\],.+\-])
    | (?P<bad>\S)
    )""",
    re.VERBOSE,
)
_EOF = "<EOF>"
_KIND_WORDS = {
    CONDITION: "a condition",
    FILTER: "a filter",
    KEY_CONDITION: "a key condition",
    UPDATE: "an update",
    PROJECTION: "a projection",
}


@dataclass(frozen=True, slots=True, eq=False)
class ParsedExpression:
    """A parsed expression: its kind and text, the tree, and the names and values it uses.

    ``root`` is a condition node (condition kinds), a tuple of UpdateAction (update) or a tuple
    of Path (projection). Compared and hashed by identity: :func:`parse` returns one object per
    (kind, text), and caches keyed on it must not hash the whole tree.
    """

    kind: str
    text: str
    root: object
    name_refs: frozenset[str]
    value_refs: frozenset[str]


class _Tok:
    __slots__ = ("end", "kind", "start", "text")

    def __init__(self, kind: str, text: str, start: int, end: int) -> None:
        self.kind = kind
        self.text = text
        self.start = start
        self.end = end


def _tokenize(text: str) -> list[_Tok]:
    out = []
    pos = 0
    n = len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is None or m.lastgroup is None:  # only trailing whitespace remains
            break
        kind = m.lastgroup
        out.append(_Tok(kind, m.group(kind), m.start(kind), m.end()))
        pos = m.end()
    out.append(_Tok("eof", _EOF, n, n))
    return out


class _Parser:
    def __init__(self, kind: str, text: str) -> None:
        self.kind = kind
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0
        self.names: set[str] = set()
        self.values: set[str] = set()
        self.operators = 0

    # --- helpers ------------------------------------------------------------------------------

    def error(self, detail: str) -> ValidationException:
        return ValidationException(msg_invalid_expression(self.kind, detail))

    def syntax_error(self, tok: _Tok | None = None) -> ValidationException:
        i = self.toks.index(tok) if tok is not None else self.i
        tok = self.toks[i]
        lo = self.toks[i - 1].start if i > 0 else tok.start
        hi = self.toks[i + 1].end if i + 1 < len(self.toks) else tok.end
        if tok.kind == "eof":
            hi = tok.end
        near = self.text[lo:hi]
        return ValidationException(msg_expression_syntax(self.kind, tok.text, near))

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def next(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def is_op(self, text: str) -> bool:
        t = self.toks[self.i]
        return t.kind == "op" and t.text == text

    def is_word(self, word: str) -> bool:
        t = self.toks[self.i]
        return t.kind == "ident" and t.text.upper() == word

    def expect_op(self, text: str) -> None:
        if not self.is_op(text):
            raise self.syntax_error()
        self.i += 1

    def count_operator(self) -> None:
        self.operators += 1
        if self.operators > MAX_OPERATORS:
            raise self.error(
                f"The expression contains too many operators; operator count: {self.operators}"
            )

    def expect_end(self) -> None:
        if self.tok.kind != "eof":
            raise self.syntax_error()

    # --- paths and operands -------------------------------------------------------------------

    def path_element(self) -> str:
        t = self.tok
        if t.kind == "name":
            self.i += 1
            self.names.add(t.text)
            return t.text
        if t.kind == "ident":
            upper = t.text.upper()
            if upper in _KEYWORDS or upper in _CLAUSES:
                raise self.syntax_error()
            if upper in RESERVED_WORDS:
                raise self.error(
                    f"Attribute name is a reserved keyword; reserved keyword: {t.text}"
                )
            self.i += 1
            return t.text
        raise self.syntax_error()

    def path(self) -> Path:
        elements: list[str | int] = [self.path_element()]
        while True:
            if self.is_op("."):
                self.i += 1
                elements.append(self.path_element())
            elif self.is_op("["):
                self.i += 1
                t = self.tok
                if t.kind != "number":
                    raise self.syntax_error()
                self.i += 1
                elements.append(int(t.text))
                self.expect_op("]")
            else:
                break
        if len(elements) > MAX_PATH_DEPTH:
            raise self.error(
                f"The document path has too many nesting levels; nesting levels: {len(elements)}"
            )
        return Path(tuple(elements))

    def value(self) -> Value:
        t = self.next()
        self.values.add(t.text)
        return Value(t.text)

    def function(self, allowed: frozenset[str]) -> Func:
        name_tok = self.next()
        name = name_tok.text
        if name not in ALL_FUNCTIONS:
            raise self.error(f"Invalid function name; function: {name}")
        if name not in allowed:
            if name in UPDATE_FUNCTIONS or self.kind in (UPDATE, PROJECTION):
                word = _KIND_WORDS[self.kind]
                raise self.error(
                    f"The function is not allowed in {word} expression; function: {name}"
                )
            raise self.error(
                "The function is not allowed to be used this way in an expression; "
                f"function: {name}"
            )
        self.count_operator()
        self.expect_op("(")
        args: list[Node] = []
        if not self.is_op(")"):
            while True:
                args.append(self.set_value() if self.kind == UPDATE else self.operand(True))
                if self.is_op(","):
                    self.i += 1
                    continue
                break
        self.expect_op(")")
        if len(args) != FUNCTION_ARITY[name]:
            raise self.error(
                "Incorrect number of operands for operator or function; "
                f"operator or function: {name}, number of operands: {len(args)}"
            )
        return Func(name, tuple(args))

    def is_call(self) -> bool:
        t = self.tok
        if t.kind != "ident":
            return False
        nxt = self.toks[self.i + 1]
        return nxt.kind == "op" and nxt.text == "("

    def operand(self, in_function: bool = False) -> Node:
        t = self.tok
        if t.kind == "value":
            return self.value()
        if self.is_call():
            if t.text in CONDITION_FUNCTIONS and not in_function:
                raise self.error(
                    "The function is not allowed to be used this way in an expression; "
                    f"function: {t.text}"
                )
            return self.function(OPERAND_FUNCTIONS)
        return self.path()

    # --- conditions ---------------------------------------------------------------------------

    def condition(self) -> Node:
        node = self.conjunction()
        while self.is_word("OR"):
            self.i += 1
            self.count_operator()
            node = Or(node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.is_word("AND"):
            self.i += 1
            self.count_operator()
            node = And(node, self.negation())
        return node

    def negation(self) -> Node:
        if self.is_word("NOT"):
            self.i += 1
            self.count_operator()
            return Not(self.negation())
        if self.is_op("("):
            self.i += 1
            node = self.condition()
            self.expect_op(")")
            return node
        t = self.tok
        if self.is_call() and t.text not in OPERAND_FUNCTIONS:
            return self.function(CONDITION_FUNCTIONS)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        t = self.tok
        if t.kind == "op" and t.text in _COMPARATORS:
            self.i += 1
            self.count_operator()
            return Compare(t.text, left, self.operand())
        if self.is_word("BETWEEN"):
            self.i += 1
            self.count_operator()
            low = self.operand()
            if not self.is_word("AND"):
                raise self.syntax_error()
            self.i += 1
            return Between(left, low, self.operand())
        if self.is_word("IN"):
            self.i += 1
            self.count_operator()
            self.expect_op("(")
            candidates = [self.operand()]
            while self.is_op(","):
                self.i += 1
                candidates.append(self.operand())
            self.expect_op(")")
            if len(candidates) > MAX_IN_OPERANDS:
                raise self.error(
                    "The IN operator is provided with too many operands; "
                    f"number of operands: {len(candidates)}"
                )
            return In(left, tuple(candidates))
        raise self.syntax_error()

    # --- updates ------------------------------------------------------------------------------

    def set_operand(self) -> Node:
        t = self.tok
        if t.kind == "value":
            return self.value()
        if self.is_call():
            return self.function(UPDATE_FUNCTIONS)
        if self.is_op("("):
            self.i += 1
            node = self.set_value()
            self.expect_op(")")
            return node
        return self.path()

    def set_value(self) -> Node:
        left = self.set_operand()
        if self.is_op("+") or self.is_op("-"):
            op = self.next().text
            self.count_operator()
            return Arith(op, left, self.set_operand())
        return left

    def update(self) -> tuple[UpdateAction, ...]:
        actions: list[UpdateAction] = []
        seen: set[str] = set()
        while self.tok.kind != "eof":
            t = self.tok
            clause = t.text.upper() if t.kind == "ident" else ""
            if clause not in _CLAUSES:
                raise self.syntax_error()
            if clause in seen:
                raise self.error(
                    f'The "{clause}" section can only be used once in an update expression;'
                )
            seen.add(clause)
            self.i += 1
            while True:
                path = self.path()
                if clause == "SET":
                    self.expect_op("=")
                    actions.append(UpdateAction("SET", path, self.set_value()))
                elif clause == "REMOVE":
                    actions.append(UpdateAction("REMOVE", path, None))
                else:
                    if self.tok.kind != "value":
                        raise self.syntax_error()
                    actions.append(UpdateAction(clause, path, self.value()))
                if not self.is_op(","):
                    break
                self.i += 1
        if not actions:
            raise self.syntax_error()
        return tuple(actions)

    def projection(self) -> tuple[Path, ...]:
        paths = [self.path()]
        while self.is_op(","):
            self.i += 1
            paths.append(self.path())
        return tuple(paths)


@lru_cache(maxsize=4096)
def parse(kind: str, text: str) -> ParsedExpression:
    """Parse ``text`` as an expression of ``kind`` (one of :data:`KINDS`).

    Raises ValidationException with DynamoDB's message for empty or oversized expressions,
    syntax errors, reserved words, unknown or misused functions, wrong operand counts and
    exceeded limits. Results are cached and immutable.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown expression kind {kind!r}")
    if not text or text.isspace():
        raise ValidationException(msg_invalid_expression(kind, "The expression can not be empty;"))
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_EXPRESSION_BYTES:
        raise ValidationException(
            msg_invalid_expression(
                kind,
                f"Expression size has exceeded the maximum allowed size; expression size: {size}",
            )
        )
    p = _Parser(kind, text)
    root: object
    if kind == UPDATE:
        root = p.update()
    elif kind == PROJECTION:
        root = p.projection()
    else:
        root = p.condition()
    p.expect_end()
    return ParsedExpression(kind, text, root, frozenset(p.names), frozenset(p.values))
