"""KeyConditionExpression analysis: the restricted condition a Query's key range is built from.

A key condition is one equality on the partition key, optionally AND one condition on the sort
key: ``=``, ``<``, ``<=``, ``>``, ``>=``, ``BETWEEN`` or ``begins_with``. Anything else is
rejected with DynamoDB's message. The result names the value references; the caller (Query)
looks the values up, checks their types against the key schema and builds the key range.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from engine.errors import ValidationException
from engine.errors import msg_param_invalid as _p
from engine.expr.ast import And, Between, Compare, Func, In, Node, Not, Or, Path, Value

__all__ = ["KeyCondition", "analyze_key_condition", "key_condition_values"]

_FLIP = {"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


@dataclass(frozen=True, slots=True)
class KeyCondition:
    """``partition_key = partition_value`` [AND sort_key sort_op sort_values]."""

    partition_key: str
    partition_value: Value
    sort_key: str | None = None
    sort_op: str | None = None  # = < <= > >= BETWEEN begins_with
    sort_values: tuple[Value, ...] = ()


def _err(msg: str) -> ValidationException:
    return ValidationException(msg)


def _leaves(node: Node, out: list[Node]) -> None:
    t = type(node)
    if t is And:
        _leaves(node.left, out)
        _leaves(node.right, out)
    elif t is Or:
        raise _err("Invalid operator used in KeyConditionExpression: OR")
    elif t is Not:
        raise _err("Invalid operator used in KeyConditionExpression: NOT")
    elif t is In:
        raise _err("Invalid operator used in KeyConditionExpression: IN")
    else:
        out.append(node)


def _key_path(node: Node) -> str:
    if type(node) is not Path:
        raise _err("Invalid condition in KeyConditionExpression: one side must be a key attribute")
    if len(node.elements) != 1:
        raise _err("KeyConditionExpressions cannot have conditions on nested attributes")
    return node.elements[0]  # type: ignore[return-value]


def _value(node: Node) -> Value:
    if type(node) is not Value:
        raise _err("Invalid condition in KeyConditionExpression: one side must be a value")
    return node  # type: ignore[return-value]


@lru_cache(maxsize=1024)
def analyze_key_condition(root: Node, hash_key: str, range_key: str | None) -> KeyCondition:
    """Check a bound key condition against the key schema; raise DynamoDB's errors."""
    leaves: list[Node] = []
    _leaves(root, leaves)
    conds: dict[str, tuple[str, tuple[Value, ...]]] = {}
    for leaf in leaves:
        t = type(leaf)
        if t is Compare:
            if leaf.op == "<>":
                raise _err("Unsupported operator on KeyConditionExpression: operator: <>")
            if type(leaf.left) is Path:
                name, op, vals = _key_path(leaf.left), leaf.op, (_value(leaf.right),)
            else:
                name, op, vals = _key_path(leaf.right), _FLIP[leaf.op], (_value(leaf.left),)
        elif t is Between:
            name, op = _key_path(leaf.operand), "BETWEEN"
            vals = (_value(leaf.low), _value(leaf.high))
        elif t is Func:
            if leaf.name != "begins_with":
                raise _err(f"Invalid operator used in KeyConditionExpression: {leaf.name}")
            name, op, vals = _key_path(leaf.args[0]), "begins_with", (_value(leaf.args[1]),)
        else:
            raise _err("Invalid condition in KeyConditionExpression")
        if name in conds:
            raise _err("KeyConditionExpressions must only contain one condition per key")
        conds[name] = (op, vals)
    if hash_key not in conds:
        raise _err(f"Query condition missed key schema element: {hash_key}")
    for name in conds:
        if name != hash_key and name != range_key:
            if range_key is None:
                raise _err("Query key condition not supported")
            raise _err(f"Query condition missed key schema element: {range_key}")
    op, vals = conds[hash_key]
    if op != "=":
        raise _err("Query key condition not supported")
    if range_key is not None and range_key in conds:
        sop, svals = conds[range_key]
        return KeyCondition(hash_key, vals[0], range_key, sop, svals)
    return KeyCondition(hash_key, vals[0])


def key_condition_values(
    kc: KeyCondition, values: dict, hash_type: str, range_type: str | None
) -> tuple[dict, tuple[dict, ...]]:
    """The partition key value and the sort key values of ``kc``, type-checked.

    Raises ValidationException if a value's type differs from the key schema's type, or if
    begins_with is used on a number sort key.
    """
    pk = values[kc.partition_value.name]
    if hash_type not in pk:
        raise _err(_p("Condition parameter type does not match schema type"))
    sk = tuple(values[v.name] for v in kc.sort_values)
    for v in sk:
        if range_type not in v:
            raise _err(_p("Condition parameter type does not match schema type"))
    if kc.sort_op == "begins_with" and range_type == "N":
        raise _err(
            "Invalid KeyConditionExpression: Incorrect operand type for operator or function; "
            "operator or function: begins_with, operand type: N"
        )
    return pk, sk
