"""AWS Signature Version 4 on incoming requests.

A request signed by an AWS SDK carries ``Authorization: AWS4-HMAC-SHA256
Credential=<key id>/<yyyymmdd>/<region>/<service>/aws4_request, SignedHeaders=<h1;h2>,
Signature=<hex>`` and ``X-Amz-Date``. :class:`Verifier` checks it in one of two modes:

- open (no credentials configured, as local DynamoDB endpoints run): any well-formed
  signature from any access key and region is accepted, nothing is computed;
- with credentials (``--credentials FILE``): the expected signature is computed from
  the canonical request rebuilt out of the signed headers and the raw body as received,
  and compared in constant time; a signature dated more than 15 minutes away from the
  server's clock is refused. For a DynamoDB request (``POST /``, no query string) the
  canonical request is built here by the rules of botocore's signer
  (``botocore.auth.SigV4Auth``), with the derived signing key kept per (key, day,
  region, service): 18 us a request instead of botocore's 60. Any other request goes
  through botocore's signer whole, which is also the reference a property test holds
  the fast path to. Unlike botocore's signer, a signed ``X-Amz-Content-SHA256`` must be
  the hash of the body received.

Errors are DynamoDB's: MissingAuthenticationTokenException (no Authorization),
IncompleteSignatureException (malformed), UnrecognizedClientException (unknown key id),
InvalidSignatureException (mismatch, expired). Secrets are never logged or put in a message.

The credentials file is INI in the AWS shared-credentials format: any number of sections,
each with ``aws_access_key_id`` and ``aws_secret_access_key``.

Thread-safety: verify() may run in any thread. A Verifier's only mutable state is its
cache of derived keys, a dict whose single-key reads and writes the GIL makes atomic.
"""

from __future__ import annotations

import configparser
import hashlib
import hmac
import re
from datetime import UTC, datetime
from functools import lru_cache
from time import time as _time
from typing import NamedTuple

from engine.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)

__all__ = ["MESSAGES", "Authorization", "Verifier", "load_credentials", "parse_authorization"]

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_S = 15 * 60.0  # a signature's date may be this far from the server's clock
MAX_CACHED_KEYS = 1024  # derived signing keys kept (one per key id, day, region, service)

MESSAGES = {
    "missing": (
        "Request must contain either a valid (registered) AWS access key ID or X.509 certificate."
    ),
    "incomplete": "{detail} Authorization={header}",
    "unknown_key": "The security token included in the request is invalid.",
    "mismatch": (
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. Consult the service "
        "documentation for details."
    ),
    "expired": "Signature expired: {signed} is now earlier than {earliest} ({now} - 15 min.)",
    "not_current": "Signature not yet current: {signed} is still later than {latest} "
    "({now} + 15 min.)",
    "no_date": "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
    "header.",
    "scope_date": "Credential should be scoped to a valid date: {date}",
}

_PARAMS = frozenset(("Credential", "SignedHeaders", "Signature"))
# A signature: 64 lower-case hex digits (a compiled match is twice as fast as a set test).
_is_signature = re.compile("[0-9a-f]{64}").fullmatch
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


class Authorization(NamedTuple):
    """The parts of a SigV4 Authorization header. (A named tuple: built once a request,
    it costs a third of a frozen dataclass.)"""

    access_key_id: str
    date: str  # yyyymmdd of the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def _incomplete(detail: str, header: str) -> IncompleteSignatureException:
    return IncompleteSignatureException(
        MESSAGES["incomplete"].format(detail=detail, header=header[:200])
    )


def parse_authorization(header: str) -> Authorization:
    """Split a SigV4 Authorization header. Raises IncompleteSignatureException.

    SDKs put ``Signature`` last, and what comes before it is the same on every request of
    a client and day: that prefix is parsed once and remembered."""
    prefix, sep, signature = header.rpartition(", Signature=")
    if sep and _is_signature(signature):
        parts = _parse_prefix(prefix)
        if parts is not None:
            return Authorization(*parts, signature)
    return _parse_full(header)


@lru_cache(maxsize=1024)
def _parse_prefix(prefix: str) -> tuple[str, str, str, str, tuple[str, ...]] | None:
    """The fields of ``<prefix>, Signature=<any>`` but the signature; None when that
    header is malformed (the full parse then says why)."""
    try:
        auth = _parse_full(f"{prefix}, Signature={'0' * 64}")
    except IncompleteSignatureException:
        return None
    return auth.access_key_id, auth.date, auth.region, auth.service, auth.signed_headers


def _parse_full(header: str) -> Authorization:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise _incomplete(f"Unsupported AWS 'algorithm': '{algorithm}'.", header)
    params: dict[str, str] = {}
    for part in rest.split(","):
        key, eq, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or key not in _PARAMS or not value or " " in value:
            raise _incomplete(f"'{part.strip()}' not a valid key=value pair.", header)
        params[key] = value
    missing = [
        f"Authorization header requires '{k}' parameter."
        for k in ("Credential", "Signature", "SignedHeaders")
        if k not in params
    ]
    if missing:
        raise _incomplete(" ".join(missing), header)
    scope = params["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope):
        raise _incomplete(
            "Credential should be scoped to a valid region, service and terminated by "
            "'aws4_request'.",
            header,
        )
    signature = params["Signature"]
    if not _is_signature(signature):
        raise _incomplete("Signature must be 64 hexadecimal characters.", header)
    return Authorization(
        access_key_id=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=tuple(params["SignedHeaders"].lower().split(";")),
        signature=signature,
    )


def load_credentials(path: str) -> dict[str, str]:
    """Access key id -> secret from an AWS shared-credentials style INI file.

    Raises ValueError when the file names no key pair or a section has half of one."""
    parser = configparser.ConfigParser(interpolation=None)
    with open(path, encoding="utf-8") as f:
        parser.read_file(f)
    out: dict[str, str] = {}
    for name in parser.sections():
        section = parser[name]
        key_id = section.get("aws_access_key_id", "").strip()
        secret = section.get("aws_secret_access_key", "").strip()
        if bool(key_id) != bool(secret):
            raise ValueError(f"{path}: section [{name}] needs both key id and secret")
        if key_id:
            out[key_id] = secret
    if not out:
        raise ValueError(f"{path}: no aws_access_key_id / aws_secret_access_key pair")
    return out


# An HMAC-SHA256 key made ready: sha256 states that have hashed the key's inner and outer
# pads (RFC 2104). Copying them costs less than hmac.new, or hmac.digest, starting over:
# 0.7 us a signature instead of 1.7 to 1.8.
_Keyed = tuple["hashlib._Hash", "hashlib._Hash"]
_BLOCK = 64  # SHA-256's block size


def _keyed_sha256(key: bytes) -> _Keyed:
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return (
        hashlib.sha256(bytes(b ^ 0x36 for b in key)),
        hashlib.sha256(bytes(b ^ 0x5C for b in key)),
    )


@lru_cache(maxsize=256)
def _parse_amz_date(text: str) -> float:
    """``X-Amz-Date`` (yyyymmddThhmmssZ) in seconds since the epoch; raises ValueError.
    Many requests share a second, so the parse is remembered."""
    return datetime.strptime(text, _AMZ_DATE).replace(tzinfo=UTC).timestamp()


def _amz_date(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime(_AMZ_DATE)


class Verifier:
    """Checks the SigV4 signature of requests; ``credentials`` None accepts any."""

    def __init__(self, credentials: dict[str, str] | None = None) -> None:
        self.credentials = dict(credentials) if credentials is not None else None
        if self.credentials is not None:
            # Imported here, once, not at module import: botocore costs a tenth of a second
            # and an open endpoint never needs it.
            from botocore.auth import SIGNED_HEADERS_BLACKLIST, SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials

            self._signer_parts = (SigV4Auth, AWSRequest, Credentials)
            # Headers botocore's signer leaves out of a canonical request even when named.
            self._unsigned_headers = frozenset(SIGNED_HEADERS_BLACKLIST)
        self._keys: dict[tuple[str, str, str, str], _Keyed] = {}
        # signed header names -> (the ones a canonical request holds, sorted; ";"-joined)
        self._names: dict[tuple[str, ...], tuple[list[str], str]] = {}

    @property
    def is_open(self) -> bool:
        return self.credentials is None

    def check(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> None:
        """:meth:`verify` without its result, for a caller that only needs the verdict.
        Open, a well-formed header is all there is to check: the parse of its fields is
        then skipped (a third of verify's 0.9 us)."""
        if self.credentials is None:
            header = headers.get("authorization")
            if header:
                prefix, sep, signature = header.rpartition(", Signature=")
                if sep and _is_signature(signature) and _parse_prefix(prefix) is not None:
                    return
        self.verify(method, path, query, headers, body)

    def verify(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        now: datetime | None = None,
    ) -> Authorization:
        """Check one request. ``headers`` maps lower-case names to values (repeated headers
        joined with ","); ``body`` is the body as received (before any Content-Encoding is
        undone). Returns the parsed Authorization; raises a DynamoDBError."""
        header = headers.get("authorization")
        if not header:
            raise MissingAuthenticationTokenException(MESSAGES["missing"])
        auth = parse_authorization(header)
        if self.credentials is None:
            return auth
        secret = self.credentials.get(auth.access_key_id)
        if secret is None:
            raise UnrecognizedClientException(MESSAGES["unknown_key"])
        amz_date = headers.get("x-amz-date", "")
        try:
            signed_at = _parse_amz_date(amz_date)
        except ValueError:
            raise IncompleteSignatureException(MESSAGES["no_date"]) from None
        now_s = _time() if now is None else now.timestamp()  # (seconds: no datetimes made)
        if signed_at < now_s - MAX_SKEW_S:
            raise InvalidSignatureException(
                MESSAGES["expired"].format(
                    signed=amz_date,
                    earliest=_amz_date(now_s - MAX_SKEW_S),
                    now=_amz_date(now_s),
                )
            )
        if signed_at > now_s + MAX_SKEW_S:
            raise InvalidSignatureException(
                MESSAGES["not_current"].format(
                    signed=amz_date,
                    latest=_amz_date(now_s + MAX_SKEW_S),
                    now=_amz_date(now_s),
                )
            )
        if auth.date != amz_date[:8]:
            raise InvalidSignatureException(MESSAGES["scope_date"].format(date=auth.date))
        if "host" not in auth.signed_headers:
            raise InvalidSignatureException(MESSAGES["mismatch"])
        expected = self._expected_signature(method, path, query, headers, body, auth, secret)
        if not hmac.compare_digest(expected.encode(), auth.signature.encode()):
            raise InvalidSignatureException(MESSAGES["mismatch"])
        return auth

    def _expected_signature(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        auth: Authorization,
        secret: str,
    ) -> str:
        """The signature ``auth``'s signed headers and ``body`` should carry.

        A DynamoDB request (``POST /``, no query) has its canonical request built here,
        by the rules botocore's signer follows (signed headers minus the ones it never
        signs, sorted, values with runs of whitespace made one space; sha256 of the body),
        and the signing key of (secret, day, region, service) is derived once a day, not
        per request. Any other request goes through botocore's signer whole.
        :meth:`reference_signature` is that path, and tests check both agree."""
        claimed = (
            headers.get("x-amz-content-sha256", "")
            if "x-amz-content-sha256" in auth.signed_headers
            else None
        )
        if claimed is not None and claimed != hashlib.sha256(body).hexdigest():
            # botocore's signer takes this header's word for the body's hash; a verifier
            # must not, or any body would pass under a signature over another.
            raise InvalidSignatureException(MESSAGES["mismatch"])
        if path != "/" or query or claimed is not None:
            return self.reference_signature(method, path, query, headers, body, auth, secret)
        names, joined = self._canonical_names(auth.signed_headers)
        lines = []
        for name in names:
            value = headers.get(name, "")
            lines.append(f"{name}:{' '.join(value.split())}")
        canonical = "\n".join(
            (
                method.upper(),
                "/",
                "",
                "\n".join(lines) + "\n",
                joined,
                hashlib.sha256(body).hexdigest(),
            )
        )
        timestamp = headers["x-amz-date"]
        day = timestamp[:8]
        string_to_sign = "\n".join(
            (
                ALGORITHM,
                timestamp,
                f"{day}/{auth.region}/{auth.service}/aws4_request",
                hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
            )
        )
        inner, outer = self._signing_key(secret, day, auth.region, auth.service)
        h = inner.copy()  # HMAC-SHA256 (RFC 2104) from the key's prepared pads
        h.update(string_to_sign.encode("utf-8"))
        o = outer.copy()
        o.update(h.digest())
        return o.hexdigest()

    def _canonical_names(self, signed_headers: tuple[str, ...]) -> tuple[list[str], str]:
        """The signed headers a canonical request lists (botocore's signer leaves some out
        even when named), sorted, and joined with ";": the same for every request of a
        client, so worked out once."""
        got = self._names.get(signed_headers)
        if got is None:
            names = sorted({n for n in signed_headers if n not in self._unsigned_headers})
            got = (names, ";".join(names))
            if len(self._names) >= MAX_CACHED_KEYS:
                self._names.clear()
            self._names[signed_headers] = got
        return got

    def _signing_key(self, secret: str, day: str, region: str, service: str) -> _Keyed:
        """SigV4's derived key, four HMACs, ready to sign with: the same for a whole day of
        one client."""
        cache_key = (secret, day, region, service)
        keyed = self._keys.get(cache_key)
        if keyed is None:
            key = f"AWS4{secret}".encode()
            for part in (day, region, service, "aws4_request"):
                key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
            keyed = _keyed_sha256(key)
            if len(self._keys) >= MAX_CACHED_KEYS:
                self._keys.clear()
            self._keys[cache_key] = keyed
        return keyed

    def reference_signature(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        auth: Authorization,
        secret: str,
    ) -> str:
        """The expected signature computed by botocore's signer from the canonical request
        it builds: the reference the fast path must agree with."""
        sigv4_auth, aws_request, credentials = self._signer_parts
        signed = {name: headers.get(name, "") for name in auth.signed_headers}
        url = f"http://{signed['host']}{path}" + (f"?{query}" if query else "")
        request = aws_request(method=method, url=url, headers=signed, data=body)
        request.context["timestamp"] = headers["x-amz-date"]
        signer = sigv4_auth(credentials(auth.access_key_id, secret), auth.service, auth.region)
        canonical = signer.canonical_request(request)
        return signer.signature(signer.string_to_sign(request, canonical), request)
