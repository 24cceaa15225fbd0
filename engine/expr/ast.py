"""Syntax tree of DynamoDB expressions, shared by all five expression kinds.

Nodes are small immutable objects. A :class:`Path` holds its elements: attribute names (``str``)
and list indexes (``int``); before binding, an element may still be an unresolved expression
attribute name (``"#n"``, recognisable by its leading ``#``, which no unaliased name can have).
:class:`Value` names an expression attribute value (``":v"``), looked up at evaluation time so
that one bound tree serves every request with the same text and names.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "And",
    "Arith",
    "Between",
    "Compare",
    "Func",
    "In",
    "Node",
    "Not",
    "Or",
    "Path",
    "UpdateAction",
    "Value",
    "format_path",
]


class Node:
    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Path(Node):
    elements: tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Value(Node):
    name: str


@dataclass(frozen=True, slots=True)
class Func(Node):
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Compare(Node):
    op: str  # one of = <> < <= > >=
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Between(Node):
    operand: Node
    low: Node
    high: Node


@dataclass(frozen=True, slots=True)
class In(Node):
    operand: Node
    candidates: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class And(Node):
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Or(Node):
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Not(Node):
    operand: Node


@dataclass(frozen=True, slots=True)
class Arith(Node):
    op: str  # + or -
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class UpdateAction(Node):
    action: str  # SET, REMOVE, ADD, DELETE
    path: Path
    value: Node | None  # None for REMOVE


def format_path(path: Path) -> str:
    """A path as DynamoDB prints it in messages: ``[a, b, [3], c]``."""
    parts = [f"[{e}]" if isinstance(e, int) else e for e in path.elements]
    return "[" + ", ".join(parts) + "]"
