"""AttributeValue types and their validation, with DynamoDB's errors and messages.

Values use boto3's low-level shape: a one-key dict naming the type, ``{"S": str}``,
``{"N": str}``, ``{"B": bytes}``, ``{"SS": [str]}``, ``{"NS": [str]}``, ``{"BS": [bytes]}``,
``{"M": {name: value}}``, ``{"L": [value]}``, ``{"NULL": True}``, ``{"BOOL": bool}``.
An *item* is a dict of attribute name to value.

:func:`validate_item` and :func:`validate_value` check a request's values and return them
*normalised*: numbers in DynamoDB's canonical text (see :mod:`engine.model.numbers`), everything
else unchanged. Invariants of a normalised value, relied on by the item codec, the key codec and
the expression evaluator: numbers are canonical; sets are non-empty and free of duplicates (equal
numbers are duplicates however written); nesting is at most 32 levels; B values are ``bytes``.

Key attributes (:func:`validate_key_value`) must also be S, N or B, non-empty, with partition key
values up to 2048 bytes and sort key values up to 1024 bytes. Pure functions; thread-safe.

:func:`validate_item` and :func:`validate_sized_item` are native (csrc/itemcodec.c): C checks
the common values (S, canonical N, B, BOOL, NULL) and shares them with the input as they need no
normalising; every other value goes through :func:`validate_value` here, so errors and their
order are the Python ones by construction. :func:`validate_item_py` is the whole-item Python
specification, which property tests compare the native one with.
"""

from __future__ import annotations

import base64

from engine.codec.native_items import validate_item, validate_sized_item
from engine.errors import SerializationException, ValidationException, msg_key_empty
from engine.errors import msg_param_invalid as _p
from engine.model.numbers import normalize_number
from engine.model.size import number_size

__all__ = [
    "KEY_TYPES",
    "MAX_NESTING_DEPTH",
    "MAX_PARTITION_KEY_BYTES",
    "MAX_SORT_KEY_BYTES",
    "SCALAR_TYPES",
    "SET_TYPES",
    "TYPES",
    "validate_item",
    "validate_item_py",
    "validate_key_value",
    "validate_sized_item",
    "validate_value",
    "value_type",
]

TYPES = frozenset(("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"))
SCALAR_TYPES = frozenset(("S", "N", "B"))
KEY_TYPES = SCALAR_TYPES
SET_TYPES = frozenset(("SS", "NS", "BS"))
MAX_NESTING_DEPTH = 32
MAX_PARTITION_KEY_BYTES = 2048
MAX_SORT_KEY_BYTES = 1024

_SET_WORD = {"SS": "string", "NS": "number", "BS": "binary"}
_JSON_KIND = {
    str: "STRING_VALUE",
    bool: "BOOLEAN_VALUE",
    int: "NUMBER_VALUE",
    float: "NUMBER_VALUE",
    list: "START_ARRAY",
    dict: "START_OBJECT",
    type(None): "VALUE_NULL",
    bytes: "BLOB_VALUE",
    bytearray: "BLOB_VALUE",
}

MSG_EMPTY_VALUE = (
    "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
)
MSG_MANY_TYPES = (
    "Supplied AttributeValue has more than one datatypes set, "
    "must contain exactly one of the supported datatypes"
)
MSG_NULL_FALSE = "Null attribute value types must have the value of true"
MSG_NESTING = "Nesting Levels have exceeded supported limits"


def value_type(value: dict) -> str:
    """The type tag of a (valid) AttributeValue: ``value_type({"S": "x"}) == "S"``."""
    for tag in value:
        return tag
    raise ValidationException(_p(MSG_EMPTY_VALUE))


def _serialization(got: object, want: str) -> SerializationException:
    kind = _JSON_KIND.get(type(got), type(got).__name__)
    return SerializationException(f"{kind} cannot be converted to {want}")


def _fmt_member(m: object) -> str:
    if isinstance(m, (bytes, bytearray)):
        return base64.b64encode(bytes(m)).decode()
    return str(m)


def _check_set(tag: str, members: object) -> list:
    if not isinstance(members, list):
        raise _serialization(members, "List")
    if not members:
        raise ValidationException(_p(f"An {_SET_WORD[tag]} set  may not be empty"))
    if tag == "SS":
        for m in members:
            if type(m) is not str:
                raise _serialization(m, "String")
        out = members
        unique = len(set(out))
    elif tag == "NS":
        out = []
        for m in members:
            if type(m) is not str:
                raise _serialization(m, "String")
            out.append(normalize_number(m))
        unique = len(set(out))
    else:
        out = []
        for m in members:
            if isinstance(m, bytearray):
                m = bytes(m)
            if type(m) is not bytes:
                raise _serialization(m, "Blob")
            out.append(m)
        unique = len(set(out))
    if unique != len(out):
        listed = ", ".join(_fmt_member(m) for m in members)
        raise ValidationException(_p(f"Input collection [{listed}] contains duplicates."))
    return out


def validate_value(value: object, depth: int = 0) -> dict:
    """Validate one AttributeValue and return it normalised.

    ``depth`` is the number of enclosing M/L levels. Raises ValidationException (DynamoDB's
    messages) or SerializationException for values of the wrong Python type.
    """
    if type(value) is not dict:
        raise _serialization(value, "AttributeValue")
    if len(value) != 1:
        raise ValidationException(_p(MSG_EMPTY_VALUE if not value else MSG_MANY_TYPES))
    ((tag, v),) = value.items()
    if tag == "S":
        if type(v) is not str:
            raise _serialization(v, "String")
        return value
    if tag == "N":
        if type(v) is not str:
            raise _serialization(v, "String")
        n = normalize_number(v)
        return value if n is v else {"N": n}
    if tag == "B":
        if isinstance(v, bytearray):
            return {"B": bytes(v)}
        if type(v) is not bytes:
            raise _serialization(v, "Blob")
        return value
    if tag == "BOOL":
        if type(v) is not bool:
            raise _serialization(v, "Boolean")
        return value
    if tag == "NULL":
        if type(v) is not bool:
            raise _serialization(v, "Boolean")
        if not v:
            raise ValidationException(_p(MSG_NULL_FALSE))
        return value
    if tag == "M":
        if type(v) is not dict:
            raise _serialization(v, "Map")
        if depth >= MAX_NESTING_DEPTH:
            raise ValidationException(MSG_NESTING)
        out = {}
        for name, member in v.items():
            if type(name) is not str:
                raise _serialization(name, "String")
            out[name] = validate_value(member, depth + 1)
        return {"M": out}
    if tag == "L":
        if type(v) is not list:
            raise _serialization(v, "List")
        if depth >= MAX_NESTING_DEPTH:
            raise ValidationException(MSG_NESTING)
        return {"L": [validate_value(member, depth + 1) for member in v]}
    if tag in _SET_WORD:
        members = _check_set(tag, v)
        return value if members is v else {tag: members}
    raise SerializationException(f"Unknown AttributeValue type: {tag}")


def validate_item_py(item: object) -> dict:
    """Validate a whole item (attribute name -> value) and return it normalised: the Python
    twin of :func:`validate_item`. ``validate_sized_item(item)`` returns ``(validate_item(item),
    item_size(...))`` in one pass and leaves the 400 KB check to the caller, which DynamoDB
    makes after checking the key."""
    if type(item) is not dict:
        raise _serialization(item, "Map")
    out = {}
    for name, value in item.items():
        if type(name) is not str:
            raise _serialization(name, "String")
        # Fast path for the commonest attribute, a string: nothing to normalise.
        if type(value) is dict and len(value) == 1 and type(value.get("S")) is str:
            out[name] = value
        else:
            out[name] = validate_value(value)
    return out


def validate_key_value(name: str, value: dict, expected_type: str, is_partition_key: bool) -> None:
    """Check a normalised value of key attribute ``name`` against the key schema.

    Raises ValidationException for a type mismatch, an empty S or B, or a value larger than 2048
    bytes (partition key) or 1024 bytes (sort key).
    """
    v = value.get(expected_type)
    if type(v) is str and len(value) == 1 and expected_type != "B":
        # The common case, an S or N of the right type, without the general path's lookups.
        if expected_type == "S":
            size = len(v) if v.isascii() else len(v.encode("utf-8", "surrogatepass"))
            if not size:
                raise ValidationException(msg_key_empty("string", name))
        else:
            size = number_size(v)
        if size > (MAX_PARTITION_KEY_BYTES if is_partition_key else MAX_SORT_KEY_BYTES):
            _raise_key_too_large(is_partition_key)
        return
    tag = value_type(value)
    if tag != expected_type:
        raise ValidationException(
            _p(f"Type mismatch for key {name} expected: {expected_type} actual: {tag}")
        )
    v = value[tag]
    if tag == "S":
        size = len(v) if v.isascii() else len(v.encode("utf-8", "surrogatepass"))
        if not size:
            raise ValidationException(msg_key_empty("string", name))
    elif tag == "B":
        size = len(v)
        if not size:
            raise ValidationException(msg_key_empty("binary", name))
    else:
        size = number_size(v)
    if size > (MAX_PARTITION_KEY_BYTES if is_partition_key else MAX_SORT_KEY_BYTES):
        _raise_key_too_large(is_partition_key)


def _raise_key_too_large(is_partition_key: bool) -> None:
    if is_partition_key:
        raise ValidationException(
            _p("Size of hashkey has exceeded the maximum size limit of2048 bytes")
        )
    raise ValidationException(
        _p("Aggregated size of all range keys has exceeded the size limit of 1024 bytes")
    )
