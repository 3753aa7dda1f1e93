"""DecodeAuthorizationMessage: messages sealed by the server's key, read back through boto3."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st
from sts_helpers import allow, error_code, make_user, policy, put_user_policy, session_clients

from ironkeep.auth.secrets import SecretBox, load_or_create_master_key
from ironkeep.engine import Principal, Request, authorize, compile_policy_set
from ironkeep.services.sts_authorization_messages import (
    InvalidAuthorizationMessageException,
    decoded_document,
    encode_authorization_message,
    open_authorization_message,
)

USER = {"id": "AIDAEXAMPLEEXAMPLE123", "name": "Bob", "arn": "arn:aws:iam::123456789012:user/Bob"}


def _denial(context=None):
    deny = policy({"Sid": "NoDeletes", "Effect": "Deny", "Action": "iam:DeleteUser", "Resource": "*"})
    context = context or {"aws:SourceIp": "192.0.2.7", "aws:TagKeys": ["a", "b"]}
    decision = authorize(
        Request(principal=Principal(arn=USER["arn"]), action="iam:DeleteUser", resource="*", context=context),
        compile_policy_set(identity=[deny]),
    )
    return decoded_document(USER, "iam:DeleteUser", "arn:aws:iam::123456789012:user/Alice", decision, context)


def _box(server) -> SecretBox:
    return SecretBox(load_or_create_master_key(server.data_dir, server.store_env.get("IRONKEEP_MASTER_KEY")))


def test_decode_authorization_message(server, iam):
    document = _denial()
    assert document["explicitDeny"] is True and document["allowed"] is False
    assert document["matchedStatements"]["items"][0]["statementId"] == "NoDeletes"
    encoded = encode_authorization_message(_box(server), server.account_id, document, datetime.now(UTC))
    out = server.client("sts").decode_authorization_message(EncodedMessage=encoded)
    decoded = json.loads(out["DecodedMessage"])
    assert decoded == document
    assert {"key": "aws:TagKeys", "values": {"items": [{"value": "a"}, {"value": "b"}]}} in (
        decoded["context"]["conditions"]["items"]
    )
    # a user needs sts:DecodeAuthorizationMessage; a GetSessionToken session may not call it at all
    user, sts, _ = make_user(server, iam)
    with pytest.raises(ClientError) as denied:
        sts.decode_authorization_message(EncodedMessage=encoded)
    assert error_code(denied) == "AccessDenied"
    put_user_policy(iam, user["UserName"], "Decode", policy(allow("sts:DecodeAuthorizationMessage")))
    assert json.loads(sts.decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"]) == document
    session_sts, _ = session_clients(server, sts.get_session_token(DurationSeconds=900)["Credentials"])
    with pytest.raises(ClientError) as denied:
        session_sts.decode_authorization_message(EncodedMessage=encoded)
    assert error_code(denied) == "AccessDenied"


def test_invalid_foreign_and_expired_messages(server):
    box, sts = _box(server), server.client("sts")
    document = _denial()
    for encoded in (
        "not-a-message",
        encode_authorization_message(box, "210987654321", document, datetime.now(UTC)),
        encode_authorization_message(
            box, server.account_id, document, datetime.now(UTC) - timedelta(hours=13)
        ),
        encode_authorization_message(
            SecretBox(secrets.token_bytes(32)), server.account_id, document, datetime.now(UTC)
        ),
    ):
        with pytest.raises(ClientError) as bad:
            sts.decode_authorization_message(EncodedMessage=encoded)
        assert error_code(bad) == "InvalidAuthorizationMessageException"


def test_large_contexts_are_cut_to_the_input_limit():
    box = SecretBox(secrets.token_bytes(32))
    context = {f"aws:RequestTag/k{i}": secrets.token_hex(100) for i in range(200)}
    encoded = encode_authorization_message(box, "123456789012", _denial(context), datetime.now(UTC))
    assert len(encoded) <= 10240
    kept = open_authorization_message(box, encoded)["m"]["context"]["conditions"]["items"]
    assert 0 < len(kept) < 200


_BOX = SecretBox(secrets.token_bytes(32))
_GOOD = encode_authorization_message(_BOX, "123456789012", _denial(), datetime(2026, 1, 1, tzinfo=UTC))


@given(st.integers(min_value=0, max_value=len(_GOOD) - 1), st.sampled_from("AQw_-9"))
def test_a_changed_character_never_opens(position, char):
    tampered = _GOOD[:position] + char + _GOOD[position + 1 :]
    if tampered == _GOOD:
        return
    try:
        body = open_authorization_message(_BOX, tampered)
    except InvalidAuthorizationMessageException:
        return
    # only the padding bits of the last base64 character can change without changing the bytes
    assert position == len(_GOOD) - 1 and body == open_authorization_message(_BOX, _GOOD)
