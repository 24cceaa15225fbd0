"""Application of a bound UpdateExpression to an item.

Semantics (Developer Guide, "Update expressions"):
- Every SET right-hand side is evaluated against the item as it was *before* the update; then
  SET, REMOVE, ADD and DELETE actions are applied. Paths never overlap (checked when binding),
  so their relative order only matters for list indexes: REMOVE of several elements of one list
  uses the original indexes.
- ``SET l[i] = v`` with i past the end appends; ``SET a.b = v`` needs ``a`` to be a map (and
  ``l[i].x`` an existing element): otherwise "The document path provided in the update expression
  is invalid for update". The same holds for REMOVE (and ADD, DELETE) of a nested path whose
  parent does not exist; REMOVE of an absent last element is a no-op (scylladb#10043 records
  DynamoDB's behaviour for both).
- ``a + b`` / ``a - b`` need numbers, ``list_append`` lists, otherwise "An operand in the update
  expression has an incorrect data type"; an operand path that does not exist is "The provided
  expression refers to an attribute that does not exist in the item". ``if_not_exists(p, v)`` is
  p's value when p exists, else v.
- ADD on a missing attribute stores the operand (a number is added to 0, a set to the empty set);
  ADD to a number adds, to a set unions (same set type only). DELETE removes members from a set of
  the same type; a set left empty is removed; DELETE on a missing attribute is a no-op.
The input item is never mutated: containers on modified paths are copied.
"""

from __future__ import annotations

from engine.errors import ValidationException, msg_param_invalid
from engine.expr.ast import Arith, Func, Path, UpdateAction, Value
from engine.expr.evaluate import get_path
from engine.model.numbers import add_numbers, subtract_numbers

__all__ = [
    "apply_update",
    "apply_update_general",
    "check_key_not_updated",
    "updated_paths",
    "updated_top_level_names",
]

MSG_MISSING_OPERAND = (
    "The provided expression refers to an attribute that does not exist in the item"
)
MSG_BAD_OPERAND = "An operand in the update expression has an incorrect data type"
MSG_BAD_PATH = "The document path provided in the update expression is invalid for update"


def _eval(node: object, item: dict, values: dict) -> dict:
    t = type(node)
    if t is Value:
        return values[node.name]  # type: ignore[attr-defined]
    if t is Path:
        v = get_path(item, node.elements)  # type: ignore[attr-defined]
        if v is None:
            raise ValidationException(MSG_MISSING_OPERAND)
        return v
    if t is Arith:
        a = _eval(node.left, item, values)  # type: ignore[attr-defined]
        b = _eval(node.right, item, values)  # type: ignore[attr-defined]
        if "N" not in a or "N" not in b:
            raise ValidationException(MSG_BAD_OPERAND)
        fn = add_numbers if node.op == "+" else subtract_numbers  # type: ignore[attr-defined]
        return {"N": fn(a["N"], b["N"])}
    if t is Func:
        if node.name == "if_not_exists":  # type: ignore[attr-defined]
            v = get_path(item, node.args[0].elements)  # type: ignore[attr-defined]
            return v if v is not None else _eval(node.args[1], item, values)  # type: ignore
        a = _eval(node.args[0], item, values)  # type: ignore[attr-defined]
        b = _eval(node.args[1], item, values)  # type: ignore[attr-defined]
        if "L" not in a or "L" not in b:
            raise ValidationException(MSG_BAD_OPERAND)
        return {"L": a["L"] + b["L"]}
    raise AssertionError(f"not an update operand: {node!r}")


def _add(current: dict | None, operand: dict) -> dict | None:
    if current is None:
        return operand
    ((ctag, c),) = current.items()
    ((otag, o),) = operand.items()
    if ctag != otag:
        raise ValidationException(MSG_BAD_OPERAND)
    if ctag == "N":
        return {"N": add_numbers(c, o)}
    seen = set(c)
    return {ctag: c + [m for m in o if m not in seen]}


def _delete(current: dict | None, operand: dict) -> dict | None:
    if current is None:
        return None
    ((ctag, c),) = current.items()
    ((otag, o),) = operand.items()
    if ctag != otag:
        raise ValidationException(MSG_BAD_OPERAND)
    gone = set(o)
    rest = [m for m in c if m not in gone]
    return {ctag: rest} if rest else None


def _modify(container: dict, elements: tuple, i: int, action: str, operand: object) -> dict:
    """Return a copy of the AttributeValue ``container`` with the action applied at
    ``elements[i:]``."""
    e = elements[i]
    last = i == len(elements) - 1
    if type(e) is int:
        lst = container.get("L")
        if lst is None:
            raise ValidationException(MSG_BAD_PATH)
        new = list(lst)
        if not last:
            if e >= len(new):
                raise ValidationException(MSG_BAD_PATH)
            new[e] = _modify(new[e], elements, i + 1, action, operand)
            return {"L": new}
        if action == "SET":
            if e >= len(new):
                new.append(operand)
            else:
                new[e] = operand
        elif action == "REMOVE":
            if e < len(new):
                del new[e]
        else:
            cur = new[e] if e < len(new) else None
            res = _add(cur, operand) if action == "ADD" else _delete(cur, operand)  # type: ignore
            if res is None:
                if cur is not None:
                    del new[e]
            elif e < len(new):
                new[e] = res
            else:
                new.append(res)
        return {"L": new}
    m = container.get("M")
    if m is None:
        raise ValidationException(MSG_BAD_PATH)
    new_m = dict(m)
    if not last:
        child = new_m.get(e)
        if child is None:
            raise ValidationException(MSG_BAD_PATH)
        new_m[e] = _modify(child, elements, i + 1, action, operand)
        return {"M": new_m}
    if action == "SET":
        new_m[e] = operand  # type: ignore[assignment]
    elif action == "REMOVE":
        new_m.pop(e, None)
    else:
        res = _add(new_m.get(e), operand) if action == "ADD" else _delete(new_m.get(e), operand)  # type: ignore
        if res is None:
            new_m.pop(e, None)
        else:
            new_m[e] = res
    return {"M": new_m}


def _apply(item: dict, path: Path, action: str, operand: object) -> dict:
    elements = path.elements
    if len(elements) == 1:
        name = elements[0]
        if action == "SET":
            item[name] = operand  # type: ignore[assignment]
        elif action == "REMOVE":
            item.pop(name, None)
        else:
            cur = item.get(name)
            res = _add(cur, operand) if action == "ADD" else _delete(cur, operand)  # type: ignore
            if res is None:
                item.pop(name, None)
            else:
                item[name] = res
        return item
    return _modify({"M": item}, elements, 0, action, operand)["M"]


# id(actions) -> (actions, its top-level SETs of values as (name, value name) pairs, or None
# when it has any other action). Bound expressions are cached and long-lived, so the same
# tuple comes back request after request; holding it keeps its id from being reused.
_PLANS: dict[int, tuple[tuple, tuple[tuple[str, str], ...] | None]] = {}
_PLANS_MAX = 4096


def _plan(actions: tuple[UpdateAction, ...]) -> tuple[tuple[str, str], ...] | None:
    sets = []
    for a in actions:
        if a.action != "SET" or len(a.path.elements) != 1 or type(a.value) is not Value:
            return None
        sets.append((a.path.elements[0], a.value.name))
    return tuple(sets)  # type: ignore[return-value]


def apply_update(actions: tuple[UpdateAction, ...], item: dict | None, values: dict) -> dict:
    """Return the item after the update (``item`` None means the item does not exist yet).

    Raises ValidationException with DynamoDB's messages (see the module docstring). The caller
    checks key attributes (:func:`check_key_not_updated`) and the resulting item size.
    """
    entry = _PLANS.get(id(actions))
    if entry is None or entry[0] is not actions:
        if len(_PLANS) >= _PLANS_MAX:
            _PLANS.clear()
        entry = _PLANS[id(actions)] = (actions, _plan(actions))
    sets = entry[1]
    if sets is None:
        return apply_update_general(actions, item, values)
    # Only ``SET name = :value`` actions: nothing to evaluate against the old item, no path
    # to walk (the commonest update, as YCSB's).
    new = dict(item) if item else {}
    for name, value_name in sets:
        new[name] = values[value_name]
    return new


def apply_update_general(
    actions: tuple[UpdateAction, ...], item: dict | None, values: dict
) -> dict:
    """:func:`apply_update` for any actions (the specification of its fast path)."""
    old = item or {}
    sets = [(a.path, _eval(a.value, old, values)) for a in actions if a.action == "SET"]
    new = dict(old)
    for path, v in sets:
        new = _apply(new, path, "SET", v)
    removes = [a.path for a in actions if a.action == "REMOVE"]
    # Highest list index first, so that earlier indexes of the same list stay valid.
    removes.sort(key=lambda p: [(-e if type(e) is int else 0) for e in p.elements])
    for path in removes:
        new = _apply(new, path, "REMOVE", None)
    for a in actions:
        if a.action == "ADD" or a.action == "DELETE":
            new = _apply(new, a.path, a.action, values[a.value.name])  # type: ignore[union-attr]
    return new


def updated_paths(actions: tuple[UpdateAction, ...]) -> tuple[Path, ...]:
    """The document paths an update writes: ReturnValues UPDATED_OLD / UPDATED_NEW is the old or
    new item projected on them (engine.expr.project)."""
    return tuple(a.path for a in actions)


def updated_top_level_names(actions: tuple[UpdateAction, ...]) -> set[str]:
    """Top-level attribute names an update may modify."""
    return {a.path.elements[0] for a in actions}  # type: ignore[misc]


def check_key_not_updated(actions: tuple[UpdateAction, ...], key_names: tuple[str, ...]) -> None:
    """Raise DynamoDB's error if an action touches a key attribute."""
    for a in actions:
        name = a.path.elements[0]
        if name in key_names:
            raise ValidationException(
                msg_param_invalid(
                    f"Cannot update attribute {name}. This attribute is part of the key"
                )
            )
