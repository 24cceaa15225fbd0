"""One request's expressions: parse (cached), bind names (cached), validate values, check use.

:func:`prepare` is what an operation handler calls with the request's expression strings,
ExpressionAttributeNames and ExpressionAttributeValues. It validates in DynamoDB's order: empty
maps, attribute names or values given without any expression, invalid values, then each
expression (syntax, names, values, operand types), then names and values no expression used.
The result holds callables ready for evaluation against items.

Caching: parsing is cached by (kind, text); binding names and compiling conditions by (kind,
text, the names the expression uses), so a request repeating a previous expression does a few
dictionary lookups before evaluating. All caches are LRU and thread-safe (functools).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from engine.errors import DynamoDBError, ValidationException
from engine.expr.bind import bind_names, check_value_nodes, check_values, value_checks
from engine.expr.evaluate import compile_condition, project
from engine.expr.parser import (
    CONDITION,
    FILTER,
    KEY_CONDITION,
    PROJECTION,
    UPDATE,
    ParsedExpression,
    parse,
)
from engine.expr.update import apply_update
from engine.model.values import validate_value

__all__ = ["BoundExpression", "PreparedExpressions", "bind", "prepare"]


_NAME_KEY = re.compile(r"#[A-Za-z0-9_]+")
_VALUE_KEY = re.compile(r":[A-Za-z0-9_]+")


@dataclass(frozen=True, slots=True, eq=False)
class BoundExpression:
    """A parsed expression with names resolved; ``evaluate`` for condition kinds."""

    parsed: ParsedExpression
    root: object
    evaluate: Callable[[dict, dict], bool] | None
    value_checks: tuple = ()

    def check_values(self, values: dict) -> None:
        """Raise DynamoDB's error if ``values`` does not fit this expression."""
        if not self.parsed.value_refs <= values.keys():
            check_values(self.parsed.kind, self.root, values)  # names the undefined value
        if self.value_checks:
            check_value_nodes(self.parsed.kind, self.value_checks, values)


@lru_cache(maxsize=4096)
def _bound(parsed: ParsedExpression, names_items: tuple) -> BoundExpression:
    root = bind_names(parsed, dict(names_items))
    fn = compile_condition(root) if parsed.kind in (CONDITION, FILTER) else None  # type: ignore
    return BoundExpression(parsed, root, fn, value_checks(parsed.kind, root))


def bind(kind: str, text: str, names: dict | None) -> BoundExpression:
    """Parse and bind one expression (both cached); raise DynamoDB's errors."""
    parsed = parse(kind, text)
    if not parsed.name_refs:
        return _bound(parsed, ())
    names = names or {}
    if not parsed.name_refs <= names.keys():
        bind_names(parsed, names)  # raises the undefined-name error, naming the first one
    # The cache key holds only the names this expression uses, sorted.
    return _bound(parsed, tuple(sorted((k, names[k]) for k in parsed.name_refs)))


@dataclass(slots=True)
class PreparedExpressions:
    """A request's expressions, bound and validated, with its validated values."""

    values: dict
    condition: BoundExpression | None = None
    filter: BoundExpression | None = None
    key_condition: BoundExpression | None = None
    update: BoundExpression | None = None
    projection: BoundExpression | None = None

    def check_condition(self, item: dict | None) -> bool:
        """ConditionExpression against the current item (None: no item); True if absent."""
        c = self.condition
        return True if c is None else c.evaluate(item or {}, self.values)  # type: ignore[misc]

    def matches_filter(self, item: dict) -> bool:
        f = self.filter
        return True if f is None else f.evaluate(item, self.values)  # type: ignore[misc]

    def apply_update(self, item: dict | None) -> dict:
        return apply_update(self.update.root, item, self.values)  # type: ignore[union-attr,arg-type]

    def project(self, item: dict) -> dict:
        p = self.projection
        return item if p is None else project(item, p.root)  # type: ignore[arg-type]


def _fmt_keys(keys: set) -> str:
    return "{" + ", ".join(sorted(keys)) + "}"


def prepare(
    *,
    names: dict | None = None,
    values: dict | None = None,
    condition: str | None = None,
    filter: str | None = None,
    key_condition: str | None = None,
    update: str | None = None,
    projection: str | None = None,
    value_kinds: tuple[str, ...] = (UPDATE, CONDITION),
) -> PreparedExpressions:
    """Validate and bind a request's expressions.

    ``value_kinds`` names the expression parameters of the operation that can use values, for
    DynamoDB's "ExpressionAttributeValues can only be specified when using expressions: X and Y
    are null" message (UpdateItem: UpdateExpression and ConditionExpression).
    Raises ValidationException with DynamoDB's messages.
    """
    if names is not None and not names:
        raise ValidationException("ExpressionAttributeNames must not be empty")
    if values is not None and not values:
        raise ValidationException("ExpressionAttributeValues must not be empty")
    texts = {
        CONDITION: condition,
        FILTER: filter,
        KEY_CONDITION: key_condition,
        UPDATE: update,
        PROJECTION: projection,
    }
    given = {k: t for k, t in texts.items() if t is not None}
    if names and not given:
        raise ValidationException(
            "ExpressionAttributeNames can only be specified when using expressions"
        )
    if values and not any(k != PROJECTION for k in given):
        kinds = " and ".join(value_kinds)
        verb = "are" if len(value_kinds) > 1 else "is"
        raise ValidationException(
            f"ExpressionAttributeValues can only be specified when using expressions: "
            f"{kinds} {verb} null"
        )
    for k in names or ():
        if not _NAME_KEY.fullmatch(k):
            raise ValidationException(
                f'ExpressionAttributeNames contains invalid key: Syntax error; key: "{k}"'
            )
    checked: dict = {}
    for k, v in (values or {}).items():
        if not _VALUE_KEY.fullmatch(k):
            raise ValidationException(
                f'ExpressionAttributeValues contains invalid key: Syntax error; key: "{k}"'
            )
        try:
            checked[k] = validate_value(v)
        except DynamoDBError as exc:
            raise ValidationException(
                f"ExpressionAttributeValues contains invalid value: {exc.message} for key {k}"
            ) from None
    out = PreparedExpressions(checked)
    used_names: set[str] = set()
    used_values: set[str] = set()
    for kind, text in given.items():
        b = bind(kind, text, names)
        b.check_values(checked)
        used_names |= b.parsed.name_refs
        used_values |= b.parsed.value_refs
        setattr(out, _FIELD[kind], b)
    if names:
        unused = names.keys() - used_names
        if unused:
            raise ValidationException(
                f"Value provided in ExpressionAttributeNames unused in expressions: keys: "
                f"{_fmt_keys(unused)}"
            )
    if checked:
        unused = checked.keys() - used_values
        if unused:
            raise ValidationException(
                f"Value provided in ExpressionAttributeValues unused in expressions: keys: "
                f"{_fmt_keys(unused)}"
            )
    return out


_FIELD = {
    CONDITION: "condition",
    FILTER: "filter",
    KEY_CONDITION: "key_condition",
    UPDATE: "update",
    PROJECTION: "projection",
}
