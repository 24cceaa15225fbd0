"""The legacy conditional parameters, translated to the expression syntax tree.

Expected, AttributeUpdates, KeyConditions, QueryFilter, ScanFilter, AttributesToGet and
ConditionalOperator predate expressions. :func:`prepare_legacy` turns them into the same
:class:`~engine.expr.request.PreparedExpressions` that :func:`~engine.expr.request.prepare`
returns, so every operation evaluates one kind of tree. Values get generated names (``:L0``,
``:L1``, ...) that no request can collide with because they never appear in request text.

:func:`check_not_mixed` raises DynamoDB's error for a request that mixes the two families.
The parameter names appear here only inside DynamoDB's message text.
"""

from __future__ import annotations

from engine.errors import DynamoDBError, ValidationException
from engine.errors import msg_param_invalid as _p
from engine.expr.ast import (
    And,
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
from engine.expr.evaluate import compile_condition
from engine.expr.parser import (
    CONDITION,
    FILTER,
    KEY_CONDITION,
    PROJECTION,
    UPDATE,
    ParsedExpression,
)
from engine.expr.request import BoundExpression, PreparedExpressions
from engine.model.values import validate_value

__all__ = ["COMPARISON_OPERATORS", "check_not_mixed", "prepare_legacy"]

# operator -> (number of values, allowed value types or None for any)
_SCALAR = ("S", "N", "B")
COMPARISON_OPERATORS = {
    "EQ": (1, None),
    "NE": (1, None),
    "LE": (1, _SCALAR),
    "LT": (1, _SCALAR),
    "GE": (1, _SCALAR),
    "GT": (1, _SCALAR),
    "NOT_NULL": (0, None),
    "NULL": (0, None),
    "CONTAINS": (1, _SCALAR),
    "NOT_CONTAINS": (1, _SCALAR),
    "BEGINS_WITH": (1, ("S", "B")),
    "IN": (-1, _SCALAR),
    "BETWEEN": (2, _SCALAR),
}
_CMP = {"EQ": "=", "NE": "<>", "LE": "<=", "LT": "<", "GE": ">=", "GT": ">"}
_KEY_OPS = ("EQ", "LE", "LT", "GE", "GT", "BEGINS_WITH", "BETWEEN")

LEGACY_PARAMETERS = (
    "AttributesToGet",
    "AttributeUpdates",
    "ConditionalOperator",
    "Expected",
    "KeyConditions",
    "QueryFilter",
    "ScanFilter",
)
EXPRESSION_PARAMETERS = (
    "ConditionExpression",
    "FilterExpression",
    "KeyConditionExpression",
    "ProjectionExpression",
    "UpdateExpression",
)


_LEGACY_SET = frozenset(LEGACY_PARAMETERS)
_EXPRESSION_SET = frozenset(EXPRESSION_PARAMETERS)


def check_not_mixed(present: set[str] | frozenset[str]) -> None:
    """Raise DynamoDB's error if ``present`` (parameter names given in a request) mixes legacy
    and expression parameters."""
    if present.isdisjoint(_LEGACY_SET) or present.isdisjoint(_EXPRESSION_SET):
        return  # every request that is not an error: one kind of parameters, or none
    legacy = sorted(p for p in present if p in LEGACY_PARAMETERS)
    expr = sorted(p for p in present if p in EXPRESSION_PARAMETERS)
    if legacy and expr:
        raise ValidationException(
            "Can not use both expression and non-expression parameters in the same request: "
            f"Non-expression parameters: {{{', '.join(legacy)}}} "
            f"Expression parameters: {{{', '.join(expr)}}}"
        )


class _Values:
    def __init__(self) -> None:
        self.values: dict = {}

    def add(self, value: object) -> Value:
        try:
            checked = validate_value(value)
        except DynamoDBError:
            raise
        name = f":L{len(self.values)}"
        self.values[name] = checked
        return Value(name)


def _together(what: str, name: str) -> str:
    return _p(f"{what} cannot be used together for Attribute: {name}")


def _only_delete(name: str) -> str:
    return _p(f"Only DELETE action is allowed when no attribute value is specified: {name}")


def _condition(name: str, op: str, args: list, vals: _Values) -> Node:
    spec = COMPARISON_OPERATORS.get(op)
    if spec is None:
        raise ValidationException(_p(f"Unsupported operator on ComparisonOperator: {op}"))
    count, types = spec
    if (count >= 0 and len(args) != count) or (count < 0 and not args):
        raise ValidationException(
            _p(f"Invalid number of argument(s) for the {op} ComparisonOperator")
        )
    refs = [vals.add(a) for a in args]
    if types is not None:
        for r in refs:
            tag = next(iter(vals.values[r.name]))
            if tag not in types:
                raise ValidationException(
                    _p(f"ComparisonOperator {op} is not valid for {tag} AttributeValue type")
                )
    path = Path((name,))
    if op in _CMP:
        return Compare(_CMP[op], path, refs[0])
    if op == "NOT_NULL":
        return Func("attribute_exists", (path,))
    if op == "NULL":
        return Func("attribute_not_exists", (path,))
    if op == "CONTAINS":
        return Func("contains", (path, refs[0]))
    if op == "NOT_CONTAINS":
        return Not(Func("contains", (path, refs[0])))
    if op == "BEGINS_WITH":
        return Func("begins_with", (path, refs[0]))
    if op == "IN":
        return In(path, tuple(refs))
    return Between(path, refs[0], refs[1])


def _combine(nodes: list[Node], conditional_operator: str | None) -> Node:
    op = conditional_operator or "AND"
    if op not in ("AND", "OR"):
        raise ValidationException(_p(f"Unsupported ConditionalOperator: {op}"))
    node = nodes[0]
    for n in nodes[1:]:
        node = And(node, n) if op == "AND" else Or(node, n)
    return node


def _expected(expected: dict, conditional_operator: str | None, vals: _Values) -> Node:
    nodes = []
    for name, cond in expected.items():
        has_value = "Value" in cond
        exists = cond.get("Exists")
        op = cond.get("ComparisonOperator")
        if op is not None:
            if exists is not None:
                raise ValidationException(_together("Exists and ComparisonOperator", name))
            if has_value:
                raise ValidationException(_together("Value and ComparisonOperator", name))
            nodes.append(_condition(name, op, cond.get("AttributeValueList") or [], vals))
        elif exists is False:
            if has_value:
                raise ValidationException(
                    _p(f"Value cannot be used when Exists is false for Attribute: {name}")
                )
            nodes.append(Func("attribute_not_exists", (Path((name,)),)))
        else:
            if not has_value:
                raise ValidationException(
                    _p(f"Value must be provided when Exists is true for Attribute: {name}")
                )
            nodes.append(Compare("=", Path((name,)), vals.add(cond["Value"])))
    return _combine(nodes, conditional_operator)


def _filter(conditions: dict, conditional_operator: str | None, vals: _Values) -> Node:
    nodes = [
        _condition(name, c.get("ComparisonOperator", ""), c.get("AttributeValueList") or [], vals)
        for name, c in conditions.items()
    ]
    return _combine(nodes, conditional_operator)


def _key_conditions(conditions: dict, vals: _Values) -> Node:
    if not 1 <= len(conditions) <= 2:
        raise ValidationException("Conditions can be of length 1 or 2 only")
    nodes = []
    for name, c in conditions.items():
        op = c.get("ComparisonOperator", "")
        if op not in _KEY_OPS:
            raise ValidationException(
                "Attempted conditional constraint is not an indexable operation"
            )
        nodes.append(_condition(name, op, c.get("AttributeValueList") or [], vals))
    return _combine(nodes, "AND")


def _attribute_updates(updates: dict, vals: _Values) -> tuple[UpdateAction, ...]:
    actions = []
    for name, u in updates.items():
        action = u.get("Action", "PUT")
        path = Path((name,))
        if action == "PUT":
            if "Value" not in u:
                raise ValidationException(_only_delete(name))
            actions.append(UpdateAction("SET", path, vals.add(u["Value"])))
        elif action == "DELETE":
            if "Value" not in u:
                actions.append(UpdateAction("REMOVE", path, None))
                continue
            ref = vals.add(u["Value"])
            tag = next(iter(vals.values[ref.name]))
            if tag not in ("SS", "NS", "BS"):
                raise ValidationException(_p(f"Action DELETE is not supported for the type {tag}"))
            actions.append(UpdateAction("DELETE", path, ref))
        elif action == "ADD":
            if "Value" not in u:
                raise ValidationException(_only_delete(name))
            ref = vals.add(u["Value"])
            tag = next(iter(vals.values[ref.name]))
            if tag == "L":
                # Legacy ADD appends to a list (creating it when absent).
                empty = vals.add({"L": []})
                actions.append(
                    UpdateAction(
                        "SET",
                        path,
                        Func("list_append", (Func("if_not_exists", (path, empty)), ref)),
                    )
                )
            elif tag in ("N", "SS", "NS", "BS"):
                actions.append(UpdateAction("ADD", path, ref))
            else:
                raise ValidationException(_p(f"Action ADD is not supported for the type {tag}"))
        else:
            raise ValidationException(_p(f"Unsupported AttributeAction: {action}"))
    return tuple(actions)


def _bound(kind: str, root: object, values: dict) -> BoundExpression:
    parsed = ParsedExpression(kind, "<legacy>", root, frozenset(), frozenset())
    fn = compile_condition(root) if kind in (CONDITION, FILTER) else None  # type: ignore[arg-type]
    return BoundExpression(parsed, root, fn)


def prepare_legacy(
    *,
    expected: dict | None = None,
    attribute_updates: dict | None = None,
    key_conditions: dict | None = None,
    query_filter: dict | None = None,
    scan_filter: dict | None = None,
    attributes_to_get: list | None = None,
    conditional_operator: str | None = None,
) -> PreparedExpressions:
    """Translate legacy parameters into a PreparedExpressions (see the module docstring).

    The key condition is a condition tree for :func:`engine.expr.analyze_key_condition`.
    Raises ValidationException with DynamoDB's messages.
    """
    vals = _Values()
    out = PreparedExpressions(vals.values)
    filters = query_filter if query_filter is not None else scan_filter
    if conditional_operator is not None and len(expected or filters or {}) < 2:
        raise ValidationException(
            _p(
                "ConditionalOperator can only be used when Filter or Expected has two or more "
                "elements"
            )
        )
    if expected:
        out.condition = _bound(
            CONDITION, _expected(expected, conditional_operator, vals), vals.values
        )
    if filters:
        out.filter = _bound(FILTER, _filter(filters, conditional_operator, vals), vals.values)
    if key_conditions is not None:
        out.key_condition = _bound(
            KEY_CONDITION, _key_conditions(key_conditions, vals), vals.values
        )
    if attribute_updates:
        out.update = _bound(UPDATE, _attribute_updates(attribute_updates, vals), vals.values)
    if attributes_to_get is not None:
        if not attributes_to_get:
            raise ValidationException(_p("AttributesToGet must not be empty"))
        if len(set(attributes_to_get)) != len(attributes_to_get):
            dup = next(a for a in attributes_to_get if attributes_to_get.count(a) > 1)
            raise ValidationException(_p(f"Duplicate value in attribute name: {dup}"))
        out.projection = _bound(
            PROJECTION, tuple(Path((a,)) for a in attributes_to_get), vals.values
        )
    return out
