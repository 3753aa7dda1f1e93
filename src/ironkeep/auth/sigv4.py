"""AWS Signature Version 4 verification: pure, no I/O, the clock comes in as ``now``.

Two steps, so that the caller can look up the secret key between them::

    parsed = parse_signed_request(method, path, query_string, headers, body)
    secret = <look up parsed.access_key_id; InvalidClientTokenId if unknown>
    verify_signature(parsed, secret, now)

``parse_signed_request`` reads the ``Authorization`` header (or the presigned ``X-Amz-*`` query
parameters) and rebuilds the canonical request and string to sign exactly as the client's signer
did; ``verify_signature`` checks scope, time window and the HMAC. Rules are those of non-S3
services: the URI path is normalised (dot segments and repeated slashes removed) and encoded once
more; the query is decoded, re-encoded and sorted; signed header values are trimmed with runs of
whitespace folded; the payload hash is ``x-amz-content-sha256`` (which must hash the body) or the
SHA-256 of the body.

``path`` is the request target's path as it travelled on the wire (percent-encoded, e.g. ASGI's
``raw_path`` decoded as latin-1); ``query_string`` likewise the raw query without ``?``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import quote, unquote_to_bytes

from ironkeep.auth.errors import (
    IncompleteSignature,
    MissingAuthenticationToken,
    RequestExpired,
    SignatureDoesNotMatch,
    XAmzContentSHA256Mismatch,
)

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
DEFAULT_SERVICES: frozenset[str] = frozenset({"iam", "sts"})
MAX_CLOCK_SKEW = timedelta(minutes=15)
MAX_PRESIGNED_EXPIRES = 604800  # seven days, as AWS allows
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

_AMZ_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")
_ASCII_AMZ_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_REGION = re.compile(r"[a-z0-9-]{1,64}")
_WHITESPACE_RUN = re.compile(r"[ \t\r\n\v\f]+")
_PRESIGN_REQUIRED = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-SignedHeaders",
    "X-Amz-Date",
)

HeadersInput = Mapping[str, str] | Iterable[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What a signed request claims, plus the string to sign rebuilt from what arrived."""

    access_key_id: str
    region: str
    service: str
    date: datetime  # the signing time (UTC)
    signed_headers: tuple[str, ...]
    signature: str
    session_token: str | None
    is_presigned: bool
    expires: int | None  # X-Amz-Expires of a presigned URL, in seconds
    scope_date: str  # YYYYMMDD of the credential scope
    canonical_request: str
    string_to_sign: str

    @property
    def credential_scope(self) -> str:
        return f"{self.scope_date}/{self.region}/{self.service}/{TERMINATOR}"


# ----------------------------------------------------------------------------------------------
# parsing


def parse_signed_request(
    method: str, path: str, query_string: str, headers: HeadersInput, body: bytes
) -> SignedRequest:
    """Parse a SigV4-signed request (header or presigned form) and rebuild its string to sign.

    Raises MissingAuthenticationToken, IncompleteSignature, SignatureDoesNotMatch (scope or
    date inconsistencies) or XAmzContentSHA256Mismatch.
    """
    header_map = _header_map(headers)
    query = _parse_query(query_string) if query_string else []
    params = _first_values(query) if query else {}
    authorization = header_map.get("authorization")
    if authorization is not None and "X-Amz-Algorithm" in params:
        raise IncompleteSignature(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the "
            "Authorization header should be specified"
        )
    if authorization is not None:
        claim = _claim_from_header(authorization[0], header_map)
    elif "X-Amz-Algorithm" in params:
        claim = _claim_from_query(params)
    else:
        raise MissingAuthenticationToken()

    access_key_id, scope_date, region, service = _parse_credential(claim.credential)
    if scope_date != claim.amz_date[:8]:
        raise SignatureDoesNotMatch(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{scope_date}' != '{claim.amz_date[:8]}', from '{claim.amz_date}'."
        )
    signed_headers = _parse_signed_headers(claim.signed_headers)

    payload_hash = _payload_hash(header_map, body)
    canonical_query = _canonical_query(query, drop_signature=claim.presigned)
    canonical_request = "\n".join(
        (
            method.upper(),
            canonical_uri(path),
            canonical_query,
            _canonical_headers(signed_headers, header_map),
            ";".join(signed_headers),
            payload_hash,
        )
    )
    scope = f"{scope_date}/{region}/{service}/{TERMINATOR}"
    string_to_sign = "\n".join(
        (
            ALGORITHM,
            claim.amz_date,
            scope,
            hashlib.sha256(canonical_request.encode("utf-8", "surrogatepass")).hexdigest(),
        )
    )
    token = params.get("X-Amz-Security-Token") if claim.presigned else None
    if token is None:
        token = _first(header_map, "x-amz-security-token")
    return _signed_request(
        access_key_id,
        region,
        service,
        claim.date,
        signed_headers,
        claim.signature,
        token,
        claim.presigned,
        claim.expires,
        scope_date,
        canonical_request,
        string_to_sign,
    )


def _slot_setter(name: str) -> Callable[[SignedRequest, Any], None]:
    setter: Callable[[SignedRequest, Any], None] = getattr(SignedRequest, name).__set__
    return setter


_set_access_key_id = _slot_setter("access_key_id")
_set_region = _slot_setter("region")
_set_service = _slot_setter("service")
_set_date = _slot_setter("date")
_set_signed_headers = _slot_setter("signed_headers")
_set_signature = _slot_setter("signature")
_set_session_token = _slot_setter("session_token")
_set_is_presigned = _slot_setter("is_presigned")
_set_expires = _slot_setter("expires")
_set_scope_date = _slot_setter("scope_date")
_set_canonical_request = _slot_setter("canonical_request")
_set_string_to_sign = _slot_setter("string_to_sign")


def _signed_request(
    access_key_id: str,
    region: str,
    service: str,
    date: datetime,
    signed_headers: tuple[str, ...],
    signature: str,
    session_token: str | None,
    is_presigned: bool,
    expires: int | None,
    scope_date: str,
    canonical_request: str,
    string_to_sign: str,
) -> SignedRequest:
    """``SignedRequest(...)`` for the hot path, at half the cost.

    A frozen dataclass's ``__init__`` sets each of the twelve fields through
    ``object.__setattr__``; the slots' own descriptors set them directly. The instance is the
    same: frozen, equal to and hashing as one built by ``__init__`` (tests/auth check it).
    """
    request = object.__new__(SignedRequest)
    _set_access_key_id(request, access_key_id)
    _set_region(request, region)
    _set_service(request, service)
    _set_date(request, date)
    _set_signed_headers(request, signed_headers)
    _set_signature(request, signature)
    _set_session_token(request, session_token)
    _set_is_presigned(request, is_presigned)
    _set_expires(request, expires)
    _set_scope_date(request, scope_date)
    _set_canonical_request(request, canonical_request)
    _set_string_to_sign(request, string_to_sign)
    return request


class _Claim(NamedTuple):
    presigned: bool
    credential: str
    signed_headers: str
    signature: str
    date: datetime
    expires: int | None
    amz_date: str  # the date as it enters the string to sign (ISO-8601 basic)


def _check_algorithm(algorithm: str) -> None:
    if algorithm != ALGORITHM:
        raise IncompleteSignature(f"Unsupported AWS 'algorithm': '{algorithm}'.")


def _claim_from_header(value: str, header_map: Mapping[str, list[str]]) -> _Claim:
    fields = _authorization_fields(value)
    credential, signature, signed_headers = (
        fields.get("Credential"),
        fields.get("Signature"),
        fields.get("SignedHeaders"),
    )
    amz_date = _first(header_map, "x-amz-date")
    http_date = _first(header_map, "date") if amz_date is None else None
    if not (credential and signature and signed_headers) or (amz_date is None and http_date is None):
        raise _incomplete_header(fields, amz_date is not None or http_date is not None, value)
    if amz_date is not None:
        date, basic = _parse_amz_date(amz_date)
    else:
        date = _parse_http_date(http_date or "")
        basic = _basic(date)
    return _Claim(False, credential, signed_headers, signature, date, None, basic)


_HEADER_FIELDS = ("Credential", "Signature", "SignedHeaders")


def _incomplete_header(fields: Mapping[str, str], has_date: bool, value: str) -> IncompleteSignature:
    problems = [
        f"Authorization header requires '{name}' parameter."
        for name in _HEADER_FIELDS
        if not fields.get(name)
    ]
    if not has_date:
        problems.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    return IncompleteSignature(" ".join(problems) + f" Authorization={value}")


def _authorization_fields(value: str) -> dict[str, str]:
    """The ``key=value`` fields of an ``Authorization`` header after its algorithm (the first of
    a repeated key counts); IncompleteSignature for another algorithm or a part without ``=``.

    All before the last comma (algorithm, Credential, SignedHeaders) is the same in every request
    a client signs in a day: it is parsed once (``_leading_fields``), the Signature after it each
    time. Anything unusual takes the general parse, which raises the errors.
    """
    head, comma, last = value.rpartition(",")
    leading = _leading_fields(head) if comma else None
    if leading is None:
        return _parse_authorization(value)
    fields = dict(leading)
    if not _add_field(fields, last):
        return _parse_authorization(value)
    return fields


@lru_cache(maxsize=256)
def _leading_fields(head: str) -> dict[str, str] | None:
    """The fields of the part of an Authorization header before its last comma, or None if that
    part does not parse (the caller then takes the general path). Not to be mutated: cached."""
    algorithm, space, rest = head.lstrip().partition(" ")
    if not space or algorithm != ALGORITHM:
        return None
    fields: dict[str, str] = {}
    for part in rest.split(","):
        if not _add_field(fields, part):
            return None
    return fields


def _parse_authorization(value: str) -> dict[str, str]:
    algorithm, _, rest = value.strip().partition(" ")
    _check_algorithm(algorithm)
    fields: dict[str, str] = {}
    for part in rest.split(","):
        if not _add_field(fields, part):
            raise IncompleteSignature(
                f"'{part.strip()}' not a valid key=value pair (missing equal-sign) in Authorization header: '{value}'."
            )
    return fields


def _add_field(fields: dict[str, str], part: str) -> bool:
    """Add the ``key=value`` of one comma-separated part unless ``key`` is there already; an
    empty part adds nothing. False if the part has no ``=``."""
    part = part.strip()
    if not part:
        return True
    key, eq, value = part.partition("=")
    if not eq:
        return False
    fields.setdefault(key.strip(), value.strip())
    return True


def _claim_from_query(params: Mapping[str, str]) -> _Claim:
    missing = [name for name in _PRESIGN_REQUIRED if not params.get(name)]
    if missing:
        raise IncompleteSignature(
            " ".join(f"AWS query-string parameters must include '{name}'." for name in missing)
            + " Re-examine the query-string parameters."
        )
    _check_algorithm(params["X-Amz-Algorithm"])
    expires = _parse_expires(params["X-Amz-Expires"]) if "X-Amz-Expires" in params else None
    date, basic = _parse_amz_date(params["X-Amz-Date"])
    return _Claim(
        True,
        params["X-Amz-Credential"],
        params["X-Amz-SignedHeaders"],
        params["X-Amz-Signature"],
        date,
        expires,
        basic,
    )


def _parse_amz_date(value: str) -> tuple[datetime, str]:
    """The signing time of ``X-Amz-Date`` and its ISO-8601 basic text for the string to sign.

    ``\\d`` admits any Unicode digit (the string to sign then holds the ASCII rewriting); a
    date in ASCII digits, which is every client's, is its own basic text and is read by
    ``fromisoformat`` (C, rejecting the same out-of-range fields as ``datetime(...)``).
    """
    if _ASCII_AMZ_DATE.fullmatch(value) is not None:
        try:
            return datetime.fromisoformat(value), value
        except ValueError:
            pass
    else:
        match = _AMZ_DATE.fullmatch(value)
        if match is not None:
            year, month, day, hour, minute, second = (int(group) for group in match.groups())
            try:
                date = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
                return date, _basic(date)
            except ValueError:
                pass
    raise IncompleteSignature(
        f"Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
    )


def _parse_http_date(value: str) -> datetime:
    try:
        parsed = parsedate_to_datetime(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        raise IncompleteSignature(f"Date header is not a valid HTTP date. Got '{value}'.") from None


def _parse_expires(value: str) -> int:
    if not value.isascii() or not value.isdigit():
        raise IncompleteSignature(f"X-Amz-Expires should be a number. Got '{value}'.")
    expires = int(value)
    if expires > MAX_PRESIGNED_EXPIRES:
        raise IncompleteSignature(
            f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGNED_EXPIRES}"
        )
    return expires


@lru_cache(maxsize=1024)  # a client sends the same credential scope all day
def _parse_credential(credential: str) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or not all(parts):
        raise IncompleteSignature(
            f"Credential must have exactly 5 slash-delimited elements, "
            f"e.g. keyid/date/region/service/term, got '{credential}'"
        )
    access_key_id, scope_date, region, service, terminator = parts
    if terminator != TERMINATOR:
        raise SignatureDoesNotMatch(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{terminator}'. "
        )
    if _REGION.fullmatch(region) is None:
        raise SignatureDoesNotMatch(f"Credential should be scoped to a valid region, not '{region}'. ")
    return access_key_id, scope_date, region, service


@lru_cache(maxsize=256)
def _parse_signed_headers(value: str) -> tuple[str, ...]:
    names = sorted({name.strip().lower() for name in value.split(";") if name.strip()})
    if "host" not in names:
        raise IncompleteSignature("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    return tuple(names)


# ----------------------------------------------------------------------------------------------
# canonical request


@lru_cache(maxsize=256)
def canonical_uri(path: str) -> str:
    """The canonical URI of a non-S3 service: dot segments and empty segments removed, encoded."""
    if not path:
        return "/"
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    normalised = "/" + "/".join(kept)
    if kept and path.endswith("/"):
        normalised += "/"
    return quote(normalised.encode("utf-8", "surrogatepass"), safe="/~")


def _parse_query(query_string: str) -> list[tuple[bytes, bytes]]:
    pairs: list[tuple[bytes, bytes]] = []
    for piece in query_string.split("&"):
        if not piece:
            continue
        key, _, value = piece.partition("=")
        pairs.append((_unquote(key), _unquote(value)))
    return pairs


def _unquote(text: str) -> bytes:
    # Form decoding: botocore puts a space as '+' on the wire but signs it as '%20'.
    return unquote_to_bytes(text.encode("utf-8", "surrogatepass").replace(b"+", b" "))


def _first_values(pairs: list[tuple[bytes, bytes]]) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in pairs:
        params.setdefault(key.decode("utf-8", "replace"), value.decode("utf-8", "replace"))
    return params


def _canonical_query(pairs: list[tuple[bytes, bytes]], *, drop_signature: bool) -> str:
    if not pairs:  # a POST's query: empty
        return ""
    encoded = sorted(
        (quote(key, safe="~"), quote(value, safe="~"))
        for key, value in pairs
        if not (drop_signature and key == b"X-Amz-Signature")
    )
    return "&".join(f"{key}={value}" for key, value in encoded)


def _header_map(headers: HeadersInput) -> dict[str, list[str]]:
    # a list (the ASGI app's pairs) first: isinstance against the Mapping ABC costs ~0.5 µs
    items = headers if type(headers) is list or not isinstance(headers, Mapping) else headers.items()
    result: dict[str, list[str]] = {}
    for name, value in items:
        key = name.strip().lower()
        values = result.get(key)
        if values is None:
            result[key] = [value]
        else:
            values.append(value)
    return result


def _first(header_map: Mapping[str, list[str]], name: str) -> str | None:
    values = header_map.get(name)
    return values[0] if values else None


def _canonical_headers(signed_headers: tuple[str, ...], header_map: Mapping[str, list[str]]) -> str:
    lines = []
    for name in signed_headers:
        values = header_map.get(name, ())
        if len(values) == 1:
            lines.append(f"{name}:{_trimmed(values[0])}\n")
        else:
            lines.append(f"{name}:{','.join(_trimmed(v) for v in values)}\n")
    return "".join(lines)


def _trimmed(value: str) -> str:
    """A header value with runs of whitespace folded to one space, without spaces at the ends.

    Nothing to fold (no two spaces in a row, no other whitespace) is the common case; finding
    that out with ``in`` costs a fifth of running the regex.
    """
    if "  " in value or "\t" in value or "\n" in value or "\r" in value or "\v" in value or "\f" in value:
        return _WHITESPACE_RUN.sub(" ", value).strip(" ")
    return value.strip(" ")


def _payload_hash(header_map: Mapping[str, list[str]], body: bytes) -> str:
    computed = hashlib.sha256(body).hexdigest()
    claimed = _first(header_map, "x-amz-content-sha256")
    if claimed is None:
        return computed
    if claimed.strip().lower() != computed:
        raise XAmzContentSHA256Mismatch()
    return claimed.strip()


# ----------------------------------------------------------------------------------------------
# verification


def verify_signature(
    parsed: SignedRequest,
    secret_access_key: str,
    now: datetime,
    allowed_services: frozenset[str] = DEFAULT_SERVICES,
) -> None:
    """Check the scope's service, the time window and the signature; return None or raise.

    Raises SignatureDoesNotMatch (wrong service or signature) or RequestExpired (its subclass:
    date outside ±15 minutes of ``now``, or a presigned URL past ``X-Amz-Expires``).
    """
    if parsed.service not in allowed_services:
        expected = "', '".join(sorted(allowed_services))
        raise SignatureDoesNotMatch(f"Credential should be scoped to correct service: '{expected}'. ")
    _check_time(parsed, now if now.tzinfo is not None else now.replace(tzinfo=UTC))
    key = signing_key(secret_access_key, parsed.scope_date, parsed.region, parsed.service)
    signer = _keyed_hmac(key).copy()
    signer.update(parsed.string_to_sign.encode("utf-8"))
    expected_signature = signer.hexdigest()
    provided = parsed.signature.encode("utf-8", "replace")
    if not hmac.compare_digest(expected_signature.encode("ascii"), provided):
        raise SignatureDoesNotMatch()


def _check_time(parsed: SignedRequest, now: datetime) -> None:
    # differences, not sums: a claimed date near year 9999 must not overflow
    if parsed.date - now > MAX_CLOCK_SKEW:
        raise RequestExpired(
            f"Signature not yet current: {_basic(parsed.date)} is still later than "
            f"{_basic(now + MAX_CLOCK_SKEW)} ({_basic(now)} + 15 min.)"
        )
    if parsed.is_presigned and parsed.expires is not None:
        if now - parsed.date > timedelta(seconds=parsed.expires):
            raise RequestExpired("Request has expired")
    elif now - parsed.date > MAX_CLOCK_SKEW:
        raise RequestExpired(
            f"Signature expired: {_basic(parsed.date)} is now earlier than "
            f"{_basic(now - MAX_CLOCK_SKEW)} ({_basic(now)} - 15 min.)"
        )


def _basic(moment: datetime) -> str:
    """ISO-8601 basic format; by hand, since strftime drops the zero padding of years < 1000."""
    m = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    return f"{m.year:04d}{m.month:02d}{m.day:02d}T{m.hour:02d}{m.minute:02d}{m.second:02d}Z"


@lru_cache(maxsize=256)
def _keyed_hmac(key: bytes) -> hmac.HMAC:
    """An HMAC-SHA256 under ``key`` that has hashed nothing yet: a copy of it signs a message
    without setting the key up again (a third of ``hmac.new``'s cost). Copy it, never update it."""
    return hmac.new(key, None, hashlib.sha256)


@lru_cache(maxsize=256)
def signing_key(secret_access_key: str, scope_date: str, region: str, service: str) -> bytes:
    """The derived SigV4 key (kSigning); memoised, since one key signs many requests a day."""
    key = ("AWS4" + secret_access_key).encode("utf-8", "surrogatepass")
    for part in (scope_date, region, service, TERMINATOR):
        key = hmac.new(key, part.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return key
