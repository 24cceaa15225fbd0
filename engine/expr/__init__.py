"""DynamoDB's expression language: one grammar for the five expression kinds.

Public surface:
- prepare(...) -> PreparedExpressions: a request's expressions, names and values validated and
  bound in DynamoDB's order, with check_condition / matches_filter / apply_update / project.
- bind(kind, text, names) -> BoundExpression; parse(kind, text) -> ParsedExpression (cached).
- analyze_key_condition(root, hash_key, range_key) -> KeyCondition (Query's key range);
  key_condition_values(kc, values, hash_type, range_type) checks the values' types.
- apply_update, check_key_not_updated, updated_paths, compile_condition, project, get_path:
  the pieces (updated_paths + project give ReturnValues UPDATED_OLD / UPDATED_NEW).
- prepare_legacy(...) / check_not_mixed(params): Expected, AttributeUpdates, KeyConditions,
  QueryFilter, ScanFilter, AttributesToGet and ConditionalOperator as the same trees.
- Kind names: CONDITION, FILTER, KEY_CONDITION, UPDATE, PROJECTION; RESERVED_WORDS.
"""

from engine.expr.evaluate import compile_condition, get_path, project
from engine.expr.keycond import (
    IndexKeyCondition,
    KeyCondition,
    analyze_index_key_condition,
    analyze_key_condition,
    index_key_condition_values,
    key_condition_values,
    top_level_names,
)
from engine.expr.legacy import check_not_mixed, prepare_legacy
from engine.expr.parser import (
    CONDITION,
    FILTER,
    KEY_CONDITION,
    PROJECTION,
    UPDATE,
    ParsedExpression,
    parse,
)
from engine.expr.request import BoundExpression, PreparedExpressions, bind, prepare
from engine.expr.reserved import RESERVED_WORDS
from engine.expr.update import apply_update, check_key_not_updated, updated_paths

__all__ = [
    "CONDITION",
    "FILTER",
    "KEY_CONDITION",
    "PROJECTION",
    "RESERVED_WORDS",
    "UPDATE",
    "BoundExpression",
    "IndexKeyCondition",
    "KeyCondition",
    "ParsedExpression",
    "PreparedExpressions",
    "analyze_index_key_condition",
    "analyze_key_condition",
    "apply_update",
    "bind",
    "check_key_not_updated",
    "check_not_mixed",
    "compile_condition",
    "get_path",
    "index_key_condition_values",
    "key_condition_values",
    "parse",
    "prepare",
    "prepare_legacy",
    "project",
    "top_level_names",
    "updated_paths",
]
