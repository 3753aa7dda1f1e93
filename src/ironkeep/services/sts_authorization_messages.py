"""Encoded authorization messages and STS DecodeAuthorizationMessage.

AWS services answer some denials with "Encoded authorization failure message: <blob>", which only
DecodeAuthorizationMessage can read (and only with ``sts:DecodeAuthorizationMessage``). Ironkeep's
blob is the decoded JSON document, zlib-compressed and sealed with the server's ``SecretBox``
(AES-GCM, bound to :data:`AAD`) together with the account it was made for and an expiry, then
URL-safe base64: :func:`encode_authorization_message` makes one from an engine decision, any part
of the server may attach it to an AccessDenied.

The decoded document has AWS's shape: ``allowed``, ``explicitDeny``, ``matchedStatements``,
``failures`` and ``context`` (``principal`` {id, name, arn}, ``action``, ``resource``,
``conditions``: the request's condition keys and values).

A blob that does not open, was made for another account, or is older than
:data:`MESSAGE_LIFETIME` is ``InvalidAuthorizationMessageException``.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from ironkeep.auth.secrets import SecretBox
from ironkeep.errors import AWSError
from ironkeep.services.context import CallContext
from ironkeep.services.registry import operation
from ironkeep.services.sts_sessions import refuse_limited_session

AAD = b"authorization-message"
MESSAGE_LIFETIME = timedelta(hours=12)
MAX_ENCODED_CHARS = 10240
"""DecodeAuthorizationMessage's input limit: conditions are dropped from the end to fit."""
INVALID_MESSAGE = "The encoded authorization message is invalid or has expired."


class InvalidAuthorizationMessageException(AWSError):
    code = "InvalidAuthorizationMessageException"
    status = 400


def _items(values: list[Any]) -> dict[str, Any]:
    return {"items": values}


def decoded_document(
    principal: Mapping[str, str],
    action: str,
    resource: str,
    decision: Any,
    context: Mapping[str, Any],
) -> dict[str, Any]:
    """The JSON document DecodeAuthorizationMessage returns, from an engine ``Decision``."""
    matched = [
        {
            "statementId": statement.sid or "",
            "effect": statement.effect.upper(),
            "policy": statement.policy,
        }
        for statement in decision.matched
    ]
    conditions = [
        {
            "key": key,
            "values": _items(
                [{"value": str(v)} for v in (value if isinstance(value, list | tuple) else [value])]
            ),
        }
        for key, value in context.items()
    ]
    return {
        "allowed": decision.decision == "Allow",
        "explicitDeny": decision.decision == "ExplicitDeny",
        "matchedStatements": _items(matched),
        "failures": _items([]),
        "context": {
            "principal": {key: principal[key] for key in ("id", "name", "arn") if key in principal},
            "action": action,
            "resource": resource,
            "conditions": _items(conditions),
        },
    }


def encode_authorization_message(
    box: SecretBox, account_id: str, document: dict[str, Any], now: datetime
) -> str:
    """Seal ``document`` (see :func:`decoded_document`) for ``account_id``; valid for
    :data:`MESSAGE_LIFETIME`. Conditions are dropped from the end until it fits AWS's input limit."""
    expires = int((now + MESSAGE_LIFETIME).timestamp())
    document = json.loads(json.dumps(document))
    while True:
        body = json.dumps({"a": account_id, "x": expires, "m": document}, separators=(",", ":"))
        sealed = box.seal(zlib.compress(body.encode(), 9), aad=AAD)
        encoded = base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")
        items = document["context"]["conditions"]["items"]
        if len(encoded) <= MAX_ENCODED_CHARS or not items:
            return encoded
        items.pop()


def open_authorization_message(box: SecretBox, encoded: str) -> dict[str, Any]:
    """The sealed body back: ``a`` (account), ``x`` (expiry, epoch seconds), ``m`` (the document)."""
    try:
        sealed = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        body = json.loads(zlib.decompress(box.open(sealed, aad=AAD)))
    except (binascii.Error, ValueError, zlib.error, AWSError, UnicodeDecodeError):
        raise InvalidAuthorizationMessageException(INVALID_MESSAGE) from None
    if not isinstance(body, dict) or not {"a", "x", "m"} <= body.keys():
        raise InvalidAuthorizationMessageException(INVALID_MESSAGE)
    return body


@operation("sts", "DecodeAuthorizationMessage", read_only=True)
def decode_authorization_message(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    refuse_limited_session(ctx, "sts:DecodeAuthorizationMessage")
    body = open_authorization_message(ctx.services.box, params["EncodedMessage"])
    if body["a"] != ctx.account_id or ctx.now.timestamp() >= body["x"]:
        raise InvalidAuthorizationMessageException(INVALID_MESSAGE)
    return {"DecodedMessage": json.dumps(body["m"])}
