"""The embedded client: DynamoDB in-process, shaped like boto3's client and resource.

    import engine
    ddb = engine.connect("data", durability="off")
    ddb.create_table(TableName="t", KeySchema=[...], AttributeDefinitions=[...],
                     BillingMode="PAY_PER_REQUEST")
    ddb.put_item(TableName="t", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    try:
        ddb.put_item(TableName="t", Item=..., ConditionExpression="attribute_not_exists(pk)")
    except ddb.exceptions.ConditionalCheckFailedException as exc:
        exc.response["Error"]["Code"]          # as with boto3
    table = ddb.Table("t")                     # native Python values, like boto3.resource
    table.put_item(Item={"pk": "a", "n": 1})
    for item in table.iter_query(KeyConditionExpression="pk = :p",
                                 ExpressionAttributeValues={":p": "a"}): ...
    ddb.close()

Every method of boto3's DynamoDB client that ShaleDB implements exists here under the same
snake_case name, takes the same keyword arguments and returns the same dict (with
ResponseMetadata). A request the service refuses as invalid is checked again with
botocore's own ParamValidator, so the mistakes boto3 catches client-side raise the same
ParamValidationError as with boto3. Errors are raised as classes
that derive both from the engine.errors class of the code and from botocore's ClientError,
so ``except ClientError``, ``except client.exceptions.X`` and ``except engine.errors.X``
all work.

Thread-safety: a client may be shared by any number of threads.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from decimal import Decimal
from functools import lru_cache

from engine.api import Service, service_model
from engine.errors import (
    ERRORS_BY_CODE,
    DynamoDBError,
    SerializationException,
    ValidationException,
)
from engine.storage import Store

__all__ = ["BatchWriter", "Client", "TableHandle", "connect", "deserialize", "serialize"]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@lru_cache(maxsize=1)
def _botocore_validation() -> tuple:
    """(ServiceModel, ParamValidator), imported on the first refused request only: they
    cost a tenth of a second to import and `import engine` should stay fast."""
    from botocore.model import ServiceModel
    from botocore.validate import ParamValidator

    return ServiceModel(service_model(), "dynamodb"), ParamValidator()


def _param_validation_error(report: str) -> Exception:
    from botocore.exceptions import ParamValidationError

    return ParamValidationError(report=report)


@lru_cache(maxsize=1)
def _client_error_classes() -> dict[str, type]:
    """One class per error code deriving from engine.errors' class and botocore's
    ClientError. Built on first use: botocore.exceptions pulls in an HTTP stack whose
    import would triple the time of ``import engine``."""
    from botocore.exceptions import ClientError

    out: dict[str, type] = {"ClientError": ClientError}
    for code, cls in ERRORS_BY_CODE.items():
        out[code] = type(code, (cls, ClientError), {"__module__": __name__})
    return out


class _Exceptions:
    """``client.exceptions.<Code>`` as with boto3, plus ClientError."""

    def __init__(self) -> None:
        for code, cls in _client_error_classes().items():
            setattr(self, code, cls)


def _as_client_error(err: DynamoDBError, operation: str) -> Exception:
    classes = _client_error_classes()
    cls = classes.get(err.code) or classes["InternalServerError"]
    response: dict = {
        "Error": {"Code": err.code, "Message": err.message},
        "ResponseMetadata": {"HTTPStatusCode": err.http_status, "RetryAttempts": 0},
        "message": err.message,
    }
    item = getattr(err, "item", None)
    if item is not None:
        response["Item"] = item
    reasons = getattr(err, "cancellation_reasons", None)
    if reasons:
        response["CancellationReasons"] = reasons
    exc = cls.__new__(cls)
    classes["ClientError"].__init__(exc, response, operation)
    exc.__dict__.update(err.__dict__)
    return exc


class _Paginator:
    _TOKENS = {
        "Query": ("LastEvaluatedKey", "ExclusiveStartKey"),
        "Scan": ("LastEvaluatedKey", "ExclusiveStartKey"),
        "ListTables": ("LastEvaluatedTableName", "ExclusiveStartTableName"),
    }

    def __init__(self, client: Client, operation: str) -> None:
        self._client = client
        self._operation = operation

    def paginate(self, **params: object) -> Iterator[dict]:
        out_key, in_key = self._TOKENS[self._operation]
        params = dict(params)
        while True:
            page = self._client._call(self._operation, params)
            yield page
            token = page.get(out_key)
            if token is None:
                return
            params[in_key] = token


class Client:
    """A boto3-shaped DynamoDB client over an embedded store."""

    def __init__(
        self,
        store: Store,
        *,
        owns_store: bool = True,
        validate: bool = True,
        **service_options: object,
    ) -> None:
        self.store = store
        self.service = Service(store, **service_options)  # type: ignore[arg-type]
        self.exceptions = _Exceptions()
        self._owns_store = owns_store
        self._validate = validate
        self._ids = itertools.count(1)

    def _call(self, operation: str, params: dict) -> dict:
        try:
            reply = self.service.handle(operation, params)
        except (ValidationException, SerializationException) as err:
            # Every mistake botocore's ParamValidator catches (a missing member, a wrong
            # type, a short string) the service refuses too, before it changes anything; so
            # boto3's client-side check runs only on refused requests, off the fast path.
            if self._validate:
                model, validator = _botocore_validation()
                shape = model.operation_model(operation).input_shape
                report = validator.validate(params, shape)
                if report.has_errors():
                    raise _param_validation_error(report.generate_report()) from None
            raise _as_client_error(err, operation) from None
        except DynamoDBError as err:
            raise _as_client_error(err, operation) from None
        reply["ResponseMetadata"] = {
            "RequestId": f"SHALE{next(self._ids):016d}",
            "HTTPStatusCode": 200,
            "HTTPHeaders": {},
            "RetryAttempts": 0,
        }
        return reply

    def can_paginate(self, operation_name: str) -> bool:
        return operation_name in ("query", "scan", "list_tables")

    def get_paginator(self, operation_name: str) -> _Paginator:
        op = {"query": "Query", "scan": "Scan", "list_tables": "ListTables"}.get(operation_name)
        if op is None:
            raise ValueError(f"Operation cannot be paginated: {operation_name}")
        return _Paginator(self, op)

    def Table(self, name: str) -> TableHandle:  # boto3.resource spelling
        return TableHandle(self, name)

    def close(self) -> None:
        self.service.close()
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _method(operation: str):
    def call(self: Client, **params: object) -> dict:
        return self._call(operation, params)

    call.__name__ = _snake(operation)
    call.__doc__ = f"DynamoDB {operation}, as boto3's client.{_snake(operation)}."
    return call


for _op in Service.operations():
    setattr(Client, _snake(_op), _method(_op))


def connect(path: str, **options: object) -> Client:
    """Open (or create) the database at ``path`` and return a client for it.

    ``options`` are Store options (durability="sync"|"group"|"off", memtable_bytes, ...) and
    the service's (region, account_id, endpoint_address). Close the client to close the store.
    """
    service_keys = {"region", "account_id", "endpoint_address", "clock", "validate"}
    service_options = {k: v for k, v in options.items() if k in service_keys}
    store = Store.open(path, **{k: v for k, v in options.items() if k not in service_keys})
    return Client(store, **service_options)  # type: ignore[arg-type]


# ------------------------------------------------------------------ native Python values


def serialize(value: object) -> dict:
    """A Python value as an AttributeValue, the way boto3's TypeSerializer does it."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, Decimal)):
        return {"N": str(value)}
    if isinstance(value, float):
        raise TypeError("Float types are not supported. Use Decimal types instead.")
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (bytes, bytearray)):
        return {"B": bytes(value)}
    if isinstance(value, (set, frozenset)):
        if all(isinstance(v, str) for v in value):
            return {"SS": sorted(value)}
        if all(isinstance(v, (int, Decimal)) and not isinstance(v, bool) for v in value):
            return {"NS": [str(v) for v in value]}
        if all(isinstance(v, (bytes, bytearray)) for v in value):
            return {"BS": [bytes(v) for v in value]}
        raise TypeError(f"Unsupported set: {value!r}")
    if isinstance(value, dict):
        return {"M": {k: serialize(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"L": [serialize(v) for v in value]}
    raise TypeError(f"Unsupported type {type(value).__name__} for value {value!r}")


def deserialize(av: dict) -> object:
    """An AttributeValue as a Python value (numbers as Decimal, as boto3 does)."""
    ((tag, v),) = av.items()
    if tag == "S" or tag == "B" or tag == "BOOL":
        return v
    if tag == "N":
        return Decimal(v)
    if tag == "NULL":
        return None
    if tag == "M":
        return {k: deserialize(x) for k, x in v.items()}
    if tag == "L":
        return [deserialize(x) for x in v]
    if tag == "SS" or tag == "BS":
        return set(v)
    if tag == "NS":
        return {Decimal(x) for x in v}
    raise TypeError(f"Unknown AttributeValue type {tag}")


def _ser_map(m: dict) -> dict:
    return {k: serialize(v) for k, v in m.items()}


def _de_map(m: dict) -> dict:
    return {k: deserialize(v) for k, v in m.items()}


_IN_MAPS = ("Item", "Key", "ExclusiveStartKey", "ExpressionAttributeValues")
_OUT_MAPS = ("Item", "Attributes", "LastEvaluatedKey")
_CONDITIONS = ("KeyConditionExpression", "FilterExpression", "ConditionExpression")


def _build_conditions(params: dict) -> dict:
    """Turn boto3 condition objects (Key/Attr) into expressions, names and values."""
    if all(params.get(k) is None or type(params.get(k)) is str for k in _CONDITIONS):
        return params
    # boto3 is optional and slow to import: only a request carrying its objects needs it.
    from boto3.dynamodb.conditions import ConditionBase, ConditionExpressionBuilder

    params = dict(params)
    builder = ConditionExpressionBuilder()
    names = dict(params.get("ExpressionAttributeNames") or {})
    values = dict(params.get("ExpressionAttributeValues") or {})
    for k in _CONDITIONS:
        cond = params.get(k)
        if isinstance(cond, ConditionBase):
            built = builder.build_expression(cond, is_key_condition=k == _CONDITIONS[0])
            params[k] = built.condition_expression
            names.update(built.attribute_name_placeholders)
            values.update(built.attribute_value_placeholders)
    if names:
        params["ExpressionAttributeNames"] = names
    if values:
        params["ExpressionAttributeValues"] = values
    return params


class BatchWriter:
    """Buffers puts and deletes into BatchWriteItem calls of 25, resending unprocessed
    items, like boto3's ``Table.batch_writer()``. Use as a context manager."""

    def __init__(self, table: TableHandle) -> None:
        self._table = table
        self._buffer: list[dict] = []

    def put_item(self, Item: dict) -> None:
        self._buffer.append({"PutRequest": {"Item": _ser_map(Item)}})
        if len(self._buffer) >= 25:
            self._flush()

    def delete_item(self, Key: dict) -> None:
        self._buffer.append({"DeleteRequest": {"Key": _ser_map(Key)}})
        if len(self._buffer) >= 25:
            self._flush()

    def _flush(self) -> None:
        name = self._table.name
        while self._buffer:
            batch, self._buffer = self._buffer[:25], self._buffer[25:]
            reply = self._table.client._call("BatchWriteItem", {"RequestItems": {name: batch}})
            self._buffer = reply["UnprocessedItems"].get(name, []) + self._buffer

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._flush()


class TableHandle:
    """One table with native Python values, like ``boto3.resource("dynamodb").Table(name)``."""

    def __init__(self, client: Client, name: str) -> None:
        self.client = client
        self.name = name

    def _call(self, operation: str, params: dict) -> dict:
        params = _build_conditions(params)
        p = {k: (_ser_map(v) if k in _IN_MAPS else v) for k, v in params.items()}
        p["TableName"] = self.name
        reply = self.client._call(operation, p)
        for k in _OUT_MAPS:
            if k in reply:
                reply[k] = _de_map(reply[k])
        if "Items" in reply:
            reply["Items"] = [_de_map(i) for i in reply["Items"]]
        return reply

    def put_item(self, **params: object) -> dict:
        return self._call("PutItem", params)

    def get_item(self, **params: object) -> dict:
        return self._call("GetItem", params)

    def update_item(self, **params: object) -> dict:
        return self._call("UpdateItem", params)

    def delete_item(self, **params: object) -> dict:
        return self._call("DeleteItem", params)

    def query(self, **params: object) -> dict:
        return self._call("Query", params)

    def scan(self, **params: object) -> dict:
        return self._call("Scan", params)

    def _iter(self, operation: str, params: dict) -> Iterator[dict]:
        params = dict(params)
        while True:
            page = self._call(operation, params)
            yield from page.get("Items", ())
            last = page.get("LastEvaluatedKey")
            if last is None:
                return
            params["ExclusiveStartKey"] = last

    def iter_query(self, **params: object) -> Iterator[dict]:
        """Every item of a Query, page after page."""
        return self._iter("Query", params)

    def iter_scan(self, **params: object) -> Iterator[dict]:
        """Every item of a Scan, page after page."""
        return self._iter("Scan", params)

    def describe(self) -> dict:
        return self.client._call("DescribeTable", {"TableName": self.name})["Table"]

    def batch_writer(self) -> BatchWriter:
        """A BatchWriter for this table (``with table.batch_writer() as w: w.put_item(...)``)."""
        return BatchWriter(self)
