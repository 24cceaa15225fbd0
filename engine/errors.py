"""DynamoDB's errors as Python exceptions.

One class per DynamoDB error code, named exactly as the code, so that embedded users catch the
same names boto3 users see in ``ClientError.response["Error"]["Code"]``. Every class derives from
:class:`DynamoDBError`, which carries the code, the HTTP status the wire protocol answers with and
whether a client should retry. :data:`ERRORS_BY_CODE` is derived from the subclasses, never kept by
hand.

Messages follow DynamoDB's own wording. A message used in more than one place is produced by one
named factory below (``msg_*`` functions return text; the caller picks the exception class), so a
rewording by AWS is a one-line change. This module imports nothing from the engine.
"""

from __future__ import annotations

__all__ = [
    "ERRORS_BY_CODE",
    "AccessDeniedException",
    "BackupInUseException",
    "BackupNotFoundException",
    "ConditionalCheckFailedException",
    "ContinuousBackupsUnavailableException",
    "DuplicateItemException",
    "DynamoDBError",
    "ExpiredIteratorException",
    "ExportConflictException",
    "ExportNotFoundException",
    "GlobalTableAlreadyExistsException",
    "GlobalTableNotFoundException",
    "IdempotentParameterMismatchException",
    "ImportConflictException",
    "ImportNotFoundException",
    "IncompleteSignatureException",
    "IndexNotFoundException",
    "InternalServerError",
    "InvalidExportTimeException",
    "InvalidRestoreTimeException",
    "InvalidSignatureException",
    "ItemCollectionSizeLimitExceededException",
    "LimitExceededException",
    "MissingAuthenticationTokenException",
    "PointInTimeRecoveryUnavailableException",
    "PolicyNotFoundException",
    "ProvisionedThroughputExceededException",
    "ReplicaAlreadyExistsException",
    "ReplicaNotFoundException",
    "ReplicatedWriteConflictException",
    "RequestLimitExceeded",
    "ResourceInUseException",
    "ResourceNotFoundException",
    "SerializationException",
    "ServiceUnavailable",
    "TableAlreadyExistsException",
    "TableInUseException",
    "TableNotFoundException",
    "ThrottlingException",
    "TransactionCanceledException",
    "TransactionConflictException",
    "TransactionInProgressException",
    "TrimmedDataAccessException",
    "UnknownOperationException",
    "UnrecognizedClientException",
    "ValidationException",
    "error_for_code",
    "msg_expression_syntax",
    "msg_invalid_expression",
    "msg_item_size_exceeded",
    "msg_key_empty",
    "msg_param_invalid",
]


class DynamoDBError(Exception):
    """Base of every DynamoDB error.

    Attributes:
        code: the DynamoDB error code (the class name unless overridden).
        http_status: the status the wire protocol answers with.
        retryable: whether a well-behaved client should retry the request.
        message: DynamoDB's message text (also ``str(exc)``).
    """

    code: str = "DynamoDBError"
    http_status: int = 400
    retryable: bool = False

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:
            cls.code = cls.__name__

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class _ClientError(DynamoDBError):
    http_status = 400


class _ServerError(DynamoDBError):
    http_status = 500
    retryable = True


# --- Errors of the data plane and the control plane (botocore's service model). -------------


class ValidationException(_ClientError):
    pass


class SerializationException(_ClientError):
    pass


class ConditionalCheckFailedException(_ClientError):
    def __init__(
        self, message: str = "The conditional request failed", item: dict | None = None
    ) -> None:
        super().__init__(message)
        self.item = item  # ReturnValuesOnConditionCheckFailure=ALL_OLD


class TransactionCanceledException(_ClientError):
    def __init__(self, message: str = "", reasons: list[dict] | None = None) -> None:
        super().__init__(message)
        self.cancellation_reasons = reasons or []


class TransactionConflictException(_ClientError):
    pass


class TransactionInProgressException(_ClientError):
    pass


class IdempotentParameterMismatchException(_ClientError):
    pass


class ResourceNotFoundException(_ClientError):
    pass


class ResourceInUseException(_ClientError):
    pass


class LimitExceededException(_ClientError):
    pass


class ItemCollectionSizeLimitExceededException(_ClientError):
    pass


class ProvisionedThroughputExceededException(_ClientError):
    retryable = True


class RequestLimitExceeded(_ClientError):
    retryable = True


class ThrottlingException(_ClientError):
    retryable = True


class ReplicatedWriteConflictException(_ClientError):
    retryable = True


class BackupInUseException(_ClientError):
    pass


class BackupNotFoundException(_ClientError):
    pass


class ContinuousBackupsUnavailableException(_ClientError):
    pass


class PointInTimeRecoveryUnavailableException(_ClientError):
    pass


class InvalidRestoreTimeException(_ClientError):
    pass


class TableAlreadyExistsException(_ClientError):
    pass


class TableInUseException(_ClientError):
    pass


class TableNotFoundException(_ClientError):
    pass


class IndexNotFoundException(_ClientError):
    pass


class GlobalTableAlreadyExistsException(_ClientError):
    pass


class GlobalTableNotFoundException(_ClientError):
    pass


class ReplicaAlreadyExistsException(_ClientError):
    pass


class ReplicaNotFoundException(_ClientError):
    pass


class ExportConflictException(_ClientError):
    pass


class ExportNotFoundException(_ClientError):
    pass


class InvalidExportTimeException(_ClientError):
    pass


class ImportConflictException(_ClientError):
    pass


class ImportNotFoundException(_ClientError):
    pass


class PolicyNotFoundException(_ClientError):
    pass


class DuplicateItemException(_ClientError):
    pass


# --- Streams. ---------------------------------------------------------------------------------


class ExpiredIteratorException(_ClientError):
    pass


class TrimmedDataAccessException(_ClientError):
    pass


# --- Protocol and authentication (common to AWS JSON services). -----------------------------


class UnknownOperationException(_ClientError):
    pass


class UnrecognizedClientException(_ClientError):
    pass


class MissingAuthenticationTokenException(_ClientError):
    pass


class IncompleteSignatureException(_ClientError):
    pass


class InvalidSignatureException(_ClientError):
    pass


class AccessDeniedException(_ClientError):
    pass


# --- Server side. -----------------------------------------------------------------------------


class InternalServerError(_ServerError):
    pass


class ServiceUnavailable(_ServerError):
    http_status = 503


def _walk(cls: type[DynamoDBError]) -> list[type[DynamoDBError]]:
    out = []
    for sub in cls.__subclasses__():
        if not sub.__name__.startswith("_"):
            out.append(sub)
        out.extend(_walk(sub))
    return out


ERRORS_BY_CODE: dict[str, type[DynamoDBError]] = {c.code: c for c in _walk(DynamoDBError)}
"""Every DynamoDB error class by its code (derived from the subclasses above)."""


def error_for_code(code: str, message: str = "") -> DynamoDBError:
    """Return an instance of the class for ``code`` (InternalServerError if unknown)."""
    cls = ERRORS_BY_CODE.get(code, InternalServerError)
    return cls(message)


# --- Message factories. -----------------------------------------------------------------------


def msg_param_invalid(detail: str) -> str:
    """``One or more parameter values were invalid: <detail>``."""
    return f"One or more parameter values were invalid: {detail}"


def msg_key_empty(kind: str, name: str) -> str:
    """An empty S or B value in a key attribute (``kind`` is "string" or "binary")."""
    return (
        "One or more parameter values are not valid. The AttributeValue for a key attribute "
        f"cannot contain an empty {kind} value. Key: {name}"
    )


def msg_item_size_exceeded() -> str:
    """An item larger than 400 KB."""
    return "Item size has exceeded the maximum allowed size"


def msg_invalid_expression(kind: str, detail: str) -> str:
    """``Invalid <kind>: <detail>`` where kind is e.g. ConditionExpression."""
    return f"Invalid {kind}: {detail}"


def msg_expression_syntax(kind: str, token: str, near: str) -> str:
    """A syntax error naming the offending token and its neighbourhood."""
    return f'Invalid {kind}: Syntax error; token: "{token}", near: "{near}"'
