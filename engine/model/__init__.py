"""DynamoDB's item model: AttributeValue types, validation, numbers, item size, item codec.

Public surface (import from here, not from the submodules):
- validate_item / validate_value / validate_key_value: check request values, return normalised;
  validate_sized_item: validate_item and item_size in one pass (the caller checks 400 KB).
- normalize_number / add_numbers / subtract_numbers / number_key: DynamoDB numbers.
- item_size / value_size / check_item_size / MAX_ITEM_SIZE_BYTES: DynamoDB's sizing rules.
- encode_item / decode_item: the compact binary item codec (one storage value per item);
  encode_sized_item / decode_sized_item: a table base value (size u32 LE | item) in one call;
  decode_page: a page of table base values (a read's loop) in one call.
- compare_values / values_equal: DynamoDB's ordering and equality of values.
"""

from engine.model.compare import compare_values, values_equal
from engine.model.itemcodec import (
    decode_item,
    decode_page,
    decode_sized_item,
    encode_item,
    encode_sized_item,
)
from engine.model.numbers import add_numbers, normalize_number, number_key, subtract_numbers
from engine.model.size import MAX_ITEM_SIZE_BYTES, check_item_size, item_size, value_size
from engine.model.values import (
    KEY_TYPES,
    MAX_NESTING_DEPTH,
    MAX_PARTITION_KEY_BYTES,
    MAX_SORT_KEY_BYTES,
    SET_TYPES,
    TYPES,
    validate_item,
    validate_key_value,
    validate_sized_item,
    validate_value,
    value_type,
)

__all__ = [
    "KEY_TYPES",
    "MAX_ITEM_SIZE_BYTES",
    "MAX_NESTING_DEPTH",
    "MAX_PARTITION_KEY_BYTES",
    "MAX_SORT_KEY_BYTES",
    "SET_TYPES",
    "TYPES",
    "add_numbers",
    "check_item_size",
    "compare_values",
    "decode_item",
    "decode_page",
    "decode_sized_item",
    "encode_item",
    "encode_sized_item",
    "item_size",
    "normalize_number",
    "number_key",
    "subtract_numbers",
    "validate_item",
    "validate_key_value",
    "validate_sized_item",
    "validate_value",
    "value_size",
    "value_type",
    "values_equal",
]
