"""``requestParameters`` and ``responseElements``: a call's input and output as CloudTrail logs them.

Both are rendered from botocore's model of the operation, never from the raw dicts alone:

* only members the model defines are written (anything else is dropped: an unknown key cannot be
  judged, so it is not logged);
* names are CloudTrail's: the model's member name with its first letter lower-cased
  (``UserName`` → ``userName``, ``SAMLAssertionID`` → ``sAMLAssertionID``, ``PolicyArn`` →
  ``policyArn``);
* timestamps use the Java-style ``"Oct 2, 2019, 11:12:29 PM"`` (UTC) CloudTrail writes inside
  these elements, blobs base64;
* **secrets are never written**: a member whose shape is marked ``"sensitive": true`` in the model
  (``passwordType``, ``accessKeySecretType``, ``privateKeyType``, ``SAMLAssertionType``,
  ``webIdentityTokenType``, ...) and any member named in :data:`NEVER_LOGGED` (MFA codes, which
  the model does not mark, and STS's ``SessionToken``; see :data:`NEVER_LOGGED`);
* an element with nothing left to log is ``None`` (JSON ``null``).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from ironkeep.protocol.json_protocol import json_service_model
from ironkeep.protocol.models import service_model

#: Member names never logged, whatever the model says. The model marks the passwords, secret
#: keys, private keys, MFA seeds, SAML assertions and web identity tokens ``sensitive``; these are
#: the ones it does not mark (or that are worth naming twice):
#:
#: * ``AuthenticationCode1``/``2`` and ``TokenCode``: TOTP codes, useless in a log and risky;
#: * ``SessionToken``: AWS logs STS ``credentials.sessionToken``; Ironkeep does not. The token is
#:   half of a usable credential (with the secret key), may carry sealed session state, and a
#:   reader of the log has no use for it: ``accessKeyId`` already identifies the session.
NEVER_LOGGED = frozenset(
    {
        "AuthenticationCode1",
        "AuthenticationCode2",
        "TokenCode",
        "SessionToken",
        "SecretAccessKey",
        "Password",
        "OldPassword",
        "NewPassword",
        "PrivateKey",
        "SAMLAssertion",
        "WebIdentityToken",
        "TradeInToken",
        "Base32StringSeed",
        "QRCodePNG",
        "ServicePassword",
        "ServiceCredentialSecret",
    }
)

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def cloudtrail_name(member: str) -> str:
    """CloudTrail's key for a model member: the first letter lower-cased, the rest unchanged."""
    return member[:1].lower() + member[1:]


def java_date(value: datetime) -> str:
    """``Oct 2, 2019, 11:12:29 PM``: how CloudTrail writes a timestamp inside its elements (UTC)."""
    when = value.astimezone(UTC) if value.tzinfo is not None else value
    hour = when.hour % 12 or 12
    half = "AM" if when.hour < 12 else "PM"
    return f"{_MONTHS[when.month - 1]} {when.day}, {when.year}, {hour}:{when.minute:02d}:{when.second:02d} {half}"


def is_secret(member: str, shape: Shape) -> bool:
    """Whether a member of this name and shape must never be logged."""
    return bool(shape.metadata.get("sensitive")) or member in NEVER_LOGGED


def _model(service: str) -> ServiceModel | None:
    for load in (service_model, json_service_model):
        try:
            return load(service)
        except LookupError:
            continue
    return None


@lru_cache(maxsize=1024)
def operation_model(service: str, operation: str) -> OperationModel | None:
    """botocore's model of the operation (Query or JSON service), or ``None`` if unknown."""
    model = _model(service)
    if model is None or operation not in model.operation_names:
        return None
    return model.operation_model(operation)


def _render(shape: Shape, value: Any) -> Any:
    """``value`` as CloudTrail logs it, or ``None`` when it cannot be rendered safely."""
    if isinstance(shape, StructureShape):
        if not isinstance(value, Mapping):
            return None
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            item = value.get(name)
            if item is None or is_secret(name, member):
                continue
            rendered = _render(member, item)
            if rendered is not None:
                out[cloudtrail_name(name)] = rendered
        return out
    if isinstance(shape, ListShape):
        if not isinstance(value, list | tuple):
            return None
        items = (_render(shape.member, item) for item in value)
        return [item for item in items if item is not None]
    if isinstance(shape, MapShape):
        if not isinstance(value, Mapping):
            return None
        pairs = ((str(k), _render(shape.value, v)) for k, v in value.items())
        return {k: v for k, v in pairs if v is not None}
    if isinstance(value, Mapping | list | tuple | set):
        return None
    kind = shape.type_name
    if kind == "timestamp":
        return java_date(value) if isinstance(value, datetime) else str(value)
    if kind == "blob":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode("ascii")
    return value


def render_elements(shape: Shape | None, value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A structure rendered for the log; ``None`` when there is no model, no value or nothing left."""
    if shape is None or not value:
        return None
    rendered = _render(shape, value)
    return rendered or None


def request_parameters(
    service: str, operation: str, params: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    model = operation_model(service, operation)
    return render_elements(model.input_shape if model else None, params)


def response_elements(
    service: str, operation: str, output: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    model = operation_model(service, operation)
    return render_elements(model.output_shape if model else None, output)


def issues_credentials(service: str, operation: str) -> bool:
    """Whether the operation's output carries temporary ``Credentials`` (STS's AssumeRole family)."""
    model = operation_model(service, operation)
    shape = model.output_shape if model else None
    return shape is not None and "Credentials" in shape.members


def secret_values(service: str, operation: str, *values: tuple[str, Mapping[str, Any] | None]) -> set[str]:
    """The string values of secret members found in the input (``"in"``) or output (``"out"``),
    so that free text that might echo them (an error message) can be scrubbed."""
    model = operation_model(service, operation)
    found: set[str] = set()
    if model is None:
        return found
    for side, value in values:
        shape = model.input_shape if side == "in" else model.output_shape
        if shape is not None and value:
            _collect(shape, value, False, found)
    return found


def _collect(shape: Shape, value: Any, secret: bool, found: set[str]) -> None:
    if isinstance(shape, StructureShape) and isinstance(value, Mapping):
        for name, member in shape.members.items():
            item = value.get(name)
            if item is not None:
                _collect(member, item, secret or is_secret(name, member), found)
    elif isinstance(shape, ListShape) and isinstance(value, list | tuple):
        for item in value:
            _collect(shape.member, item, secret, found)
    elif isinstance(shape, MapShape) and isinstance(value, Mapping):
        for item in value.values():
            _collect(shape.value, item, secret, found)
    elif secret and isinstance(value, str | bytes):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        if text:
            found.add(text)
            if isinstance(value, bytes):
                found.add(base64.b64encode(value).decode("ascii"))
