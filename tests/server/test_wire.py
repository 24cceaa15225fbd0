"""engine.server.wire and engine.server.auth in-process: body decoding, reply encoding,
Authorization parsing and SigV4 verification with botocore's signer on both sides."""

import base64
import gzip
import hashlib
import json
import zlib
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import (
    ConditionalCheckFailedException,
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    SerializationException,
    TransactionCanceledException,
    UnrecognizedClientException,
)
from engine.server import Verifier, decode_body, encode_error, encode_reply, load_credentials
from engine.server.auth import parse_authorization
from engine.server.wire import RequestTooLarge, _input_converter


def test_blobs_are_decoded_wherever_the_model_has_them():
    body = json.dumps(
        {
            "RequestItems": {
                "t": [
                    {
                        "PutRequest": {
                            "Item": {
                                "b": {"B": "AAE="},
                                "bs": {"BS": ["eA==", "eQ=="]},
                                "m": {"M": {"l": {"L": [{"B": "/w=="}, {"S": "AAE="}]}}},
                            }
                        }
                    }
                ]
            }
        }
    ).encode()
    item = decode_body(body, "BatchWriteItem")["RequestItems"]["t"][0]["PutRequest"]["Item"]
    assert item["b"] == {"B": b"\x00\x01"}
    assert item["bs"] == {"BS": [b"x", b"y"]}
    assert item["m"]["M"]["l"]["L"] == [{"B": b"\xff"}, {"S": "AAE="}]


def test_timestamps_become_datetimes_and_strings_stay_strings():
    params = decode_body(
        b'{"TableArn": "arn:x", "ExportTime": 1700000000.5}', "ExportTableToPointInTime"
    )
    assert params["ExportTime"] == datetime.fromtimestamp(1700000000.5, UTC)
    params = decode_body(b'{"TableName": "AAE=", "Key": {"k": {"S": "AAE="}}}', "GetItem")
    assert params == {"TableName": "AAE=", "Key": {"k": {"S": "AAE="}}}


def test_a_blob_tag_written_as_an_escape_is_still_decoded():
    # No '"B' in the body: only the backslash sends it through the blob walk.
    params = decode_body(
        b'{"Key": {"k": {"\\u0042": "AAE="}, "s": {"\\u0042S": ["eA=="]}}}', "GetItem"
    )
    assert params["Key"] == {"k": {"B": b"\x00\x01"}, "s": {"BS": [b"x"]}}


_av = st.recursive(
    st.one_of(
        st.builds(lambda b: {"B": base64.b64encode(b).decode()}, st.binary(max_size=8)),
        st.builds(lambda s: {"S": s}, st.text(max_size=8)),
        st.builds(lambda n: {"N": str(n)}, st.integers()),
        st.builds(
            lambda bs: {"BS": [base64.b64encode(b).decode() for b in bs]},
            st.lists(st.binary(max_size=4), max_size=3),
        ),
    ),
    lambda inner: st.one_of(
        st.builds(lambda m: {"M": m}, st.dictionaries(st.text(max_size=4), inner, max_size=3)),
        st.builds(lambda v: {"L": v}, st.lists(inner, max_size=3)),
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    item=st.dictionaries(st.text(max_size=6), _av, max_size=4),
    operation=st.sampled_from(["PutItem", "GetItem", "DeleteItem", "BatchWriteItem"]),
    ensure_ascii=st.booleans(),
)
def test_skipping_the_blob_walk_never_changes_a_decoded_body(item, operation, ensure_ascii):
    """The byte scan that lets decode_body skip the blob walk agrees with always walking
    (keys and values with escapes, "B"-like names, nesting)."""
    body = json.dumps({"Item": item, "Key": item}, ensure_ascii=ensure_ascii).encode()
    walked = orjson.loads(body)
    _input_converter(operation)[0](walked)
    assert decode_body(body, operation) == walked


def test_wrong_types_are_left_for_validation_to_name():
    params = decode_body(b'{"Item": {"b": {"B": 5}, "m": {"M": []}}}', "PutItem")
    assert params["Item"] == {"b": {"B": 5}, "m": {"M": []}}


@pytest.mark.parametrize("body", [b"{", b"[1]", b"null", b"\xff", b"1"])
def test_anything_but_a_json_object_is_a_serialization_exception(body):
    with pytest.raises(SerializationException):
        decode_body(body, "ListTables")


def test_an_empty_body_is_an_empty_request():
    assert decode_body(b"", "ListTables") == {}


def test_compressed_bodies_and_their_limit():
    body = b'{"Limit": 3}'
    assert decode_body(gzip.compress(body), "ListTables", "gzip") == {"Limit": 3}
    assert decode_body(zlib.compress(body), "ListTables", "deflate") == {"Limit": 3}
    with pytest.raises(RequestTooLarge):
        decode_body(gzip.compress(b" " * 2000 + body), "ListTables", "gzip", limit=1000)
    with pytest.raises(SerializationException):
        decode_body(gzip.compress(body)[:-3], "ListTables", "gzip")  # truncated stream


def test_replies_encode_blobs_as_base64_and_datetimes_as_epoch_seconds():
    when = datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)
    reply = {"Item": {"b": {"B": b"\x00\x01"}, "bs": {"BS": [b"x"]}}, "T": when}
    assert json.loads(encode_reply(reply)) == {
        "Item": {"b": {"B": "AAE="}, "bs": {"BS": ["eA=="]}},
        "T": when.timestamp(),
    }


def test_errors_carry_their_modeled_members():
    body = json.loads(encode_error(ConditionalCheckFailedException(item={"b": {"B": b"\x01"}})))
    assert body == {
        "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
        "message": "The conditional request failed",
        "Item": {"b": {"B": "AQ=="}},
    }
    reasons = [{"Code": "None"}, {"Code": "ConditionalCheckFailed", "Message": "x"}]
    body = json.loads(encode_error(TransactionCanceledException("cancelled", reasons)))
    assert body["CancellationReasons"] == reasons


AUTH = (
    "AWS4-HMAC-SHA256 Credential=AKID/20240102/eu-west-1/dynamodb/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + "ab" * 32
)


def test_authorization_header_is_split_into_its_parts():
    auth = parse_authorization(AUTH)
    assert (auth.access_key_id, auth.date, auth.region, auth.service) == (
        "AKID",
        "20240102",
        "eu-west-1",
        "dynamodb",
    )
    assert auth.signed_headers == ("content-type", "host", "x-amz-date", "x-amz-target")


@pytest.mark.parametrize(
    "header",
    [
        "AWS4-HMAC-SHA1 Credential=a/b/c/d/aws4_request, SignedHeaders=host, Signature=" + "0" * 64,
        "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, SignedHeaders=host",
        "AWS4-HMAC-SHA256 Credential=a/b/c/aws4_request, SignedHeaders=host, Signature=" + "0" * 64,
        "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, SignedHeaders=host, Signature=xyz",
        "AWS4-HMAC-SHA256 garbage",
        "",
    ],
)
def test_malformed_authorization_is_an_incomplete_signature(header):
    with pytest.raises(IncompleteSignatureException):
        parse_authorization(header)
    # check(), verify() without the parse, refuses it the same way.
    with pytest.raises(
        IncompleteSignatureException if header else MissingAuthenticationTokenException
    ):
        Verifier().check("POST", "/", "", {"authorization": header}, b"{}")


@settings(max_examples=300, deadline=None)
@given(
    header=st.one_of(
        st.text(max_size=40),
        st.builds(
            lambda a, b, c: AUTH[:a] + c + AUTH[b:],
            st.integers(0, len(AUTH)),
            st.integers(0, len(AUTH)),
            st.text(st.sampled_from("aF0 ,=/;x"), max_size=3),
        ),
    )
)
def test_an_open_check_and_verify_agree(header):
    def outcome(call):
        try:
            call("POST", "/", "", {"authorization": header}, b"{}")
        except Exception as exc:
            return type(exc), str(exc)
        return None

    verifier = Verifier()
    assert outcome(verifier.check) == outcome(verifier.verify)


def sign(key, secret, body, when, region="eu-west-1"):
    req = AWSRequest(
        method="POST",
        url="http://localhost:8000/",
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "x.ListTables"},
    )
    signer = SigV4Auth(Credentials(key, secret), "dynamodb", region)
    req.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
    signer._modify_request_before_signing(req)
    signature = signer.signature(signer.string_to_sign(req, signer.canonical_request(req)), req)
    signer._inject_signature_to_request(req, signature)
    headers = {k.lower(): v for k, v in req.headers.items()}
    headers["host"] = "localhost:8000"
    return headers


def test_sigv4_verification_against_botocore_signatures():
    now = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    verifier = Verifier({"AKID": "secret", "OTHER": "x"})
    body = b'{"Limit": 1}'
    headers = sign("AKID", "secret", body, now)
    assert verifier.verify("POST", "/", "", headers, body, now=now).region == "eu-west-1"
    with pytest.raises(InvalidSignatureException):
        verifier.verify("POST", "/", "", headers, b'{"Limit": 2}', now=now)
    with pytest.raises(InvalidSignatureException):
        verifier.verify("POST", "/", "", sign("AKID", "nope", body, now), body, now=now)
    with pytest.raises(UnrecognizedClientException):
        verifier.verify("POST", "/", "", sign("NOBODY", "secret", body, now), body, now=now)
    with pytest.raises(InvalidSignatureException, match="Signature expired"):
        verifier.verify("POST", "/", "", headers, body, now=now + timedelta(minutes=16))
    with pytest.raises(InvalidSignatureException, match="not yet current"):
        verifier.verify("POST", "/", "", headers, body, now=now - timedelta(minutes=16))
    with pytest.raises(MissingAuthenticationTokenException):
        verifier.verify("POST", "/", "", {"host": "x"}, body, now=now)


HEADER_NAMES = ["x-amz-meta", "x-custom", "user-agent", "expect", "x-amzn-trace-id", "accept"]
header_values = st.text(alphabet=st.sampled_from([*"ab ,;=\t", "\xa0", "\x85", "é"]), max_size=12)


def sign_with(headers: dict, body: bytes, when: datetime, path: str = "/") -> dict:
    """``headers`` signed by botocore as an SDK signs them (it leaves out the headers it
    never signs): the lower-case headers a server receives."""
    req = AWSRequest(method="POST", url=f"http://localhost:8000{path}", data=body, headers=headers)
    signer = SigV4Auth(Credentials("AKID", "secret"), "dynamodb", "eu-west-1")
    req.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
    signer._modify_request_before_signing(req)
    signature = signer.signature(signer.string_to_sign(req, signer.canonical_request(req)), req)
    signer._inject_signature_to_request(req, signature)
    out = {k.lower(): v for k, v in req.headers.items()}
    out["host"] = "localhost:8000"
    return out


@settings(max_examples=200, deadline=None)
@given(
    extra=st.dictionaries(st.sampled_from(HEADER_NAMES), header_values, max_size=4),
    body=st.binary(max_size=64),
    signed_anyway=st.lists(st.sampled_from(HEADER_NAMES), max_size=3),
)
def test_the_fast_signature_agrees_with_botocores(extra, body, signed_anyway):
    """The canonical request built in auth.py and botocore's give one signature: for
    requests botocore signed (odd whitespace, headers it never signs) and for an
    Authorization naming any headers at all."""
    now = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    verifier = Verifier({"AKID": "secret"})
    headers = sign_with({"X-Amz-Target": "x.ListTables", **extra}, body, now)
    auth = verifier.verify("POST", "/", "", headers, body, now=now)
    names = ";".join(sorted({*auth.signed_headers, *signed_anyway}))
    auth = parse_authorization(
        f"AWS4-HMAC-SHA256 Credential=AKID/20240102/eu-west-1/dynamodb/aws4_request, "
        f"SignedHeaders={names}, Signature={'0' * 64}"
    )
    args = ("POST", "/", "", headers, body, auth, "secret")
    assert verifier._expected_signature(*args) == verifier.reference_signature(*args)


def test_requests_off_the_fast_path_are_verified_by_botocore():
    now = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    verifier = Verifier({"AKID": "secret"})
    body = b"{}"
    headers = sign_with({"X-Amz-Target": "x.ListTables"}, body, now, path="/a%20b/?x=1&y=2")
    verifier.verify("POST", "/a%20b/", "x=1&y=2", headers, body, now=now)
    with pytest.raises(InvalidSignatureException):
        verifier.verify("POST", "/a%20b/", "x=1&y=3", headers, body, now=now)


def test_a_signed_content_hash_must_be_the_bodys():
    """botocore's signer trusts X-Amz-Content-SHA256 for the body's hash; the verifier
    checks it, or a signature over one body would pass with any other."""
    now = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    verifier = Verifier({"AKID": "secret"})
    body = b'{"Limit": 1}'
    digest = hashlib.sha256(body).hexdigest()
    headers = sign_with({"X-Amz-Target": "x", "X-Amz-Content-SHA256": digest}, body, now)
    verifier.verify("POST", "/", "", headers, body, now=now)
    with pytest.raises(InvalidSignatureException):
        verifier.verify("POST", "/", "", headers, b'{"Limit": 2}', now=now)


def test_an_open_verifier_accepts_any_well_formed_signature():
    verifier = Verifier()
    assert verifier.is_open
    verifier.verify("POST", "/", "", {"authorization": AUTH}, b"{}")
    with pytest.raises(MissingAuthenticationTokenException):
        verifier.verify("POST", "/", "", {}, b"{}")


def test_credentials_file_in_the_aws_format(tmp_path):
    path = tmp_path / "c"
    path.write_text(
        "[default]\naws_access_key_id = A\naws_secret_access_key = s%1\n[x]\nregion = y\n"
    )
    assert load_credentials(str(path)) == {"A": "s%1"}
    path.write_text("[default]\naws_access_key_id = A\n")
    with pytest.raises(ValueError):
        load_credentials(str(path))
