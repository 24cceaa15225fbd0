"""The floor of bench/serve.py: an ASGI app that answers every request with a canned ``{}``.

Served by the same uvicorn + httptools + uvloop stack as ``shale serve``, it is the fastest
any DynamoDB-compatible server can look through boto3 from Python: what is left is the
client's and the HTTP stack's cost. Run: ``uvicorn bench.serve_floor:app --port N``.
"""

import zlib

BODY = b"{}"
HEADERS = [
    (b"content-type", b"application/x-amz-json-1.0"),
    (b"content-length", str(len(BODY)).encode()),
    (b"x-amzn-requestid", b"FLOOR0000000000000000000000000000000000000000000000000"),
    (b"x-amz-crc32", str(zlib.crc32(BODY)).encode()),
]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
