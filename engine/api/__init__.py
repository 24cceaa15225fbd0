"""engine.api: DynamoDB's operations, shared by the embedded client and the HTTP server.

Public surface:
- Service(store, region=..., account_id=...).handle(operation, params) -> reply: validate
  against botocore's service model, dispatch to the operation's handler, shape the reply.
- HANDLERS: operation name -> handler(ctx, params).
- validate(operation, params), service_model(): the request validation on its own.

One handler module per operation group: control (tables, tags, limits, endpoints), items
(Put/Get/Update/DeleteItem), query (Query, Scan), batch, transact.
"""

from engine.api.service import HANDLERS, Service
from engine.api.shapes import service_model, validate

__all__ = ["HANDLERS", "Service", "service_model", "validate"]
