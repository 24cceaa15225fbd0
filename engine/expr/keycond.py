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

__all__ = [
    "IndexKeyCondition",
    "KeyCondition",
    "analyze_index_key_condition",
    "analyze_key_condition",
    "index_key_condition_values",
    "key_condition_values",
    "top_level_names",
]

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


def _conditions(root: Node) -> dict[str, tuple[str, tuple[Value, ...]]]:
    """attribute name -> (operator, value references) of each leaf of a key condition."""
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
    return conds


@lru_cache(maxsize=1024)
def analyze_key_condition(root: Node, hash_key: str, range_key: str | None) -> KeyCondition:
    """Check a bound key condition against the key schema; raise DynamoDB's errors."""
    conds = _conditions(root)
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


@dataclass(frozen=True, slots=True)
class IndexKeyCondition:
    """A key condition on a key schema of several partition and sort key attributes (a
    multi-attribute GSI key; one of each is the ordinary case): an equality on every
    partition key attribute, equalities on the leading sort key attributes, and at most
    one more condition, of any key operator, on the next sort key attribute."""

    partition_values: tuple[Value, ...]
    sort_equal: tuple[Value, ...] = ()
    sort_key: str | None = None
    sort_op: str | None = None
    sort_values: tuple[Value, ...] = ()


@lru_cache(maxsize=1024)
def analyze_index_key_condition(
    root: Node, hash_keys: tuple[str, ...], range_keys: tuple[str, ...]
) -> IndexKeyCondition:
    """Check a bound key condition against an index key schema; raise DynamoDB's errors.

    Sort key attributes are constrained left to right without gaps; every one but the
    last constrained must be an equality.
    """
    conds = _conditions(root)
    for name in hash_keys:
        if name not in conds:
            raise _err(f"Query condition missed key schema element: {name}")
    for name in conds:
        if name not in hash_keys and name not in range_keys:
            if not range_keys:
                raise _err("Query key condition not supported")
            missing = next((r for r in range_keys if r not in conds), range_keys[0])
            raise _err(f"Query condition missed key schema element: {missing}")
    pvals = []
    for name in hash_keys:
        op, vals = conds[name]
        if op != "=":
            raise _err("Query key condition not supported")
        pvals.append(vals[0])
    given = [r for r in range_keys if r in conds]
    for i, name in enumerate(given):
        if range_keys[i] != name:
            raise _err(f"Query condition missed key schema element: {range_keys[i]}")
    equal = []
    for name in given[:-1]:
        op, vals = conds[name]
        if op != "=":
            raise _err(
                "Query key condition not supported: only the last sort key attribute given "
                f"may use {op}; sort key attribute {name} must be an equality"
            )
        equal.append(vals[0])
    if not given:
        return IndexKeyCondition(tuple(pvals))
    last = given[-1]
    op, vals = conds[last]
    return IndexKeyCondition(tuple(pvals), tuple(equal), last, op, vals)


def index_key_condition_values(
    kc: IndexKeyCondition,
    values: dict,
    types: dict[str, str],
    hash_keys: tuple[str, ...],
    range_keys: tuple[str, ...],
) -> tuple[list[dict], list[dict], tuple[dict, ...]]:
    """(partition key values, leading sort key equality values, last condition's values),
    each type-checked against ``types`` (attribute name -> S, N or B)."""

    def typed(names, refs) -> list[dict]:
        out = []
        for name, ref in zip(names, refs):
            v = values[ref.name]
            if types[name] not in v:
                raise _err(_p("Condition parameter type does not match schema type"))
            out.append(v)
        return out

    pk = typed(hash_keys, kc.partition_values)
    eq = typed(range_keys, kc.sort_equal)
    last = tuple(typed((kc.sort_key,) * len(kc.sort_values), kc.sort_values))
    if kc.sort_key is not None:
        rt = types[kc.sort_key]
        if kc.sort_op == "begins_with" and rt == "N":
            raise _err(
                "Invalid KeyConditionExpression: Incorrect operand type for operator or "
                "function; operator or function: begins_with, operand type: N"
            )
    return pk, eq, last


def top_level_names(root: Node) -> set[str]:
    """The top-level attribute names a bound expression refers to."""
    out: set[str] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if type(node) is Path:
            out.add(node.elements[0])  # type: ignore[arg-type]
            continue
        for value in vars(node).values() if hasattr(node, "__dict__") else _slots(node):
            if isinstance(value, Node):
                stack.append(value)
            elif isinstance(value, tuple):
                stack.extend(v for v in value if isinstance(v, Node))
    return out


def _slots(node: Node) -> list:
    return [getattr(node, f) for f in getattr(node, "__slots__", ())]
