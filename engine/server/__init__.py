"""engine.server: DynamoDB's wire protocol over HTTP, in front of engine.api.

Public surface:
- App(service, verifier=..., ...): the ASGI application (JSON 1.0, SigV4, limits).
- Verifier(credentials=None), load_credentials(path): SigV4 checking of requests.
- decode_body / encode_reply / encode_error: the wire forms of requests, replies, errors.
- main(argv): the ``shale`` command line (``shale serve``), see cli.py.

The server only speaks HTTP: every DynamoDB semantic lives in engine.api and below.
"""

from engine.server.app import App
from engine.server.auth import Verifier, load_credentials
from engine.server.cli import main
from engine.server.wire import decode_body, encode_error, encode_reply

__all__ = [
    "App",
    "Verifier",
    "decode_body",
    "encode_error",
    "encode_reply",
    "load_credentials",
    "main",
]
