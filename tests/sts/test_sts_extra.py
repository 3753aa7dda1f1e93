"""STS AssumeRoot, GetDelegatedAccessToken's refusals, and encode_denial read back through
DecodeAuthorizationMessage, through boto3 and the AWS CLI against the real server."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sts_helpers import allow, error_code, error_message, make_user, policy, put_user_policy

from ironkeep.auth.secrets import SecretBox, load_or_create_master_key
from ironkeep.engine import Principal, Request, authorize, compile_policy_set
from ironkeep.services.sts_extra import encode_denial

TASK = "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"
MEMBER = "111122223333"


def _box(server) -> SecretBox:
    return SecretBox(load_or_create_master_key(server.data_dir, server.store_env.get("IRONKEEP_MASTER_KEY")))


# -- AssumeRoot ----------------------------------------------------------------------------------------------


def test_assume_root_without_organizations_is_access_denied(server, iam):
    user, sts, _ = make_user(server, iam)
    with pytest.raises(ClientError) as no_permission:
        sts.assume_root(TargetPrincipal=MEMBER, TaskPolicyArn={"arn": TASK})
    assert error_code(no_permission) == "AccessDenied"
    assert "because" in error_message(no_permission)
    put_user_policy(
        iam, user["UserName"], "Root", policy(allow("sts:AssumeRoot", f"arn:aws:iam::{MEMBER}:root"))
    )
    for target in (MEMBER, f"arn:aws:iam::{MEMBER}:root"):
        with pytest.raises(ClientError) as not_management:
            sts.assume_root(TargetPrincipal=target, TaskPolicyArn={"arn": TASK}, DurationSeconds=900)
        assert error_code(not_management) == "AccessDenied"
        assert not_management.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert "management account" in error_message(not_management)
    with pytest.raises(ClientError) as as_root:
        server.client("sts").assume_root(TargetPrincipal=MEMBER, TaskPolicyArn={"arn": TASK})
    assert error_code(as_root) == "AccessDenied"
    assert "root user credentials" in error_message(as_root)


def test_assume_root_validates_its_inputs(server, iam):
    _, sts, _ = make_user(server, iam)
    with pytest.raises(ClientError) as task:
        sts.assume_root(
            TargetPrincipal=MEMBER, TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/AdministratorAccess"}
        )
    assert error_code(task) == "ValidationError"
    with pytest.raises(ClientError) as target:
        sts.assume_root(TargetPrincipal="arn:aws:iam::111122223333:user/bob", TaskPolicyArn={"arn": TASK})
    assert error_code(target) == "ValidationError"


def test_assume_root_through_the_aws_cli(server):
    done = server.aws("sts", "assume-root", "--target-principal", MEMBER, "--task-policy-arn", f"arn={TASK}")
    assert done.returncode != 0
    assert "AccessDenied" in done.stderr and "AssumeRoot" in done.stderr


# -- GetDelegatedAccessToken (the happy path: tests/iam/test_delegation.py) ------------------------------------


def test_get_delegated_access_token_refuses_unknown_tokens(server):
    sts = server.client("sts")
    for token in ("x", "dr-" + "0" * 32 + ".secret", "no-dot-at-all-but-long-enough"):
        with pytest.raises(ClientError) as refused:
            sts.get_delegated_access_token(TradeInToken=token)
        assert error_code(refused) == "AccessDenied", token


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), min_size=1, max_size=200))
def test_any_trade_in_token_gets_an_aws_error(server, token):
    with pytest.raises(ClientError) as refused:
        server.client("sts").get_delegated_access_token(TradeInToken=token)
    assert error_code(refused) == "AccessDenied"


# -- encode_denial + DecodeAuthorizationMessage ---------------------------------------------------------------


def _engine_denial(account_id: str):
    deny = policy({"Sid": "NoKeys", "Effect": "Deny", "Action": "iam:CreateAccessKey", "Resource": "*"})
    request = Request(
        principal=Principal(arn=f"arn:aws:iam::{account_id}:user/carol", id="AIDAEXAMPLECAROL0001"),
        action="iam:CreateAccessKey",
        resource=f"arn:aws:iam::{account_id}:user/dave",
        resource_account=account_id,
        context={"aws:SourceIp": "198.51.100.4", "aws:MultiFactorAuthPresent": "false"},
    )
    return authorize(request, compile_policy_set(identity=[policy(allow("iam:*")), deny])), request


def test_encode_denial_decodes_to_the_engine_decision(server, iam):
    decision, request = _engine_denial(server.account_id)
    assert decision.decision == "ExplicitDeny"
    encoded = encode_denial(_box(server), decision, request)
    raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    assert b"carol" not in raw and b"CreateAccessKey" not in raw  # sealed, nothing in clear
    decoded = json.loads(
        server.client("sts").decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"]
    )
    assert decoded["allowed"] is False and decoded["explicitDeny"] is True
    assert [s["statementId"] for s in decoded["matchedStatements"]["items"]] == ["NoKeys"]
    context = decoded["context"]
    assert context["principal"] == {
        "id": "AIDAEXAMPLECAROL0001",
        "name": "carol",
        "arn": f"arn:aws:iam::{server.account_id}:user/carol",
    }
    assert (context["action"], context["resource"]) == (
        "iam:CreateAccessKey",
        f"arn:aws:iam::{server.account_id}:user/dave",
    )
    assert {"key": "aws:SourceIp", "values": {"items": [{"value": "198.51.100.4"}]}} in context["conditions"][
        "items"
    ]
    # only with sts:DecodeAuthorizationMessage
    user, sts, _ = make_user(server, iam)
    with pytest.raises(ClientError) as denied:
        sts.decode_authorization_message(EncodedMessage=encoded)
    assert error_code(denied) == "AccessDenied"
    put_user_policy(iam, user["UserName"], "Decode", policy(allow("sts:DecodeAuthorizationMessage")))
    assert json.loads(sts.decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"]) == decoded


def test_encode_denial_for_another_account_or_tampered_is_invalid(server):
    decision, request = _engine_denial("210987654321")
    foreign = encode_denial(_box(server), decision, request, now=datetime.now(UTC))
    sts = server.client("sts")
    with pytest.raises(ClientError) as other_account:
        sts.decode_authorization_message(EncodedMessage=foreign)
    assert error_code(other_account) == "InvalidAuthorizationMessageException"
    mine = encode_denial(_box(server), *_engine_denial(server.account_id))
    tampered = mine[:-6] + ("A" * 6 if not mine.endswith("A" * 6) else "B" * 6)
    with pytest.raises(ClientError) as bad:
        sts.decode_authorization_message(EncodedMessage=tampered)
    assert error_code(bad) == "InvalidAuthorizationMessageException"
