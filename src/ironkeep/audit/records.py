"""CloudTrail event records (``eventVersion`` 1.11) for Ironkeep's API calls. Pure.

:func:`build_record` turns what the request pipeline knows after a call (a
:class:`CallRecordInput`) into the JSON object CloudTrail would log for it::

    {"eventVersion": "1.11", "userIdentity": {...}, "eventTime": "2024-05-06T07:08:09Z",
     "eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "awsRegion": "us-east-1",
     "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2.15.0", "requestParameters": {...},
     "responseElements": {...}, "requestID": "...", "eventID": "...", "readOnly": false,
     "resources": [...], "eventType": "AwsApiCall", "managementEvent": true,
     "recipientAccountId": "123456789012", "eventCategory": "Management"}

``errorCode``/``errorMessage`` appear only on failure; ``resources`` only when some are known.
Secrets never appear: see :mod:`ironkeep.audit.elements` for the redaction rules; in addition
an error message that echoes a secret value of the call has it replaced by
``HIDDEN_DUE_TO_SECURITY_REASONS``.

``responseElements`` follow CloudTrail: ``null`` for a failed call and for a read-only call
(``Get*``/``List*`` responses are not logged), except the STS calls that issue credentials, whose
response is logged (without the secret key and, in Ironkeep, without the session token).
"""

from __future__ import annotations

import copy
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from botocore.model import ListShape, MapShape, StructureShape

from ironkeep.audit.elements import (
    cloudtrail_name,
    is_secret,
    issues_credentials,
    operation_model,
    request_parameters,
    response_elements,
    secret_values,
)

EVENT_VERSION = "1.11"
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
#: ``userIdentity.type`` values Ironkeep writes.
IDENTITY_TYPES = frozenset(
    {
        "Root",
        "IAMUser",
        "AssumedRole",
        "Role",
        "FederatedUser",
        "WebIdentityUser",
        "SAMLUser",
        "AWSService",
        "Unknown",
    }
)
_SOURCES = {"accessanalyzer": "access-analyzer.amazonaws.com"}
_GLOBAL_SERVICES = frozenset({"iam"})
_DEFAULT_REGION = "us-east-1"
#: ARN resource prefixes → CloudTrail resource types.
_RESOURCE_TYPES = {
    ("iam", "user"): "AWS::IAM::User",
    ("iam", "role"): "AWS::IAM::Role",
    ("iam", "group"): "AWS::IAM::Group",
    ("iam", "policy"): "AWS::IAM::Policy",
    ("iam", "instance-profile"): "AWS::IAM::InstanceProfile",
    ("iam", "saml-provider"): "AWS::IAM::SAMLProvider",
    ("iam", "oidc-provider"): "AWS::IAM::OIDCProvider",
    ("iam", "server-certificate"): "AWS::IAM::ServerCertificate",
    ("sts", "assumed-role"): "AWS::STS::AssumedRole",
    ("sts", "federated-user"): "AWS::STS::FederatedUser",
    ("access-analyzer", "analyzer"): "AWS::AccessAnalyzer::Analyzer",
}


@dataclass(frozen=True)
class SessionIssuer:
    """Who issued a temporary session: the role (or user, or root) behind it."""

    type: str  # "Role", "IAMUser" or "Root"
    principal_id: str
    arn: str
    account_id: str
    user_name: str | None = None


@dataclass(frozen=True)
class Caller:
    """The authenticated principal of a call, as ``userIdentity`` describes it.

    ``type`` is one of :data:`IDENTITY_TYPES`. Set ``session_created`` (and ``mfa_authenticated``)
    when the call was signed with temporary credentials; ``session_issuer`` for role sessions
    and federated users; ``identity_provider`` for SAML and web identity users; ``invoked_by`` for
    AWS services. ``type="Unknown"`` with whatever is known serves failed authentication.
    """

    type: str
    principal_id: str | None = None
    arn: str | None = None
    account_id: str | None = None
    user_name: str | None = None
    session_issuer: SessionIssuer | None = None
    session_created: datetime | None = None
    mfa_authenticated: bool = False
    source_identity: str | None = None
    identity_provider: str | None = None
    invoked_by: str | None = None

    def __post_init__(self) -> None:
        if self.type not in IDENTITY_TYPES:
            raise ValueError(f"unknown userIdentity type {self.type!r}")


@dataclass(frozen=True)
class ResourceRef:
    """A resource the call touched: ``{"accountId", "type", "ARN"}`` in the record (``accountId``
    left out when empty, e.g. for AWS managed policies, whose ARNs name the account ``aws``)."""

    type: str
    arn: str
    account_id: str


def new_event_id(now_ns: int | None = None) -> str:
    """A fresh ``eventID``: a UUID in RFC 9562's version 7 layout (48 bits of Unix time in
    milliseconds, then 74 random bits), so later ids sort later. CloudTrail's are random
    version-4 UUIDs; clients take them as opaque strings, and ids that grow with time keep the
    trail's B-trees appending at their end instead of writing a random page per record (on a
    trail of 100,000 records, 66 -> 19 us of CPU per record written). An id is no secret: the
    random bits come from :mod:`random` (reseeded in every forked worker), not the kernel.

    The text before the random bits is the millisecond's, kept while the millisecond lasts: the
    records of a busy millisecond share it (formatting it costs as much as the rest of an id)."""
    global _last_millisecond
    ms = (time.time_ns() if now_ns is None else now_ns) // 1_000_000 & _MS_MASK
    last, head = _last_millisecond
    if ms != last:
        digits = f"{ms:012x}"
        head = f"{digits[:8]}-{digits[8:]}-7"
        _last_millisecond = (ms, head)  # one tuple: threads see all or nothing
    rand = random.getrandbits(74)  # rand_a (12 bits), then rand_b (62) after the variant's 0b10
    tail = f"{(rand >> 62) << 64 | _VARIANT | (rand & _RAND_B_MASK):019x}"
    return f"{head}{tail[:3]}-{tail[3:7]}-{tail[7:]}"


_last_millisecond = (-1, "")
_VARIANT = 0b10 << 62


def event_id_at(when: datetime) -> str:
    """A fresh ``eventID`` whose time is the event's own (``eventTime``, to the millisecond), so
    that the id tells which second's records hold it: a run of records shares one row of the
    trail, indexed under its first id (see :mod:`ironkeep.services.audit_trail`), and a look-up by
    ``EventId`` finds the others in their second."""
    return new_event_id((when - _UNIX_EPOCH) // _MICROSECOND * 1000)


def event_id_second(event_id: str) -> datetime | None:
    """The second :func:`event_id_at` made ``event_id`` in (None: not such an id)."""
    if len(event_id) != 36 or event_id[14] != "7" or not _LOWER_HEX.fullmatch(event_id):
        return None
    ms = int(event_id[:8] + event_id[9:13], 16)
    return _UNIX_EPOCH + timedelta(seconds=ms // 1000)


_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_LOWER_HEX = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def new_request_id() -> str:
    """A fresh random (version 4) UUID, as AWS's request ids are; from :mod:`random` (no secret),
    formatted by hand: ``str(uuid.uuid4())`` costs three times as much."""
    return _uuid_text(random.getrandbits(128) & _V4_CLEAR | _V4_SET)


def _uuid_text(value: int) -> str:
    """A 128-bit value in the UUID's text form."""
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_V4_CLEAR = ~(0xF << 76 | 0x3 << 62) & ((1 << 128) - 1)
_V4_SET = 0x4 << 76 | 0b10 << 62
_MS_MASK = (1 << 48) - 1
_RAND_B_MASK = (1 << 62) - 1


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs several times as much
class CallRecordInput:
    """Everything the request pipeline knows once a call has finished (successfully or not).

    ``parameters`` is the input dict as the protocol layer decoded it (model member names,
    Python values); ``output`` the handler's output dict (``None`` on failure). ``error_code``
    and ``error_message`` are set on failure. ``time`` must be timezone-aware (UTC is used).
    ``saml_assertion_id`` is the ``ID`` of the assertion of an AssumeRoleWithSAML call, logged
    as ``requestParameters.sAMLAssertionID`` in place of the assertion. ``resources`` come first,
    then those :func:`build_record` finds itself (ARNs in the logged parameters, else response).
    """

    service: str
    operation: str
    time: datetime
    request_id: str
    recipient_account_id: str
    read_only: bool
    parameters: Mapping[str, Any] = field(default_factory=dict)
    output: Mapping[str, Any] | None = None
    error_code: str | None = None
    error_message: str | None = None
    caller: Caller | None = None
    access_key_id: str | None = None
    region: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    saml_assertion_id: str | None = None
    from_console: bool = False
    resources: tuple[ResourceRef, ...] = ()
    event_id: str = ""  # "": a fresh one at the call's time (event_id_at)


def iso_time(value: datetime) -> str:
    """CloudTrail's ``eventTime``/``creationDate`` form: ``2024-05-06T07:08:09Z`` (UTC).

    The text of the last second formatted is kept: the records of a busy second share it, and
    comparing two times costs a tenth of formatting one."""
    v = value if value.tzinfo is UTC else value.astimezone(UTC)
    start, end, text = _last_second
    if start <= v < end:
        return text
    return _format_second(v)


def _format_second(v: datetime) -> str:
    global _last_second
    text = v.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
    if v.year < 9999:  # the last second of year 9999 has no end
        start = v.replace(microsecond=0)
        _last_second = (start, start + _SECOND, text)  # one tuple: threads see all or nothing
    return text


_SECOND = timedelta(seconds=1)
_last_second = (datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC), "")


def event_source(service: str) -> str:
    """``iam`` → ``iam.amazonaws.com`` (``accessanalyzer`` → ``access-analyzer.amazonaws.com``)."""
    return _SOURCES.get(service, f"{service}.amazonaws.com")


class _Operation(NamedTuple):
    """What every record of one operation shares, found once per operation."""

    source: str  # eventSource
    region: str | None  # awsRegion of every record (a global service's), or None: the call's
    issues_credentials: bool
    # (member, logged name) of the request's members that are plain values (strings, numbers,
    # booleans) and no secret, in the model's order; None when the request has no model
    plain: tuple[tuple[str, str], ...] | None
    nested: tuple[str, ...]  # the other members that are no secret (structures, lists, ...)


@lru_cache(maxsize=1024)
def _operation(service: str, operation: str) -> _Operation:
    region = _DEFAULT_REGION if service in _GLOBAL_SERVICES else None
    model = operation_model(service, operation)
    shape = model.input_shape if model is not None else None
    plain: tuple[tuple[str, str], ...] | None = None
    nested: tuple[str, ...] = ()
    if isinstance(shape, StructureShape):
        members = [(n, m) for n, m in shape.members.items() if not is_secret(n, m)]
        plain = tuple((n, cloudtrail_name(n)) for n, m in members if _is_plain(m))
        nested = tuple(n for n, m in members if not _is_plain(m))
    return _Operation(event_source(service), region, issues_credentials(service, operation), plain, nested)


def logs_response(service: str, operation: str, read_only: bool) -> bool:
    """Whether a successful call's record carries ``responseElements``: a change's, and a read's
    that issues credentials (STS's AssumeRole family, redacted); other reads log ``null``."""
    return not read_only or _operation(service, operation).issues_credentials


def _is_plain(shape: Any) -> bool:
    """A member :func:`request_parameters` logs as it is given when it is a plain value."""
    return not isinstance(shape, StructureShape | ListShape | MapShape) and shape.type_name not in (
        "timestamp",
        "blob",
    )


_PLAIN_VALUES = frozenset({str, int, bool, float})


def _request_parameters(
    op: _Operation, service: str, operation: str, params: Mapping[str, Any]
) -> dict[str, Any] | None:
    """:func:`request_parameters`, without walking the model when the request holds only plain
    values in plain members (most calls: names, ARNs, markers, counts); else the general way."""
    if op.plain is None or type(params) is not dict:
        return request_parameters(service, operation, params)
    logged: dict[str, Any] = {}
    for name, key in op.plain:
        value = params.get(name)
        if value is not None:
            if type(value) not in _PLAIN_VALUES:
                return request_parameters(service, operation, params)
            logged[key] = value
    for name in op.nested:
        if params.get(name) is not None:
            return request_parameters(service, operation, params)
    return logged or None


def read_parameters(
    service: str, operation: str, parameters: Mapping[str, Any], account: str
) -> tuple[dict[str, Any] | None, bool]:
    """A successful read's ``requestParameters`` as :func:`build_record` logs them, and whether its
    record lists ``resources`` (an ARN among them names one)."""
    params = _request_parameters(_operation(service, operation), service, operation, parameters)
    return params, bool(params) and bool(_resources((), params, None, account))


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _issuer(issuer: SessionIssuer | None) -> dict[str, Any]:
    if issuer is None:
        return {}
    return _drop_none(
        {
            "type": issuer.type,
            "principalId": issuer.principal_id,
            "arn": issuer.arn,
            "accountId": issuer.account_id,
            "userName": issuer.user_name,
        }
    )


def user_identity(caller: Caller | None, access_key_id: str | None) -> dict[str, Any]:
    """The record's ``userIdentity`` (a new dict: the caller may change it)."""
    return copy.deepcopy(_user_identity(caller, access_key_id))


@lru_cache(maxsize=4096)
def _user_identity(caller: Caller | None, access_key_id: str | None) -> dict[str, Any]:
    """:func:`user_identity`, built once per caller and key (a steady caller makes many calls);
    the dict is shared by the records that use it and must not be changed."""
    if caller is None:
        return _drop_none({"type": "Unknown", "accessKeyId": access_key_id})
    if caller.type == "AWSService":
        return _drop_none({"type": "AWSService", "invokedBy": caller.invoked_by})
    identity = _drop_none(
        {
            "type": caller.type,
            "principalId": caller.principal_id,
            "arn": caller.arn,
            "accountId": caller.account_id,
            "accessKeyId": access_key_id,
            "userName": caller.user_name,
            "identityProvider": caller.identity_provider,
            "invokedBy": caller.invoked_by,
        }
    )
    if caller.session_created is not None or caller.type in ("AssumedRole", "FederatedUser"):
        attributes = {"mfaAuthenticated": "true" if caller.mfa_authenticated else "false"}
        if caller.session_created is not None:
            attributes = {"creationDate": iso_time(caller.session_created), **attributes}
        context: dict[str, Any] = {
            "sessionIssuer": _issuer(caller.session_issuer),
            "webIdFederationData": {},
            "attributes": attributes,
        }
        if caller.source_identity is not None:
            context["sourceIdentity"] = caller.source_identity
        identity["sessionContext"] = context
    return identity


def resource_type(arn: str) -> str | None:
    """CloudTrail's resource type for an ARN (``arn:aws:iam::1:role/x`` → ``AWS::IAM::Role``)."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    prefix = parts[5].split("/", 1)[0]
    return _RESOURCE_TYPES.get((parts[2], prefix))


def _arns(element: Any, found: list[str]) -> None:
    """ARN values in a logged element (not inside lists: those are policy lists, not targets)."""
    if not isinstance(element, dict):
        return
    for key, value in element.items():
        if isinstance(value, str) and value.startswith("arn:") and key.lower().endswith("arn"):
            found.append(value)
        elif isinstance(value, dict):
            _arns(value, found)


def _resources(
    given: tuple[ResourceRef, ...], params: Any, response: Any, account: str
) -> list[dict[str, str]]:
    """The given resources, then those named by ARN in the request (``roleArn``, ``policyArn``)
    or, when the request names none (``CreateRole``), in the response (``role.arn``)."""
    arns: list[str] = []
    _arns(params, arns)
    if response is not None and not (arns and any(resource_type(arn) for arn in arns)):
        _arns(response, arns)
    if not arns and not given:
        return []
    refs = list(given)
    for arn in arns:
        kind = resource_type(arn)
        if kind is not None:
            owner = arn.split(":", 5)[4]
            refs.append(ResourceRef(kind, arn, owner if owner.isdigit() else ("" if owner else account)))
    out: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for ref in refs:
        if (ref.type, ref.arn) not in seen:
            seen.add((ref.type, ref.arn))
            entry = {"accountId": ref.account_id, "type": ref.type, "ARN": ref.arn}
            out.append(entry if ref.account_id else {"type": ref.type, "ARN": ref.arn})
    return out


def _scrub(text: str, secrets: set[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, HIDDEN)
    return text


def build_record(call: CallRecordInput) -> dict[str, Any]:
    """The CloudTrail event record of one call (see the module docstring)."""
    service, operation = call.service, call.operation
    op = _operation(service, operation)
    failed = call.error_code is not None
    params = _request_parameters(op, service, operation, call.parameters)
    if call.saml_assertion_id is not None:
        params = {"sAMLAssertionID": call.saml_assertion_id, **(params or {})}
    logs = not failed and logs_response(service, operation, call.read_only)
    response = response_elements(service, operation, call.output) if logs else None
    region = op.region or call.region or _DEFAULT_REGION

    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": _user_identity(call.caller, call.access_key_id),
        "eventTime": iso_time(call.time),
        "eventSource": op.source,
        "eventName": operation,
        "awsRegion": region,
        "sourceIPAddress": call.source_ip,
        "userAgent": call.user_agent,
    }
    if failed:
        record["errorCode"] = call.error_code
        secrets = secret_values(service, operation, ("in", call.parameters), ("out", call.output))
        record["errorMessage"] = _scrub(call.error_message or "", secrets)
    record["requestParameters"] = params
    record["responseElements"] = response
    record["requestID"] = call.request_id
    record["eventID"] = call.event_id or event_id_at(call.time)
    record["readOnly"] = call.read_only
    resources = _resources(call.resources, params, response, call.recipient_account_id)
    if resources:
        record["resources"] = resources
    record["eventType"] = "AwsApiCall"
    record["managementEvent"] = True
    record["recipientAccountId"] = call.recipient_account_id
    record["eventCategory"] = "Management"
    if call.from_console:
        record["sessionCredentialFromConsole"] = "true"
    return record
