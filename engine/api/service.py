"""Service: one DynamoDB endpoint over a store, dispatching operations to their handlers.

``Service(store).handle("PutItem", params)`` validates ``params`` against the service model,
runs the handler and returns the reply as a dict of wire names and Python values (bytes for
B, datetime for timestamps). It raises engine.errors exceptions; anything else escaping a
handler is logged and becomes InternalServerError, so the front-ends (embedded client,
HTTP server) see only DynamoDB's errors.

Thread-safety: handle() may be called from any number of threads at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from engine.api import batch, control, items, query, transact
from engine.api.common import MSG_NOT_FOUND, Context
from engine.api.shapes import validate
from engine.capacity import Meter
from engine.errors import (
    DynamoDBError,
    InternalServerError,
    ResourceNotFoundException,
    UnknownOperationException,
)
from engine.index import Indexes
from engine.storage import KeyspaceError, Store
from engine.table import Tables

__all__ = ["HANDLERS", "Service"]

log = logging.getLogger(__name__)

HANDLERS: dict[str, Callable[[Context, dict], dict]] = {
    **batch.HANDLERS,
    **control.HANDLERS,
    **items.HANDLERS,
    **query.HANDLERS,
    **transact.HANDLERS,
}


class Service:
    """The operations of one DynamoDB endpoint over ``store``."""

    def __init__(
        self,
        store: Store,
        *,
        region: str = "us-east-1",
        account_id: str = "000000000000",
        endpoint_address: str = "localhost:8000",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        tables = Tables(store)
        self.ctx = Context(
            store,
            tables,
            Meter(clock),
            Indexes(tables),
            region=region,
            account_id=account_id,
            endpoint_address=endpoint_address,
        )
        for name in self.ctx.tables.names():
            self.ctx.configure_meter(self.ctx.tables.get(name))  # type: ignore[arg-type]

    def consumed_units(self, table_name: str) -> dict[str, float]:
        """Capacity units the table has consumed since it was opened (on-demand metering):
        ``{"read": units, "write": units}``. Raises ResourceNotFoundException."""
        tid = self.ctx.table(table_name).defn.table_id
        consumed = self.ctx.meter.consumed
        return {kind: consumed.get((tid, kind), 0.0) for kind in ("read", "write")}

    def close(self) -> None:
        """Stop background work (index backfills; an unfinished one resumes when the store
        is opened again). The store itself is the caller's to close, after this."""
        self.ctx.indexes.close()

    @staticmethod
    def operations() -> list[str]:
        return sorted(HANDLERS)

    def handle(self, operation: str, params: dict) -> dict:
        """Run one operation. Raises a DynamoDBError subclass."""
        handler = HANDLERS.get(operation)
        if handler is None:
            raise UnknownOperationException(f"Unknown operation: {operation}")
        try:
            validate(operation, params)
            return handler(self.ctx, params)
        except DynamoDBError:
            raise
        except KeyspaceError:
            # The table was deleted while this request was using it.
            raise ResourceNotFoundException(MSG_NOT_FOUND) from None
        except Exception:
            log.exception("internal error in %s", operation)
            raise InternalServerError("Internal server error") from None
