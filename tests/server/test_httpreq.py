"""The C request parser (csrc/httpreq.c) against httptools, its oracle.

The server parses the plain requests SDKs send with one C call and leaves everything else
to httptools; so whatever the C parser accepts it must parse exactly as httptools does, and
it may refuse anything. These tests hold it to that on random and mutated requests, both
parser to parser and through a whole Connection (the same bytes in one piece, which takes
the C path, and byte by byte, which takes httptools')."""

import httptools
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.server.http import MAX_HEAD_BYTES, Connection, HTTPServer, Request, _parse_request

MAX_BODY = 1 << 20

BOTO3_HEAD = (
    b"POST / HTTP/1.1\r\n"
    b"Host: 127.0.0.1:8000\r\n"
    b"Accept-Encoding: identity\r\n"
    b"X-Amz-Target: DynamoDB_20120810.PutItem\r\n"
    b"Content-Type: application/x-amz-json-1.0\r\n"
    b"User-Agent: Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.1 lang/python#3.11.7\r\n"
    b"X-Amz-Date: 20250101T000000Z\r\n"
    b"Authorization: AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/dynamodb/"
    b"aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
    b"Signature=" + b"ab" * 32 + b"\r\n"
    b"amz-sdk-invocation-id: 0d1c8e4e-5a4b-4a43-9f0e-9a8a2f6f8c11\r\n"
    b"amz-sdk-request: attempt=1\r\n"
)
BODY = b'{"TableName": "t", "Item": {"pk": {"S": "a"}}}'
REQUEST = BOTO3_HEAD + b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY
GET = b"GET /?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"


class Recorder:
    """httptools callbacks recorded the way engine.server.http.Connection reads them."""

    def __init__(self) -> None:
        self.messages: list[tuple] = []
        self.begun = 0

    def on_message_begin(self) -> None:
        self.begun += 1
        self.url = b""
        self.headers: dict[str, str] = {}
        self.body = b""

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        key, text = name.decode("latin-1").lower(), value.decode("latin-1")
        self.headers[key] = f"{self.headers[key]},{text}" if key in self.headers else text

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        path, _, query = self.url.partition(b"?")
        self.messages.append(
            (
                self.parser.get_method().decode("latin-1"),
                path.decode("latin-1") or "/",
                query.decode("latin-1"),
                self.headers,
                self.body,
                self.parser.should_keep_alive(),
            )
        )


def httptools_parse(data: bytes) -> tuple[list[tuple], int, bool]:
    """(complete messages, messages begun, whether the parser raised) for ``data``."""
    rec = Recorder()
    rec.parser = httptools.HttpRequestParser(rec)
    try:
        rec.parser.feed_data(data)
    except httptools.HttpParserError:
        return rec.messages, rec.begun, True
    return rec.messages, rec.begun, False


def check_against_httptools(data: bytes) -> None:
    parsed = _parse_request(data, 0, MAX_HEAD_BYTES, MAX_BODY)
    if parsed is None:
        return  # httptools' case: nothing to compare
    method, path, query, headers, body, end = parsed
    # httptools reads data[:end] as exactly one whole request, with the same parts...
    messages, begun, failed = httptools_parse(data[:end])
    assert not failed and begun == 1 and len(messages) == 1, data
    assert messages[0] == (method, path, query, headers, body, True), data
    # ... which is not complete a byte earlier, so both agree where the next one starts.
    assert httptools_parse(data[: end - 1])[0] == [], data
    assert 0 < end <= len(data)


def test_plain_requests_are_parsed_in_c_exactly_as_httptools_parses_them():
    for data in (REQUEST, GET, REQUEST + REQUEST, REQUEST + b"GARBAGE"):
        assert _parse_request(data, 0, MAX_HEAD_BYTES, MAX_BODY) is not None
        check_against_httptools(data)
    second = _parse_request(REQUEST + GET, len(REQUEST), MAX_HEAD_BYTES, MAX_BODY)
    assert second[:5] == ("GET", "/", "x=1", {"host": "h"}, b"")


def test_what_the_c_parser_leaves_to_httptools():
    def refused(data: bytes, max_head: int = MAX_HEAD_BYTES, max_body: int = MAX_BODY) -> None:
        assert _parse_request(data, 0, max_head, max_body) is None, data

    for cut in range(len(REQUEST)):
        refused(REQUEST[:cut])  # a request not wholly received
    head = b"POST / HTTP/1.1\r\nHost: h\r\n"
    refused(head + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    refused(head + b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\n{}")
    refused(head + b"Connection: close\r\n\r\n")
    refused(head + b"Upgrade: h2c\r\n\r\n")
    refused(head + b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}")
    refused(head + b"X-A: 1\r\nx-a: 2\r\n\r\n")  # (httptools joins them: "1,2")
    refused(head + b"Content-Length: 3\r\n\r\n{}}", max_body=2)
    refused(REQUEST, max_head=100)
    refused(b"POST / HTTP/1.0\r\n\r\n")
    refused(b"PUT / HTTP/1.1\r\n\r\n")
    refused(head + b"X-Obs: caf\xe9\r\n\r\n")
    refused(head + b"X-Trailing: a \r\n\r\n")
    refused(head + b"X-Empty:\r\n\r\n")
    refused(head + b"X-Folded: a\r\n b\r\n\r\n")
    refused(head + b"X-Bare-LF: a\n\r\n")
    refused(head + b"Content-Length: +2\r\n\r\n{}")


_TOKENS = st.sampled_from(
    [b" ", b"\t", b"\r", b"\n", b"\r\n", b":", b"\x00", b"\x7f", b"\xff", b"?", b"#", b"%",
     b"/", b",", b"0", b"9", b"a", b"Z", b"-", b"HTTP/1.1", b"Content-Length: 5\r\n",
     b"Transfer-Encoding: chunked\r\n", b"Connection: keep-alive\r\n", b"\r\n\r\n"]
)  # fmt: skip


@st.composite
def mutated(draw) -> bytes:
    """A plain request (or two) with a few bytes replaced, inserted or deleted."""
    data = bytearray(draw(st.sampled_from([REQUEST, GET, REQUEST + GET, GET + REQUEST])))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.integers(0, 3))
        if kind == 0 and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == 1:
            data[at:at] = draw(_TOKENS)
        elif kind == 2:
            del data[at : at + draw(st.integers(1, 8))]
        else:
            data[at:at] = draw(st.binary(max_size=6))
    return bytes(data)


_PLAIN_NAMES = ["Host", "content-type", "X-Amz-Target", "x-amz-date", "Authorization",
                "User-Agent", "content-encoding", "a", "X-Custom_1", "Accept", "x-y.z"]  # fmt: skip
_PLAIN_VALUES = st.text(st.sampled_from("aZ09-_./;=,+ \t"), min_size=1, max_size=12)
_ODD_NAMES = st.one_of(
    st.sampled_from(["CONTENT-LENGTH", "content-length", "Expect", "Connection", "Host"]),
    st.text(st.sampled_from("abcXYZ-_!#~ :\t\r\n\x00é"), min_size=0, max_size=6),
)
_ODD_VALUES = st.one_of(
    st.sampled_from(["", "0", "5", "00", "12345678901", "close", "keep-alive", "chunked"]),
    st.text(st.sampled_from("aZ09 \t,;=/\r\n\x00\x7fé"), max_size=8),
)


@st.composite
def structured(draw) -> bytes:
    """A request built field by field: mostly of the plain form, now and then not."""
    method = draw(st.sampled_from([b"POST", b"POST", b"GET", b"GET", b"PUT", b"post", b"HEAD"]))
    target = draw(
        st.one_of(
            st.just(b"/"),
            st.text(st.sampled_from("/?=&%#abc~.!$'()*+,;:@"), max_size=10).map(
                lambda t: b"/" + t.encode()
            ),
            st.binary(max_size=10).map(lambda b: b"/" + b),
        )
    )
    version = draw(st.sampled_from([b"HTTP/1.1"] * 4 + [b"HTTP/1.0", b"HTTP/1.2", b"http/1.1"]))
    lines = [method + b" " + target + b" " + version]
    for name in draw(st.lists(st.sampled_from(_PLAIN_NAMES), unique=True, max_size=6)):
        odd = draw(st.integers(0, 7)) == 0  # now and then an odd name or value
        if odd and draw(st.booleans()):
            name = draw(_ODD_NAMES)
        value = draw(_ODD_VALUES if odd else _PLAIN_VALUES).strip(" \t" if not odd else "")
        space = draw(st.sampled_from([b" ", b" ", b" ", b"", b"  ", b"\t", b" \t"]))
        lines.append(name.encode("latin-1", "replace") + b":" + space + value.encode("latin-1"))
    body = draw(st.binary(max_size=12))
    if draw(st.booleans()):
        delta = draw(st.sampled_from([0, 0, 0, 0, -1, 1]))
        lines.append(b"Content-Length: %d" % (len(body) + delta))
    data = b"\r\n".join(lines) + b"\r\n\r\n" + body
    return data + draw(st.sampled_from([b"", GET, REQUEST, b"X"]))


@settings(max_examples=1500, deadline=None)
@given(data=st.one_of(mutated(), structured(), st.binary(max_size=64)))
@example(data=b"GET / HTTP/1.1\r\n\r\n")
@example(data=b"POST /a%20b?c=d?e HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
@example(data=b"POST / HTTP/1.1\r\nContent-Length: 0000000002\r\n\r\n{}")
@example(data=b"POST / HTTP/1.1\r\nX: a \t b\r\n\r\n")
def test_whatever_the_c_parser_accepts_httptools_parses_the_same(data):
    check_against_httptools(data)


# ---------------------------------------------------------------------------- connection


class FakeTransport:
    def __init__(self) -> None:
        self.out = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.out += data

    def writelines(self, parts) -> None:
        for part in parts:
            self.out += part

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class EagerServer(HTTPServer):
    """Held answers are written when the test says so, not on a running loop."""

    def schedule_flush(self, conn: Connection) -> None:
        self._to_flush.append(conn)


def serve(pieces: list[bytes]) -> tuple[list[tuple], bytes, bool]:
    """Feed ``pieces`` to one connection whose handler echoes what it was given: (the
    requests handed over, the bytes written, whether the connection was closed)."""
    seen: list[tuple] = []

    def handler(request: Request, conn: Connection) -> None:
        parts = (request.method, request.path, request.query, request.headers, request.body)
        seen.append((*parts, request.keep_alive))
        conn.respond(request, 200, repr(parts).encode(), b"text/plain")

    server = EagerServer(
        handler, max_body_bytes=64, error_reply=lambda status: (b"no", b"text/plain", b"")
    )
    server.date_header = b"Date: fixed\r\n"
    conn = Connection(server)
    transport = FakeTransport()
    conn.connection_made(transport)
    for piece in pieces:
        if transport.closed:
            break
        conn.data_received(piece)
        server._flush()
    return seen, bytes(transport.out), transport.closed


@settings(max_examples=600, deadline=None)
@given(
    data=st.one_of(
        mutated(),
        structured(),
        st.lists(st.sampled_from([REQUEST, GET]), min_size=1, max_size=4).map(b"".join),
    ),
    cuts=st.lists(st.integers(0, 2000), max_size=4),
)
def test_a_connection_answers_the_same_whether_the_c_parser_or_httptools_reads(data, cuts):
    """The same bytes in one piece (the C parser reads what it can), cut at random
    places, and byte by byte (httptools reads every request): the same requests reach the
    handler and the same bytes go back."""
    reference = serve([data[i : i + 1] for i in range(len(data))])
    assert serve([data]) == reference
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    assert serve([data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]) == reference
