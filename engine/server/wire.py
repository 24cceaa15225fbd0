"""DynamoDB JSON 1.0 on the wire: request bodies in, reply and error bodies out.

The handlers in engine.api speak Python values the way boto3 hands them over: ``bytes``
for blobs (``B``, ``BS`` and any blob member of the service model) and ``datetime`` for
timestamps. On the wire a blob is base64 text and a timestamp is epoch seconds. This
module converts between the two, guided by botocore's service model, so that the server
and the embedded client feed the handlers identical values:

- :func:`decode_body` undoes ``Content-Encoding`` (gzip, deflate) with a cap on the
  inflated size, parses the JSON with orjson and decodes blobs and timestamps in place.
  Anything that is not a JSON object, or not JSON at all (invalid UTF-8, nesting past the
  parser's limit), is a SerializationException.
- :func:`encode_reply` writes a reply dict as JSON, blobs as base64, datetimes as epoch
  seconds.
- :func:`encode_error` writes an engine.errors exception as DynamoDB does:
  ``{"__type": "com.amazonaws.dynamodb.v20120810#Code", "message": ...}`` plus the
  modeled members of the error (``Item`` of ConditionalCheckFailedException,
  ``CancellationReasons`` of TransactionCanceledException).

Protocol-level messages live in :data:`MESSAGES`, one table, so a rewording is one line.

Thread-safety: the converters are built once per operation under the GIL and read-only
afterwards; every function here may be called from any thread.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache

import orjson

from engine.api import service_model
from engine.errors import DynamoDBError, SerializationException

__all__ = [
    "ERROR_TYPE_PREFIX",
    "MAX_BODY_BYTES",
    "MESSAGES",
    "RequestTooLarge",
    "decode_body",
    "encode_error",
    "encode_error_body",
    "encode_reply",
]

ERROR_TYPE_PREFIX = "com.amazonaws.dynamodb.v20120810#"

# DynamoDB's largest request is a 16 MB BatchWriteItem; JSON and base64 overhead on top.
MAX_BODY_BYTES = 16 << 20

# AttributeValues nest at most 32 levels; a deeper value is refused by engine.model, so the
# blob walk need not go (or recurse) further than this.
_MAX_AV_DEPTH = 40

MESSAGES = {
    "not_json": "The request body is not valid JSON",
    "not_object": "Unexpected value type for request: expected structure",
    "bad_base64": "Base64 encoded blob value is not valid: {detail}",
    "bad_encoding": "Could not decode request body with Content-Encoding: {encoding}",
    "unsupported_encoding": "Unsupported Content-Encoding: {encoding}",
    "too_large": "Request size exceeded {limit} bytes",
    "bad_timestamp": "Timestamp value is not valid: {value}",
    "bad_http": "The request is not valid HTTP/1.1",
}


# ------------------------------------------------------------------------------ decoding


def _b64(v: object) -> object:
    if type(v) is not str:
        return v  # engine.model names the wrong type
    try:
        return base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SerializationException(MESSAGES["bad_base64"].format(detail=exc)) from None


def _timestamp(v: object) -> object:
    if type(v) in (int, float):
        try:
            return datetime.fromtimestamp(v, UTC)  # type: ignore[arg-type]
        except (OverflowError, OSError, ValueError):
            raise SerializationException(MESSAGES["bad_timestamp"].format(value=v)) from None
    return v


def _attribute_value(v: object, depth: int = 0) -> object:
    """Decode the blobs of one AttributeValue in place (and return it)."""
    if type(v) is not dict or depth > _MAX_AV_DEPTH:
        return v
    for tag, x in v.items():  # replacing a value of an existing key is safe while iterating
        if tag == "B":
            v["B"] = _b64(x)
        elif tag == "BS":
            if type(x) is list:
                v["BS"] = [_b64(y) for y in x]
        elif tag == "M":
            if type(x) is dict:
                for y in x.values():
                    _attribute_value(y, depth + 1)
        elif tag == "L" and type(x) is list:
            for y in x:
                _attribute_value(y, depth + 1)
    return v


Converter = Callable[[object], object]


def _structure(members: dict[str, Converter]) -> Converter:
    def convert(v: object) -> object:
        if type(v) is dict:
            for name, conv in members.items():
                x = v.get(name)
                if x is not None:
                    v[name] = conv(x)
        return v

    return convert


def _list(member: Converter) -> Converter:
    def convert(v: object) -> object:
        if type(v) is list:
            for i, x in enumerate(v):
                v[i] = member(x)
        return v

    return convert


def _map(value: Converter) -> Converter:
    def convert(v: object) -> object:
        if type(v) is dict:
            for k, x in v.items():
                v[k] = value(x)
        return v

    return convert


def _converter(shape_name: str, shapes: dict, seen: frozenset = frozenset()) -> Converter | None:
    """A function decoding the blobs and timestamps of a value of ``shape_name`` in place,
    or None when the shape holds neither."""
    if shape_name == "AttributeValue":
        return _attribute_value
    if shape_name in seen:
        return None  # recursion other than AttributeValue's holds nothing to convert
    shape = shapes[shape_name]
    t = shape["type"]
    seen = seen | {shape_name}
    if t == "blob":
        return _b64
    if t == "timestamp":
        return _timestamp
    if t == "list":
        member = _converter(shape["member"]["shape"], shapes, seen)
        return _list(member) if member else None
    if t == "map":
        value = _converter(shape["value"]["shape"], shapes, seen)
        return _map(value) if value else None
    if t == "structure":
        members = {}
        for name, m in shape["members"].items():
            conv = _converter(m["shape"], shapes, seen)
            if conv is not None:
                members[name] = conv
        return _structure(members) if members else None
    return None


def _outside_values(shape_name: str, shapes: dict, seen: frozenset = frozenset()) -> bool:
    """Whether a value of ``shape_name`` can hold a blob or timestamp that is not inside
    an AttributeValue."""
    if shape_name == "AttributeValue" or shape_name in seen:
        return False
    shape = shapes[shape_name]
    t = shape["type"]
    seen = seen | {shape_name}
    if t in ("blob", "timestamp"):
        return True
    if t == "list":
        return _outside_values(shape["member"]["shape"], shapes, seen)
    if t == "map":
        return _outside_values(shape["value"]["shape"], shapes, seen)
    if t == "structure":
        return any(_outside_values(m["shape"], shapes, seen) for m in shape["members"].values())
    return False


@cache
def _input_converter(operation: str) -> tuple[Converter | None, bool]:
    """The converter of ``operation``'s input, and whether everything it converts is
    inside AttributeValues (whose blobs are tagged ``"B"`` or ``"BS"``)."""
    model = service_model()
    op = model["operations"].get(operation)
    if op is None or "input" not in op:
        return None, False
    shape, shapes = op["input"]["shape"], model["shapes"]
    return _converter(shape, shapes), not _outside_values(shape, shapes)


class RequestTooLarge(Exception):
    """A request body (inflated, if compressed) longer than the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(MESSAGES["too_large"].format(limit=limit))
        self.limit = limit


def _inflate(body: bytes, encoding: str, limit: int) -> bytes:
    if encoding == "gzip":
        attempts = (31,)
    elif encoding == "deflate":
        attempts = (15, -15)  # zlib-wrapped as RFC 9110 says, or raw as some clients send
    else:
        raise SerializationException(MESSAGES["unsupported_encoding"].format(encoding=encoding))
    for wbits in attempts:
        d = zlib.decompressobj(wbits)
        try:
            out = d.decompress(body, limit + 1)
        except zlib.error:
            continue
        if len(out) > limit:
            raise RequestTooLarge(limit)
        if not d.eof:
            break
        return out
    raise SerializationException(MESSAGES["bad_encoding"].format(encoding=encoding))


def decode_body(
    body: bytes, operation: str, encoding: str = "", limit: int = MAX_BODY_BYTES
) -> dict:
    """The request parameters of ``body`` (raw bytes as received).

    ``encoding`` is the Content-Encoding header ("" for none). Raises
    SerializationException for anything that is not a JSON object, and RequestTooLarge
    when the inflated body exceeds ``limit`` bytes.
    """
    if encoding and encoding != "identity":
        body = _inflate(body, encoding, limit)
    if not body.strip():
        params: object = {}
    else:
        try:
            params = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise SerializationException(MESSAGES["not_json"]) from None
    if type(params) is not dict:
        raise SerializationException(MESSAGES["not_object"])
    convert, values_only = _input_converter(operation)
    # Most bodies hold no blob. When an operation's only blobs are AttributeValues'
    # (tagged "B" or "BS"), a body with no ``"B`` and no escape at all holds none: the two
    # byte scans cost half the walk of a small PutItem, and grow far slower with the item
    # than the walk does.
    if convert is not None and (not values_only or b'"B' in body or b"\\" in body):
        convert(params)
    return params


# ------------------------------------------------------------------------------ encoding


def _default(v: object) -> object:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return base64.b64encode(v).decode("ascii")
    if isinstance(v, datetime):
        return v.timestamp()
    if isinstance(v, (set, frozenset, tuple)):
        return list(v)
    raise TypeError(f"cannot encode {type(v).__name__}")


_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME


def encode_reply(reply: dict) -> bytes:
    """A handler's reply as the JSON body DynamoDB sends. Raises TypeError or
    orjson.JSONEncodeError for a value with no wire form (an internal error)."""
    return orjson.dumps(reply, default=_default, option=_OPTIONS)


def encode_error_body(code: str, message: str, **members: object) -> bytes:
    """An error body for ``code``; ``members`` are the error's modeled members."""
    body: dict = {"__type": ERROR_TYPE_PREFIX + code, "message": message}
    body.update(members)
    try:
        return orjson.dumps(body, default=_default, option=_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):
        return orjson.dumps({"__type": ERROR_TYPE_PREFIX + code, "message": message})


def encode_error(err: DynamoDBError) -> bytes:
    """``err`` as DynamoDB's error body."""
    members: dict = {}
    item = getattr(err, "item", None)
    if item is not None:
        members["Item"] = item
    reasons = getattr(err, "cancellation_reasons", None)
    if reasons:
        members["CancellationReasons"] = reasons
    return encode_error_body(err.code, err.message, **members)
