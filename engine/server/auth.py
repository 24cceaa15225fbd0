"""AWS Signature Version 4 on incoming requests.

A request signed by an AWS SDK carries ``Authorization: AWS4-HMAC-SHA256
Credential=<key id>/<yyyymmdd>/<region>/<service>/aws4_request, SignedHeaders=<h1;h2>,
Signature=<hex>`` and ``X-Amz-Date``. :class:`Verifier` checks it in one of two modes:

- open (no credentials configured, as local DynamoDB endpoints run): any well-formed
  signature from any access key and region is accepted, nothing is computed;
- with credentials (``--credentials FILE``): the expected signature is computed by
  botocore's own signer (``botocore.auth.SigV4Auth``) from the canonical request rebuilt
  out of the signed headers and the raw body as received, so client and server agree by
  construction; the two are compared in constant time, and a signature dated more than
  15 minutes away from the server's clock is refused.

Errors are DynamoDB's: MissingAuthenticationTokenException (no Authorization),
IncompleteSignatureException (malformed), UnrecognizedClientException (unknown key id),
InvalidSignatureException (mismatch, expired). Secrets are never logged or put in a message.

The credentials file is INI in the AWS shared-credentials format: any number of sections,
each with ``aws_access_key_id`` and ``aws_secret_access_key``.

Thread-safety: a Verifier is immutable after construction; verify() may run in any thread.
"""

from __future__ import annotations

import configparser
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from engine.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)

__all__ = ["MESSAGES", "Authorization", "Verifier", "load_credentials", "parse_authorization"]

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)

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
_HEX = frozenset("0123456789abcdef")
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class Authorization:
    """The parts of a SigV4 Authorization header."""

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
    """Split a SigV4 Authorization header. Raises IncompleteSignatureException."""
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
    if len(signature) != 64 or not _HEX.issuperset(signature):
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


class Verifier:
    """Checks the SigV4 signature of requests; ``credentials`` None accepts any."""

    def __init__(self, credentials: dict[str, str] | None = None) -> None:
        self.credentials = dict(credentials) if credentials is not None else None
        if self.credentials is not None:
            # Imported here, once, not at module import: botocore costs a tenth of a second
            # and an open endpoint never needs it.
            from botocore.auth import SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials

            self._signer_parts = (SigV4Auth, AWSRequest, Credentials)

    @property
    def is_open(self) -> bool:
        return self.credentials is None

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
            signed_at = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC)
        except ValueError:
            raise IncompleteSignatureException(MESSAGES["no_date"]) from None
        now = now or datetime.now(UTC)
        if signed_at < now - MAX_SKEW:
            raise InvalidSignatureException(
                MESSAGES["expired"].format(
                    signed=amz_date,
                    earliest=(now - MAX_SKEW).strftime(_AMZ_DATE),
                    now=now.strftime(_AMZ_DATE),
                )
            )
        if signed_at > now + MAX_SKEW:
            raise InvalidSignatureException(
                MESSAGES["not_current"].format(
                    signed=amz_date,
                    latest=(now + MAX_SKEW).strftime(_AMZ_DATE),
                    now=now.strftime(_AMZ_DATE),
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
        sigv4_auth, aws_request, credentials = self._signer_parts
        signed = {name: headers.get(name, "") for name in auth.signed_headers}
        url = f"http://{signed['host']}{path}" + (f"?{query}" if query else "")
        request = aws_request(method=method, url=url, headers=signed, data=body)
        request.context["timestamp"] = headers["x-amz-date"]
        signer = sigv4_auth(credentials(auth.access_key_id, secret), auth.service, auth.region)
        canonical = signer.canonical_request(request)
        return signer.signature(signer.string_to_sign(request, canonical), request)
