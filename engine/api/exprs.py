"""A request's expressions or legacy conditional parameters, as one PreparedExpressions."""

from __future__ import annotations

from engine.expr import (
    CONDITION,
    PreparedExpressions,
    check_not_mixed,
    prepare,
    prepare_legacy,
)

__all__ = ["prepare_request"]

_LEGACY = (
    "AttributesToGet",
    "AttributeUpdates",
    "ConditionalOperator",
    "Expected",
    "KeyConditions",
    "QueryFilter",
    "ScanFilter",
)
_MODERN = (
    "ConditionExpression",
    "FilterExpression",
    "KeyConditionExpression",
    "ProjectionExpression",
    "UpdateExpression",
    "ExpressionAttributeNames",
    "ExpressionAttributeValues",
)

_ANY = frozenset(_LEGACY + _MODERN)


def prepare_request(
    p: dict, value_kinds: tuple[str, ...] = (CONDITION,)
) -> PreparedExpressions | None:
    """Validate and bind the expressions (or legacy parameters) of request ``p``; None if it
    has neither. Raises ValidationException with DynamoDB's messages."""
    if not p.keys() & _ANY:
        return None  # the common case of a plain write or read: nothing to prepare
    present = {k for k, v in p.items() if v is not None}
    check_not_mixed(present)
    if any(k in present for k in _LEGACY):
        return prepare_legacy(
            expected=p.get("Expected"),
            attribute_updates=p.get("AttributeUpdates"),
            key_conditions=p.get("KeyConditions"),
            query_filter=p.get("QueryFilter"),
            scan_filter=p.get("ScanFilter"),
            attributes_to_get=p.get("AttributesToGet"),
            conditional_operator=p.get("ConditionalOperator"),
        )
    if not any(k in present for k in _MODERN):
        return None
    return prepare(
        names=p.get("ExpressionAttributeNames"),
        values=p.get("ExpressionAttributeValues"),
        condition=p.get("ConditionExpression"),
        filter=p.get("FilterExpression"),
        key_condition=p.get("KeyConditionExpression"),
        update=p.get("UpdateExpression"),
        projection=p.get("ProjectionExpression"),
        value_kinds=value_kinds,
    )
