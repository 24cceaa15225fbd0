"""Evaluation of bound conditions and projections against items.

:func:`compile_condition` turns a bound condition tree into a Python closure
``fn(item, values) -> bool``; closures are built once per bound tree (cached by the caller) and
hold no request state, so they are shared between threads.

Semantics, from the Developer Guide ("Condition expressions", "Comparison operator and function
reference"):
- A path that does not resolve (missing attribute, index past the end, map step into a non-map)
  is *missing*. Any comparison with a missing operand is false, except ``<>``, which is true.
- ``=``/``<>`` compare any two types (different types are unequal); ``<``, ``<=``, ``>``,
  ``>=`` and BETWEEN only S with S, N with N, B with B: other pairs are false.
- ``size``: S -> length in UTF-16 code units (as DynamoDB's Java heritage counts: "é𝄞" is 3),
  B -> bytes, SS/NS/BS/L/M -> number of elements; other
  types (N, BOOL, NULL) have no size, so a comparison using it is false.
- ``contains(path, op)``: S in S is a substring test, B in B a byte-substring test; a set
  contains a member of its element type; a list contains an element equal to the operand.
- ``begins_with``: S with S or B with B prefix test; otherwise false.
- ``attribute_type(path, :t)``: the attribute exists and has type t.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.expr.ast import And, Between, Compare, Func, In, Node, Not, Or, Path, Value
from engine.model.compare import compare_values, values_equal

__all__ = ["compile_condition", "compile_operand", "get_path", "project"]

Operand = Callable[[dict, dict], "dict | None"]
Condition = Callable[[dict, dict], bool]


def get_path(item: dict, elements: tuple) -> dict | None:
    """The value at a resolved path, or None if it does not resolve."""
    v = item.get(elements[0])
    for e in elements[1:]:
        if v is None:
            return None
        if type(e) is int:
            lst = v.get("L")
            if lst is None or e >= len(lst):
                return None
            v = lst[e]
        else:
            m = v.get("M")
            if m is None:
                return None
            v = m.get(e)
    return v


def _path_getter(path: Path) -> Operand:
    elements = path.elements
    if len(elements) == 1:
        name = elements[0]
        return lambda item, values: item.get(name)
    return lambda item, values: get_path(item, elements)


def _size_of(v: dict | None) -> dict | None:
    if v is None:
        return None
    for tag, x in v.items():
        if tag == "S":
            n = len(x) if x.isascii() else len(x.encode("utf-16-le", "surrogatepass")) // 2
            return {"N": str(n)}
        if tag in ("N", "BOOL", "NULL"):
            return None
        return {"N": str(len(x))}
    return None


def compile_operand(node: Node) -> Operand:
    """A closure returning the operand's value (or None when missing)."""
    t = type(node)
    if t is Path:
        return _path_getter(node)  # type: ignore[arg-type]
    if t is Value:
        name = node.name
        return lambda item, values: values[name]
    if t is Func and node.name == "size":
        inner = _path_getter(node.args[0])
        return lambda item, values: _size_of(inner(item, values))
    raise AssertionError(f"not an operand: {node!r}")


_SIMPLE = frozenset(("S", "N", "B", "BOOL", "NULL"))


def _eq(a: dict | None, b: dict | None) -> bool:
    if a is None or b is None:
        return False
    if a == b:
        return True
    for tag in a:
        if tag in _SIMPLE:
            return False
    return values_equal(a, b)


def _compile_compare(node: Compare) -> Condition:
    left, right, op = compile_operand(node.left), compile_operand(node.right), node.op
    if op == "=":
        return lambda item, values: _eq(left(item, values), right(item, values))
    if op == "<>":

        def ne(item: dict, values: dict) -> bool:
            a, b = left(item, values), right(item, values)
            return a is None or b is None or not _eq(a, b)

        return ne

    want = {"<": (-1,), "<=": (-1, 0), ">": (1,), ">=": (1, 0)}[op]

    def ordered(item: dict, values: dict) -> bool:
        a, b = left(item, values), right(item, values)
        if a is None or b is None:
            return False
        return compare_values(a, b) in want

    return ordered


def _between(x: dict | None, lo: dict | None, hi: dict | None) -> bool:
    if x is None or lo is None or hi is None:
        return False
    c1 = compare_values(lo, x)
    if c1 is None or c1 > 0:
        return False
    c2 = compare_values(x, hi)
    return c2 is not None and c2 <= 0


def _contains(container: dict | None, member: dict | None) -> bool:
    if container is None or member is None:
        return False
    ((ctag, c),) = container.items()
    ((mtag, m),) = member.items()
    if ctag == "S" or ctag == "B":
        return mtag == ctag and m in c
    if ctag == "SS":
        return mtag == "S" and m in c
    if ctag == "NS":
        return mtag == "N" and m in c
    if ctag == "BS":
        return mtag == "B" and m in c
    if ctag == "L":
        return any(_eq(e, member) for e in c)
    return False


def _begins_with(v: dict | None, prefix: dict | None) -> bool:
    if v is None or prefix is None:
        return False
    ((tag, x),) = v.items()
    ((ptag, p),) = prefix.items()
    return tag == ptag and tag in ("S", "B") and x.startswith(p)


def _compile_function(node: Func) -> Condition:
    name = node.name
    if name == "attribute_exists":
        get = _path_getter(node.args[0])  # type: ignore[arg-type]
        return lambda item, values: get(item, values) is not None
    if name == "attribute_not_exists":
        get = _path_getter(node.args[0])  # type: ignore[arg-type]
        return lambda item, values: get(item, values) is None
    a, b = compile_operand(node.args[0]), compile_operand(node.args[1])
    if name == "attribute_type":

        def attribute_type(item: dict, values: dict) -> bool:
            v, t = a(item, values), b(item, values)
            return v is not None and t is not None and t.get("S") in v

        return attribute_type
    if name == "begins_with":
        return lambda item, values: _begins_with(a(item, values), b(item, values))
    if name == "contains":
        return lambda item, values: _contains(a(item, values), b(item, values))
    raise AssertionError(f"not a condition function: {name}")


def compile_condition(node: Node) -> Condition:
    """Compile a bound condition tree into ``fn(item, values) -> bool``."""
    t = type(node)
    if t is Compare:
        return _compile_compare(node)  # type: ignore[arg-type]
    if t is And:
        left, right = compile_condition(node.left), compile_condition(node.right)
        return lambda item, values: left(item, values) and right(item, values)
    if t is Or:
        left, right = compile_condition(node.left), compile_condition(node.right)
        return lambda item, values: left(item, values) or right(item, values)
    if t is Not:
        inner = compile_condition(node.operand)
        return lambda item, values: not inner(item, values)
    if t is Between:
        x, lo, hi = (compile_operand(n) for n in (node.operand, node.low, node.high))
        return lambda item, values: _between(x(item, values), lo(item, values), hi(item, values))
    if t is In:
        x = compile_operand(node.operand)
        cands = [compile_operand(c) for c in node.candidates]

        def in_(item: dict, values: dict) -> bool:
            v = x(item, values)
            return v is not None and any(_eq(v, c(item, values)) for c in cands)

        return in_
    if t is Func:
        return _compile_function(node)  # type: ignore[arg-type]
    raise AssertionError(f"not a condition: {node!r}")


def _project_into(out: dict, src: dict, elements: tuple) -> None:
    """Copy the value at ``elements`` of the map ``src`` into the map ``out``."""
    head = elements[0]
    v = src.get(head)
    if v is None:
        return
    if len(elements) == 1:
        out[head] = v
        return
    nxt = elements[1]
    if type(nxt) is int:
        lst = v.get("L")
        if lst is None or nxt >= len(lst):
            return
        slot = out.get(head)
        if slot is None:
            slot = out[head] = {"L": {}}  # index -> value while projecting; compacted later
        elif "L" not in slot or type(slot["L"]) is not dict:
            return
        inner_src = {nxt: lst[nxt]}
        _project_into(slot["L"], inner_src, (nxt, *elements[2:]))
    else:
        m = v.get("M")
        if m is None:
            return
        slot = out.get(head)
        if slot is None:
            slot = out[head] = {"M": {}}
        elif "M" not in slot:
            return
        _project_into(slot["M"], m, elements[1:])


def _compact(v: dict) -> dict:
    for tag, x in v.items():
        if tag == "L" and type(x) is dict:
            return {"L": [_compact(x[i]) for i in sorted(x)]}
        if tag == "M":
            return {"M": {k: _compact(e) for k, e in x.items()}}
    return v


def project(item: dict, paths: tuple[Path, ...]) -> dict:
    """The item restricted to the given (non-overlapping) paths.

    Selected list elements keep their relative order and are compacted, as DynamoDB returns
    them: projecting ``l[1], l[3]`` of a 4-element list returns a 2-element list.
    """
    out: dict = {}
    for p in paths:
        _project_into(out, item, p.elements)
    return {k: _compact(v) for k, v in out.items()}
