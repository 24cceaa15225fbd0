"""Request validation against botocore's service model, with DynamoDB's messages.

The service model (botocore/data/dynamodb/2012-08-10/service-2.json.gz) names every
parameter's shape and constraints. :func:`validate` walks a request against its input
shape and collects violations in DynamoDB's form::

    2 validation errors detected: Value 'ab' at 'tableName' failed to satisfy constraint:
    Member must have length greater than or equal to 3; Value null at 'keySchema' ...

Paths are the lowerCamel member names joined by dots, list members as ``.<n>.member``
(1-based) and map values as ``.<key>.member`` (DynamoDB's Java-style paths). AttributeValue
shapes are left to engine.model, which knows DynamoDB's messages for them. A value of the
wrong JSON type is a SerializationException, as DynamoDB's deserializer reports it.

Thread-safety: the model is loaded once, read-only afterwards.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import re
from collections.abc import Callable
from functools import cache, lru_cache

from engine.errors import SerializationException, ValidationException

__all__ = ["operation_names", "service_model", "validate"]

_SKIP = {"AttributeValue", "AttributeMap", "Key", "PutItemInputAttributeMap"}
_TYPES = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "boolean": (bool,),
    "double": (int, float),
    "blob": (bytes, bytearray),
    "list": (list, tuple),
    "map": (dict,),
    "structure": (dict,),
    "timestamp": (int, float, str, object),
}


@lru_cache(maxsize=1)
def service_model() -> dict:
    """DynamoDB's service model as botocore ships it."""
    # Located without importing botocore, whose import costs more than reading the model.
    spec = importlib.util.find_spec("botocore")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("botocore is required: its service model defines DynamoDB's API")
    root = next(iter(spec.submodule_search_locations))
    path = os.path.join(root, "data", "dynamodb", "2012-08-10", "service-2.json.gz")
    with gzip.open(path) as f:
        return json.load(f)


def operation_names() -> list[str]:
    return sorted(service_model()["operations"])


@lru_cache(maxsize=1024)
def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _fmt(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, str):
        return f"'{v}'"
    if isinstance(v, bool):
        return "true" if v else "false"
    return f"'{v}'" if isinstance(v, (int, float)) else str(v)


def _java(shape_name: str, v: object) -> str:
    """A value as DynamoDB's Java service prints it in a validation message."""
    shape = service_model()["shapes"][shape_name]
    t = shape["type"]
    # A malformed request may hold anything anywhere: print what is there.
    if t in ("list", "map", "structure") and not isinstance(v, _TYPES[t]):
        return str(v)
    if t == "list":
        member = shape["member"]["shape"]
        return "[" + ", ".join(_java(member, x) for x in v) + "]"  # type: ignore[union-attr]
    if t == "map":
        vshape = shape["value"]["shape"]
        return "{" + ", ".join(f"{k}={_java(vshape, x)}" for k, x in v.items()) + "}"  # type: ignore[union-attr]
    if t == "structure":
        return f"com.amazonaws.dynamodb.v20120810.{shape_name}@{id(v) & 0xFFFFFFFF:x}"
    return str(v)


# The model's patterns are Java regular expressions. Two constructs in it mean something
# else, or nothing, to Python's re: Java's POSIX class \p{Print} (printable ASCII), and a
# range of UTF-16 surrogate pairs (every character beyond the BMP).
_JAVA_PATTERN_PARTS = (
    ("\\p{Print}", "[\\x20-\\x7E]"),
    ("\\uD800\\uDC00-\\uDBFF\\uDFFF", "\\U00010000-\\U0010FFFF"),
)


@lru_cache(maxsize=512)
def _pattern(p: str) -> re.Pattern:
    """The model's pattern ``p`` (Java syntax) compiled for Python."""
    for java, python in _JAVA_PATTERN_PARTS:
        p = p.replace(java, python)
    return re.compile(p)


@cache
def _spec(shape_name: str) -> tuple:
    """(shape, type, Python types, min, max, is_plain): plain shapes (unconstrained strings,
    numbers and booleans) need only their type checked."""
    shape = service_model()["shapes"][shape_name]
    t = shape["type"]
    lo, hi = shape.get("min"), shape.get("max")
    plain = t in ("string", "integer", "long", "double", "boolean", "blob", "timestamp") and not (
        lo is not None or hi is not None or "enum" in shape or "pattern" in shape
    )
    return shape, t, _TYPES[t], lo, hi, plain


@cache
def _members(shape_name: str) -> dict[str, tuple[str, str]]:
    """A structure's members: wire name -> (shape name, lowerCamel path name)."""
    members = service_model()["shapes"][shape_name]["members"]
    return {name: (m["shape"], _camel(name)) for name, m in members.items()}


def _shown_list(shape_name: str, value: object, in_map: bool) -> str:
    """How DynamoDB's message shows a list that breaks its bounds (rendered only then:
    rendering costs more than checking)."""
    return "Value at" if in_map else f"Value '{_java(shape_name, value)}' at"


def _check(
    shape_name: str, value: object, path: str, errors: list[str], in_map: bool = False
) -> None:
    if shape_name in _SKIP:
        return
    if shape_name == "TableArn" and isinstance(value, str) and not value.startswith("arn:"):
        shape_name = "TableName"  # a name where a name or an ARN may stand obeys TableName
    shape, t, ok, lo, hi, plain = _spec(shape_name)
    if not isinstance(value, ok) or (t in ("integer", "long") and isinstance(value, bool)):
        raise SerializationException(f"Unexpected value type for {path or 'request'}: expected {t}")
    if plain:
        return
    if t == "string":
        enum = shape.get("enum")
        if enum is not None and value not in enum:
            errors.append(
                f"Value {_fmt(value)} at '{path}' failed to satisfy constraint: Member must "
                f"satisfy enum value set: [{', '.join(enum)}]"
            )
            return
        n = len(value)  # type: ignore[arg-type]
        if lo is not None and n < lo:
            errors.append(
                f"Value {_fmt(value)} at '{path}' failed to satisfy constraint: Member must "
                f"have length greater than or equal to {lo}"
            )
        elif hi is not None and n > hi:
            errors.append(
                f"Value {_fmt(value)} at '{path}' failed to satisfy constraint: Member must "
                f"have length less than or equal to {hi}"
            )
        elif "pattern" in shape and not _pattern(shape["pattern"]).fullmatch(value):  # type: ignore[arg-type]
            errors.append(
                f"Value {_fmt(value)} at '{path}' failed to satisfy constraint: Member must "
                f"satisfy regular expression pattern: {shape['pattern']}"
            )
    elif t in ("integer", "long", "double"):
        if lo is not None and value < lo:  # type: ignore[operator]
            errors.append(
                f"Value {_fmt(value)} at '{path}' failed to satisfy constraint: Member must "
                f"have value greater than or equal to {lo}"
            )
        elif hi is not None and value > hi:  # type: ignore[operator]
            errors.append(
                f"Value {_fmt(value)} at '{path}' failed to satisfy constraint: Member must "
                f"have value less than or equal to {hi}"
            )
    elif t == "list":
        n = len(value)  # type: ignore[arg-type]
        if lo is not None and n < lo:
            errors.append(
                f"{_shown_list(shape_name, value, in_map)} '{path}' failed to satisfy "
                f"constraint: Member must have length greater than or equal to {lo}"
            )
        elif hi is not None and n > hi:
            errors.append(
                f"{_shown_list(shape_name, value, in_map)} '{path}' failed to satisfy "
                f"constraint: Member must have length less than or equal to {hi}"
            )
        member = shape["member"]["shape"]
        for i, v in enumerate(value, 1):  # type: ignore[arg-type]
            _check(member, v, f"{path}.{i}.member", errors, in_map)
    elif t == "map":
        n = len(value)  # type: ignore[arg-type]
        if hi is not None and n > hi:
            errors.append(
                f"Value '{_java(shape_name, value)}' at '{path}' failed to satisfy constraint: "
                f"Member must have length less than or equal to {hi}"
            )
        vshape_name = shape["value"]["shape"]
        vshape = service_model()["shapes"][vshape_name]
        for k, v in value.items():  # type: ignore[union-attr]
            if not isinstance(k, str):
                raise SerializationException(f"Unexpected key type for {path}")
            if vshape["type"] == "list" and isinstance(v, (list, tuple)):
                vlo, vhi = vshape.get("min"), vshape.get("max")
                if (vlo is not None and len(v) < vlo) or (vhi is not None and len(v) > vhi):
                    # DynamoDB reports a map value's list bounds together, for the whole map.
                    bounds = []
                    if vhi is not None:
                        bounds.append(f"Member must have length less than or equal to {vhi}")
                    if vlo is not None:
                        bounds.append(f"Member must have length greater than or equal to {vlo}")
                    errors.append(
                        f"Value '{_java(shape_name, value)}' at '{path}' failed to satisfy "
                        f"constraint: Map value must satisfy constraint: [{', '.join(bounds)}]"
                    )
                    continue
                for i, x in enumerate(v, 1):
                    _check(vshape["member"]["shape"], x, f"{path}.{k}.{i}.member", errors, True)
                continue
            # Inside a map value DynamoDB names members as the wire does: RequestItems.t.member.Keys
            root = path[:1].upper() + path[1:] if not in_map else path
            _check(vshape_name, v, f"{root}.{k}.member", errors, True)
    elif t == "structure":
        members = _members(shape_name)
        prefix = f"{path}." if path else ""
        for name in shape.get("required", ()):
            if value.get(name) is None:  # type: ignore[union-attr]
                shown = name if in_map else _camel(name)
                errors.append(
                    f"Value null at '{prefix}{shown}' failed to satisfy constraint: "
                    "Member must not be null"
                )
        for name, v in value.items():  # type: ignore[union-attr]
            m = members.get(name)
            if m is None or v is None or m[0] in _SKIP:
                continue
            _check(m[0], v, prefix + (name if in_map else m[1]), errors, in_map)


VALID_CACHE_ENTRIES = 4096  # request shapes remembered as valid (cleared when full)
_valid: dict[tuple, bool] = {}
_SCALAR_TYPES = frozenset((str, int, bool, float))


@cache
def _unchecked_members(operation: str) -> frozenset[str]:
    """Members of the operation's input whose shapes this module leaves to engine.model
    (items and keys): only their presence matters here."""
    shape = service_model()["operations"][operation]["input"]["shape"]
    return frozenset(n for n, (m, _) in _members(shape).items() if m in _SKIP)


def _shape_key(operation: str, params: dict) -> tuple | None:
    """What decides the outcome of validating ``params``, when that is only scalars (and
    the presence of items and keys): most data-plane requests. None otherwise.

    BatchWriteItem's RequestItems count too when every request in it is a plain
    ``{"PutRequest": {"Item": {...}}}`` or ``{"DeleteRequest": {"Key": {...}}}``: then
    only the table names and the number of requests per table decide (items and keys
    are engine.model's to check)."""
    unchecked = _unchecked_members(operation)
    key: list = [operation]
    for name, v in params.items():
        t = type(v)
        if t in _SCALAR_TYPES:
            key.append((name, t, v))  # the type too: True == 1, yet only one is an integer
        elif name in unchecked and v is not None:
            key.append(name)
        elif name == "RequestItems" and operation == "BatchWriteItem" and t is dict:
            writes = _plain_writes_key(v)
            if writes is None:
                return None
            key.append(writes)
        else:
            return None
    return tuple(key)


_PLAIN_WRITES = {"PutRequest": "Item", "DeleteRequest": "Key"}


def _plain_writes_key(request_items: dict) -> tuple | None:
    """(table name, number of requests) per table of a BatchWriteItem whose every
    request is a plain put or delete; None if any is not."""
    key = []
    plain = _PLAIN_WRITES
    for table, requests in request_items.items():
        if type(table) is not str or type(requests) is not list:
            return None
        for request in requests:
            if type(request) is not dict or len(request) != 1:
                return None
            ((kind, inner),) = request.items()
            member = plain.get(kind)
            if member is None or type(inner) is not dict or len(inner) != 1:
                return None
            if type(inner.get(member)) is not dict:
                return None
        key.append((table, len(requests)))
    return tuple(key)


def validate(operation: str, params: dict) -> None:
    """Raise ValidationException listing every constraint ``params`` violates.

    A request made of scalars, items and keys that passed once passes again without the
    walk (the table name, return options and expressions of a workload repeat). Any other
    request is first checked by the shape's compiled predicate (:func:`_passer`), which
    tells a valid request in a third of the walk's time; only a request it doubts is
    walked, and the walk writes DynamoDB's messages."""
    key = _shape_key(operation, params) if type(params) is dict else None
    if key is not None and key in _valid:
        return
    shape_name = service_model()["operations"][operation]["input"]["shape"]
    if not _passer(shape_name)(params):
        errors: list[str] = []
        _check(shape_name, params, "", errors)
        if errors:
            n = len(errors)
            head = f"{n} validation error{'s' if n > 1 else ''} detected: "
            raise ValidationException(head + "; ".join(errors))
    if key is not None:
        if len(_valid) >= VALID_CACHE_ENTRIES:
            _valid.clear()
        _valid[key] = True


# ------------------------------------------------------------------ compiled predicates

_passers: dict[str, Callable[[object], bool]] = {}


def _passer(shape_name: str) -> Callable[[object], bool]:
    """A predicate true only of values :func:`_check` accepts without a word: no error,
    no exception. False means "walk it to find out", not "invalid". Built once a shape,
    on first use (shapes refer to each other, so members resolve when first checked)."""
    f = _passers.get(shape_name)
    if f is None:
        f = _passers[shape_name] = _compile(shape_name)
    return f


def _always(value: object) -> bool:
    return True


def _compile(shape_name: str) -> Callable[[object], bool]:
    if shape_name in _SKIP:
        return _always
    _, t, ok, lo, hi, plain = _spec(shape_name)
    if shape_name == "TableArn":
        as_arn = _compile_typed(shape_name, t, ok, lo, hi, plain)

        def table_arn(v: object) -> bool:
            if isinstance(v, str) and not v.startswith("arn:"):
                return _passer("TableName")(v)  # a name, as _check reads it
            return as_arn(v)

        return table_arn
    return _compile_typed(shape_name, t, ok, lo, hi, plain)


def _compile_typed(shape_name: str, t: str, ok: tuple, lo, hi, plain: bool):
    shape = service_model()["shapes"][shape_name]
    intlike = t in ("integer", "long")
    if intlike:

        def typed(v: object) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)

    else:

        def typed(v: object) -> bool:
            return isinstance(v, ok)

    if plain:
        return typed
    if t == "string":
        enum = frozenset(shape["enum"]) if "enum" in shape else None
        match = _pattern(shape["pattern"]).fullmatch if "pattern" in shape else None

        def string(v: object) -> bool:
            if not isinstance(v, str) or (enum is not None and v not in enum):
                return False
            n = len(v)
            if (lo is not None and n < lo) or (hi is not None and n > hi):
                return False
            return match is None or match(v) is not None

        return string
    if t in ("integer", "long", "double"):

        def number(v: object) -> bool:
            return typed(v) and not ((lo is not None and v < lo) or (hi is not None and v > hi))  # type: ignore[operator]

        return number
    if t == "list":
        member = shape["member"]["shape"]

        def seq(v: object) -> bool:
            if not isinstance(v, ok):
                return False
            n = len(v)  # type: ignore[arg-type]
            if (lo is not None and n < lo) or (hi is not None and n > hi):
                return False
            each = _passer(member)
            return all(each(x) for x in v)  # type: ignore[union-attr]

        return seq
    if t == "map":
        vname = shape["value"]["shape"]
        vshape = service_model()["shapes"][vname]
        vlist = vshape["type"] == "list"
        vlo, vhi = vshape.get("min"), vshape.get("max")

        def mapping(v: object) -> bool:
            if not isinstance(v, dict) or (hi is not None and len(v) > hi):
                return False
            each = _passer(vname)
            for k, x in v.items():
                if not isinstance(k, str):
                    return False
                if vlist and isinstance(x, (list, tuple)):
                    n = len(x)
                    if (vlo is not None and n < vlo) or (vhi is not None and n > vhi):
                        return False
                    member = _passer(vshape["member"]["shape"])
                    if not all(member(y) for y in x):
                        return False
                elif not each(x):
                    return False
            return True

        return mapping
    if t == "structure":
        required = tuple(shape.get("required", ()))
        members = {name: m for name, (m, _) in _members(shape_name).items() if m not in _SKIP}

        def structure(v: object) -> bool:
            if not isinstance(v, dict):
                return False
            for name in required:
                if v.get(name) is None:
                    return False
            for name, x in v.items():
                m = members.get(name)
                if m is not None and x is not None and not _passer(m)(x):
                    return False
            return True

        return structure
    return typed  # a constrained blob or timestamp: _check checks only its type
