"""engine.server: DynamoDB's wire protocol over HTTP, in front of engine.api.

Public surface:
- App(service, verifier=..., ...): the endpoint (JSON 1.0, SigV4, limits, inline or
  pooled dispatch); ``App.server()`` is the HTTPServer serving it.
- HTTPServer, Request: HTTP/1.1 on asyncio with httptools (see http.py).
- Verifier(credentials=None), load_credentials(path): SigV4 checking of requests.
- decode_body / encode_reply / encode_error: the wire forms of requests, replies, errors.
- engine.server.cli: the ``shale`` command line (``shale serve``). Not imported with the
  package, so that ``python -m engine.server.cli`` runs it once.

The server only speaks HTTP: every DynamoDB semantic lives in engine.api and below.
"""

from engine.server.app import App
from engine.server.auth import Verifier, load_credentials
from engine.server.http import HTTPServer, Request
from engine.server.wire import decode_body, encode_error, encode_reply

__all__ = [
    "App",
    "HTTPServer",
    "Request",
    "Verifier",
    "decode_body",
    "encode_error",
    "encode_reply",
    "load_credentials",
]
