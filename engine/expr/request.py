"""One request's expressions: parse (cached), bind names (cached), validate values, check use.

:func:`prepare` is what an operation handler calls with the request's expression strings,
ExpressionAttributeNames and ExpressionAttributeValues. It validates in DynamoDB's order: empty
maps, attribute names or values given without any expression, invalid values, then each
expression (syntax, names, values, operand types), then names and values no expression used.
The result holds callables ready for evaluation against items.

Caching: parsing is cached by (kind, text); binding names and compiling conditions by (kind,
text, the names the expression uses). Above both, a request whose expression texts,
ExpressionAttributeNames and ExpressionAttributeValues *keys* repeat a request that was
prepared without error reuses that request's bound expressions: every check that depends only
on those (syntax, names, undefined and unused names and values) passed then and would pass
again, so only what depends on the values themselves runs again, in the same order as a full
preparation (each value's validation, then each expression's operand type checks). All caches
are bounded and thread-safe (functools' LRU; the plan cache is a dict under the GIL).
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
from engine.model.values import validate_item, validate_value

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


# (texts, names items, values keys) -> the bound expressions of a request prepared without
# error, as PreparedExpressions keyword arguments. Cleared when full rather than LRU: a
# workload has few distinct expressions, and a miss costs one full preparation.
_PLANS: dict[tuple, dict[str, BoundExpression]] = {}
_PLANS_MAX = 4096


def _validate_values(values: dict | None) -> dict:
    """The request's values, validated and normalised; DynamoDB's error naming the key."""
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
    return checked


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
    try:
        key = (
            condition,
            filter,
            key_condition,
            update,
            projection,
            None if names is None else tuple(names.items()),
            None if values is None else tuple(values),
        )
        plan = _PLANS.get(key)
    except TypeError:  # something unhashable in the request: prepare it in full
        key = plan = None
    if plan is None:
        out = _prepare(
            names, values, condition, filter, key_condition, update, projection, value_kinds
        )
        # Only plans whose names are all text are kept: no request with a non-text name (which
        # could equal one, as True == 1) can then hit a plan made for another.
        if key is not None and all(type(n) is str for n in (names or {}).values()):
            if len(_PLANS) >= _PLANS_MAX:
                _PLANS.clear()
            _PLANS[key] = {f: getattr(out, f) for f in _FIELDS if getattr(out, f) is not None}
        return out
    # A repeat: the keys were valid and used before, so the first error a full preparation
    # could raise is a value's own; the native item validator checks them all at once, and
    # the loop names the culprit with DynamoDB's message.
    if values is None:
        checked: dict = {}
    else:
        try:
            checked = validate_item(values)
        except DynamoDBError:
            checked = _validate_values(values)
    for b in plan.values():
        b.check_values(checked)
    return PreparedExpressions(checked, **plan)


def _prepare(
    names: dict | None,
    values: dict | None,
    condition: str | None,
    filter: str | None,
    key_condition: str | None,
    update: str | None,
    projection: str | None,
    value_kinds: tuple[str, ...],
) -> PreparedExpressions:
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
    checked = _validate_values(values)
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
_FIELDS = tuple(_FIELD.values())
