"""Binding: resolve expression attribute names, then check a tree against its values.

:func:`bind_names` replaces every ``#name`` in a parsed tree by the attribute name it stands for
and runs the checks that depend only on names: undefined names, document paths that overlap or
conflict (UpdateExpression, ProjectionExpression), functions that need a document path. Its
result depends only on (kind, text, names) and is cached.

:func:`check_values` runs the checks that depend on the request's values: undefined values and
operand types DynamoDB rejects before touching any item (``+`` on a string, ``list_append`` of a
number, ``begins_with`` on a number, ADD of a string, DELETE of a non-set, BETWEEN with bounds in
the wrong order, an unknown ``attribute_type`` name).
"""

from __future__ import annotations

from functools import lru_cache

from engine.errors import ValidationException, msg_invalid_expression
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
    format_path,
)
from engine.expr.parser import PROJECTION, UPDATE, ParsedExpression
from engine.model.compare import compare_values

__all__ = [
    "ATTRIBUTE_TYPES",
    "TYPE_WORDS",
    "bind_names",
    "check_values",
    "operand_type",
    "value_checks",
]

ATTRIBUTE_TYPES = ("S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M")
# Type names in ADD/DELETE operand messages.
TYPE_WORDS = {
    "S": "STRING",
    "N": "NUMBER",
    "B": "BINARY",
    "BOOL": "BOOLEAN",
    "NULL": "NULL",
    "M": "MAP",
    "L": "LIST",
    "SS": "STRING SET",
    "NS": "NUMBER SET",
    "BS": "BINARY SET",
}


def _err(kind: str, detail: str) -> ValidationException:
    return ValidationException(msg_invalid_expression(kind, detail))


def _resolve_path(kind: str, path: Path, names: dict) -> Path:
    if not any(type(e) is str and e[0] == "#" for e in path.elements):
        return path
    out: list[str | int] = []
    for e in path.elements:
        if type(e) is str and e[0] == "#":
            real = names.get(e)
            if real is None:
                raise _err(
                    kind,
                    "An expression attribute name used in the document path is not defined; "
                    f"attribute name: {e}",
                )
            out.append(real)
        else:
            out.append(e)
    return Path(tuple(out))


def _resolve(kind: str, node: Node, names: dict) -> Node:
    t = type(node)
    if t is Path:
        return _resolve_path(kind, node, names)  # type: ignore[arg-type]
    if t is Value:
        return node
    if t is Compare:
        return Compare(node.op, _resolve(kind, node.left, names), _resolve(kind, node.right, names))
    if t is And or t is Or:
        return t(_resolve(kind, node.left, names), _resolve(kind, node.right, names))
    if t is Not:
        return Not(_resolve(kind, node.operand, names))
    if t is Between:
        return Between(
            _resolve(kind, node.operand, names),
            _resolve(kind, node.low, names),
            _resolve(kind, node.high, names),
        )
    if t is In:
        return In(
            _resolve(kind, node.operand, names),
            tuple(_resolve(kind, c, names) for c in node.candidates),
        )
    if t is Func:
        args = tuple(_resolve(kind, a, names) for a in node.args)
        _check_function_shape(kind, node.name, args)
        return Func(node.name, args)
    if t is Arith:
        return Arith(node.op, _resolve(kind, node.left, names), _resolve(kind, node.right, names))
    raise AssertionError(f"unexpected node {node!r}")


_PATH_FIRST = frozenset(
    ("attribute_exists", "attribute_not_exists", "attribute_type", "size", "if_not_exists")
)


def _check_function_shape(kind: str, name: str, args: tuple[Node, ...]) -> None:
    if name in _PATH_FIRST and type(args[0]) is not Path:
        raise _err(
            kind,
            f"Operator or function requires a document path; operator or function: {name}",
        )
    if name in ("begins_with", "contains"):
        for a in args:
            if type(a) is Func:
                raise _err(
                    kind,
                    "Incorrect operand type for operator or function; "
                    f"operator or function: {name}, operand type: N",
                )


def _overlap_check(kind: str, paths: list[Path]) -> None:
    """DynamoDB rejects two paths where one is a prefix of the other (overlap) or where they
    address the same container both as a map and as a list (conflict)."""
    for i in range(len(paths)):
        a = paths[i].elements
        for j in range(i):
            b = paths[j].elements
            n = min(len(a), len(b))
            k = 0
            while k < n and a[k] == b[k]:
                k += 1
            one, two = format_path(paths[j]), format_path(paths[i])
            if k == n:
                raise _err(
                    kind,
                    "Two document paths overlap with each other; must remove or rewrite one of "
                    f"these paths; path one: {one}, path two: {two}",
                )
            if type(a[k]) is not type(b[k]):
                raise _err(
                    kind,
                    "Two document paths conflict with each other; must remove or rewrite one of "
                    f"these paths; path one: {one}, path two: {two}",
                )


@lru_cache(maxsize=4096)
def _bind_cached(parsed: ParsedExpression, names_items: tuple) -> object:
    return _bind(parsed, dict(names_items))


def _bind(parsed: ParsedExpression, names: dict) -> object:
    kind = parsed.kind
    if kind == UPDATE:
        actions = []
        for a in parsed.root:  # type: ignore[attr-defined]
            path = _resolve_path(kind, a.path, names)
            value = None if a.value is None else _resolve(kind, a.value, names)
            actions.append(UpdateAction(a.action, path, value))
        _overlap_check(kind, [a.path for a in actions])
        return tuple(actions)
    if kind == PROJECTION:
        paths = [_resolve_path(kind, p, names) for p in parsed.root]  # type: ignore[attr-defined]
        _overlap_check(kind, paths)
        return tuple(paths)
    return _resolve(kind, parsed.root, names)  # type: ignore[arg-type]


def bind_names(parsed: ParsedExpression, names: dict | None) -> object:
    """Return ``parsed.root`` with expression attribute names resolved (cached).

    Raises ValidationException for undefined names, overlapping or conflicting paths, and
    functions given something other than a document path where one is required.
    """
    if not parsed.name_refs:
        return _bind_cached(parsed, ())
    names = names or {}
    used = tuple(sorted((k, names[k]) for k in parsed.name_refs if k in names))
    return _bind_cached(parsed, used)


def operand_type(node: Node, values: dict) -> str | None:
    """The static type of an operand when it is a value (or size()), else None."""
    if type(node) is Value:
        v = values.get(node.name)
        if v is not None:
            for tag in v:
                return tag
    if type(node) is Func and node.name == "size":
        return "N"
    return None


def _incorrect(kind: str, op: str, tag: str) -> ValidationException:
    return _err(
        kind,
        f"Incorrect operand type for operator or function; operator or function: {op}, "
        f"operand type: {tag}",
    )


def _check_node(kind: str, node: Node, values: dict) -> None:
    t = type(node)
    if t is Value:
        if node.name not in values:
            raise _err(
                kind,
                "An expression attribute value used in expression is not defined; "
                f"attribute value: {node.name}",
            )
        return
    if t is Path:
        return
    if t is Compare:
        _check_node(kind, node.left, values)
        _check_node(kind, node.right, values)
        return
    if t is And or t is Or:
        _check_node(kind, node.left, values)
        _check_node(kind, node.right, values)
        return
    if t is Not:
        _check_node(kind, node.operand, values)
        return
    if t is In:
        _check_node(kind, node.operand, values)
        for c in node.candidates:
            _check_node(kind, c, values)
        return
    if t is Between:
        for n in (node.operand, node.low, node.high):
            _check_node(kind, n, values)
        if type(node.low) is Value and type(node.high) is Value:
            lo, hi = values[node.low.name], values[node.high.name]
            c = compare_values(lo, hi)
            if c is not None and c > 0:
                raise _err(
                    kind,
                    "The BETWEEN operator requires upper bound to be greater than or equal to "
                    f"lower bound; lower bound: {_fmt(lo)}, upper bound: {_fmt(hi)}",
                )
        return
    if t is Func:
        for a in node.args:
            _check_node(kind, a, values)
        name = node.name
        if name == "attribute_type":
            v = values.get(node.args[1].name) if type(node.args[1]) is Value else None
            if v is not None:
                tag = next(iter(v))
                if tag != "S":
                    raise _incorrect(kind, name, tag)
                if v["S"] not in ATTRIBUTE_TYPES:
                    raise _err(
                        kind,
                        f"Invalid attribute type name found; type: {v['S']}, valid types: "
                        "{B,NULL,SS,BOOL,L,BS,N,NS,S,M}",
                    )
        elif name == "begins_with":
            for a in node.args:
                tag = operand_type(a, values)
                if tag is not None and tag not in ("S", "B"):
                    raise _incorrect(kind, name, tag)
        elif name == "list_append":
            for a in node.args:
                tag = operand_type(a, values)
                if tag is not None and tag != "L":
                    raise _incorrect(kind, name, tag)
        return
    if t is Arith:
        _check_node(kind, node.left, values)
        _check_node(kind, node.right, values)
        for a in (node.left, node.right):
            tag = operand_type(a, values)
            if tag is not None and tag != "N":
                raise _incorrect(kind, node.op, tag)
        return
    raise AssertionError(f"unexpected node {node!r}")


def _fmt(v: dict) -> str:
    ((tag, val),) = v.items()
    return f"{{{tag}: {val}}}"


def check_values(kind: str, bound: object, values: dict) -> None:
    """Check a bound tree against the request's (validated) values; raise ValidationException."""
    if kind == PROJECTION:
        return
    if kind == UPDATE:
        for a in bound:  # type: ignore[attr-defined]
            if a.value is None:
                continue
            _check_node(kind, a.value, values)
            if a.action in ("ADD", "DELETE"):
                tag = next(iter(values[a.value.name]))
                allowed = ("N", "SS", "NS", "BS") if a.action == "ADD" else ("SS", "NS", "BS")
                if tag not in allowed:
                    raise _err(
                        kind,
                        f"Incorrect operand type for operator or function; operator: {a.action}, "
                        f"operand type: {TYPE_WORDS[tag]}, typeSet: ALLOWED_FOR_{a.action}_OPERAND",
                    )
        return
    _check_node(kind, bound, values)  # type: ignore[arg-type]


_VALUE_FUNCS = frozenset(("attribute_type", "begins_with", "list_append"))


def _collect(node: object, out: list) -> None:
    t = type(node)
    if t is Between:
        if type(node.low) is Value and type(node.high) is Value:  # type: ignore[attr-defined]
            out.append(node)
    elif t is Arith or (t is Func and node.name in _VALUE_FUNCS):  # type: ignore[attr-defined]
        out.append(node)
    if t in (Compare, And, Or, Arith):
        _collect(node.left, out)  # type: ignore[attr-defined]
        _collect(node.right, out)  # type: ignore[attr-defined]
    elif t is Not:
        _collect(node.operand, out)  # type: ignore[attr-defined]
    elif t is In:
        _collect(node.operand, out)  # type: ignore[attr-defined]
        for c in node.candidates:  # type: ignore[attr-defined]
            _collect(c, out)
    elif t is Func:
        for a in node.args:  # type: ignore[attr-defined]
            _collect(a, out)
    elif t is UpdateAction:
        if node.action in ("ADD", "DELETE"):  # type: ignore[attr-defined]
            out.append(node)
        elif node.value is not None:  # type: ignore[attr-defined]
            _collect(node.value, out)  # type: ignore[attr-defined]


def value_checks(kind: str, bound: object) -> tuple:
    """The nodes of a bound tree whose validity depends on the request's values.

    :func:`check_values` over the whole tree equals: every referenced value is defined, then
    :func:`check_values` of just these nodes. Computed once per bound expression.
    """
    out: list = []
    if kind == UPDATE:
        for a in bound:  # type: ignore[attr-defined]
            _collect(a, out)
    elif kind != PROJECTION:
        _collect(bound, out)
    return tuple(out)


def check_value_nodes(kind: str, nodes: tuple, values: dict) -> None:
    """Run the value-dependent checks of :func:`value_checks` nodes (all values defined)."""
    for node in nodes:
        if type(node) is UpdateAction:
            check_values(kind, (node,), values)
        else:
            _check_node(kind, node, values)
