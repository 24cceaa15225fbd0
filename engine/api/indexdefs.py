"""Secondary index definitions on the wire: CreateTable's and UpdateTable's index parameters
checked with DynamoDB's messages, and index descriptions for DescribeTable.

Limits: 5 LSIs and 20 GSIs per table, 100 NonKeyAttributes across the table's indexes
(an attribute projected into two indexes counts twice). A GSI key schema is up to four
HASH attributes followed by up to four RANGE attributes (multi-attribute keys); a table's
and an LSI's is one HASH and at most one RANGE, and an LSI shares the table's HASH.
"""

from __future__ import annotations

from engine.errors import ValidationException
from engine.errors import msg_param_invalid as _p
from engine.table import IndexDef, TableDef

__all__ = [
    "MAX_GSIS",
    "MAX_LSIS",
    "MAX_NON_KEY",
    "describe_indexes",
    "parse_gsi",
    "parse_indexes",
    "wire_key_schema",
]

MAX_LSIS = 5
MAX_GSIS = 20
MAX_NON_KEY = 100
MAX_KEY_PARTS = 4


def _err(msg: str) -> ValidationException:
    return ValidationException(_p(msg))


def split_key_schema(schema: list, *, multi: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(HASH attribute names, RANGE attribute names) of a key schema, checked.

    ``multi``: a GSI's schema, which may name up to four of each (HASH ones first).
    """
    if schema[0]["KeyType"] != "HASH":
        raise ValidationException(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"
        )
    names = [e["AttributeName"] for e in schema]
    if len(names) == 2 and names[0] == names[1]:
        raise ValidationException(
            "Both the Hash Key and the Range Key element in the KeySchema have the same name"
        )
    if not multi:
        if len(schema) > 2:
            raise ValidationException(
                "1 validation error detected: Value at 'keySchema' failed to satisfy "
                "constraint: Member must have length less than or equal to 2"
            )
        if len(schema) == 2 and schema[1]["KeyType"] != "RANGE":
            raise ValidationException(
                "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type"
            )
        return (names[0],), tuple(names[1:])
    hashes: list[str] = []
    ranges: list[str] = []
    for e in schema:
        kind = e["KeyType"]
        if kind == "HASH":
            if ranges:
                raise ValidationException(
                    "Invalid KeySchema: HASH KeySchemaElements must all come before the "
                    "RANGE KeySchemaElements"
                )
            hashes.append(e["AttributeName"])
        elif kind == "RANGE":
            ranges.append(e["AttributeName"])
        else:
            raise ValidationException(f"Invalid KeySchema: Unknown KeyType: {kind}")
    if len(hashes) > MAX_KEY_PARTS or len(ranges) > MAX_KEY_PARTS:
        raise ValidationException(
            "Invalid KeySchema: A global secondary index key schema may have at most "
            f"{MAX_KEY_PARTS} HASH and {MAX_KEY_PARTS} RANGE KeySchemaElements"
        )
    if len(set(names)) != len(names):
        raise ValidationException(
            "Invalid KeySchema: Some KeySchemaElements name the same attribute"
        )
    return tuple(hashes), tuple(ranges)


def _projection(name: str, proj: dict) -> tuple[str, tuple[str, ...]]:
    kind = proj.get("ProjectionType")
    if kind is None:
        raise _err("Unknown ProjectionType: null")
    non_key = proj.get("NonKeyAttributes")
    if non_key is not None and kind != "INCLUDE":
        raise _err(f"ProjectionType is {kind}, but NonKeyAttributes is specified")
    if kind == "INCLUDE" and not non_key:
        # DynamoDB's words, as AWS answers (and as other emulators' AWS-checked suites hold)
        raise _err("ProjectionType is INCLUDE, but NonKeyAttributes is not specified")
    return kind, tuple(non_key or ())


def _throughput(name: str, spec: dict, billing_mode: str) -> tuple[int, int]:
    pt = spec.get("ProvisionedThroughput")
    if billing_mode == "PAY_PER_REQUEST":
        if pt is not None:
            raise _err(
                f"ProvisionedThroughput should not be specified for index: {name} when "
                "BillingMode is PAY_PER_REQUEST"
            )
        return 0, 0
    if pt is None:
        raise _err(f"ProvisionedThroughput must be specified for index: {name}")
    return pt["ReadCapacityUnits"], pt["WriteCapacityUnits"]


def _check_defined(spec: dict, attrs: dict[str, str]) -> None:
    """Every key attribute of an index must be in AttributeDefinitions."""
    keys = [e["AttributeName"] for e in spec["KeySchema"]]
    if any(k not in attrs for k in keys):
        raise _err(
            "Some index key attributes are not defined in AttributeDefinitions. "
            f"Keys: [{', '.join(keys)}], AttributeDefinitions: [{', '.join(attrs)}]"
        )


def parse_gsi(spec: dict, attrs: dict[str, str], billing_mode: str) -> IndexDef:
    """One GlobalSecondaryIndex (CreateTable) or Create action (UpdateTable)."""
    name = spec["IndexName"]
    _check_defined(spec, attrs)
    hashes, ranges = split_key_schema(spec["KeySchema"], multi=True)
    kind, non_key = _projection(name, spec["Projection"])
    r, w = _throughput(name, spec, billing_mode)
    return IndexDef(name, True, hashes, ranges, kind, non_key, read_units=r, write_units=w)


def parse_indexes(
    p: dict, attrs: dict[str, str], hash_key: str, range_key: str | None, billing_mode: str
) -> tuple[IndexDef, ...]:
    """The LocalSecondaryIndexes and GlobalSecondaryIndexes of a CreateTable request."""
    out: list[IndexDef] = []
    names: set[str] = set()
    lsis = p.get("LocalSecondaryIndexes")
    if lsis is not None:
        if not lsis:
            raise _err("List of LocalSecondaryIndexes is empty")
        if range_key is None:
            raise _err(
                "Table KeySchema does not have a range key, which is required when "
                "specifying a LocalSecondaryIndex"
            )
        for spec in lsis:
            name = spec["IndexName"]
            _check_defined(spec, attrs)
            hashes, ranges = split_key_schema(spec["KeySchema"], multi=False)
            if not ranges:
                raise _err(f"Index KeySchema does not have a range key for index: {name}")
            if hashes[0] != hash_key:
                raise _err(
                    "Index KeySchema does not have the same leading hash key as table "
                    f"KeySchema for index: {name}. index hash key: {hashes[0]}, table hash "
                    f"key: {hash_key}"
                )
            kind, non_key = _projection(name, spec["Projection"])
            if name in names:
                raise _err(f"Duplicate index name: {name}")
            names.add(name)
            out.append(IndexDef(name, False, hashes, ranges, kind, non_key))
        if len(lsis) > MAX_LSIS:
            raise _err(f"Number of LocalSecondaryIndexes exceeds per-table limit of {MAX_LSIS}")
    gsis = p.get("GlobalSecondaryIndexes")
    if gsis is not None:
        if not gsis:
            raise _err("List of GlobalSecondaryIndexes is empty")
        for spec in gsis:
            ix = parse_gsi(spec, attrs, billing_mode)
            if ix.name in names:
                raise _err(f"Duplicate index name: {ix.name}")
            names.add(ix.name)
            out.append(ix)
        if len(gsis) > MAX_GSIS:
            raise _err(f"GlobalSecondaryIndex count exceeds the per-table limit of {MAX_GSIS}")
    check_non_key_total(out)
    return tuple(out)


def check_non_key_total(indexes) -> None:
    total = sum(len(ix.non_key) for ix in indexes)
    if total > MAX_NON_KEY:
        raise _err(f"Number of projected attributes in all indexes exceeds limit of {MAX_NON_KEY}")


def wire_key_schema(hashes: tuple[str, ...], ranges: tuple[str, ...]) -> list[dict]:
    return [{"AttributeName": n, "KeyType": "HASH"} for n in hashes] + [
        {"AttributeName": n, "KeyType": "RANGE"} for n in ranges
    ]


def describe_indexes(d: TableDef, table_arn: str, counters) -> dict:
    """LocalSecondaryIndexes / GlobalSecondaryIndexes of a TableDescription.

    ``counters(ix)`` gives (ItemCount, IndexSizeBytes)."""
    out: dict = {}
    for ix in d.indexes:
        proj: dict = {"ProjectionType": ix.projection}
        if ix.non_key:
            proj["NonKeyAttributes"] = list(ix.non_key)
        count, size = counters(ix)
        desc: dict = {
            "IndexName": ix.name,
            "KeySchema": wire_key_schema(ix.hash_keys, ix.range_keys),
            "Projection": proj,
        }
        if ix.is_global:
            desc["IndexStatus"] = ix.status
            if ix.status == "CREATING":
                desc["Backfilling"] = True
            desc["ProvisionedThroughput"] = {
                "NumberOfDecreasesToday": 0,
                "ReadCapacityUnits": ix.read_units,
                "WriteCapacityUnits": ix.write_units,
            }
        desc["IndexSizeBytes"] = size
        desc["ItemCount"] = count
        desc["IndexArn"] = f"{table_arn}/index/{ix.name}"
        key = "GlobalSecondaryIndexes" if ix.is_global else "LocalSecondaryIndexes"
        out.setdefault(key, []).append(desc)
    return out
