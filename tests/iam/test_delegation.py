"""Delegation requests end to end through boto3: a partner account asks, a customer account's role
session associates, updates, accepts and sends the token, the partner trades it in with STS
GetDelegatedAccessToken; rejection, permissions, visibility and the errors of every call."""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sts"))
from sts_helpers import (
    allow,
    error_code,
    make_role,
    make_user,
    policy,
    put_role_policy,
    put_user_policy,
    second_account,
    session_clients,
    trust,
)

from ironkeep.auth.secrets import SecretBox, load_or_create_master_key
from ironkeep.services.iam_delegation import notification
from ironkeep.store import Store
from ironkeep.store import schema as t

DELEGATION_ACTIONS = [
    "iam:AssociateDelegationRequest",
    "iam:AcceptDelegationRequest",
    "iam:RejectDelegationRequest",
    "iam:SendDelegationToken",
    "iam:ListDelegationRequests",
]


def account(server: Any) -> dict[str, Any]:
    other = second_account(server)
    keys = {"key": other["RootAccessKeyId"], "secret": other["RootSecretAccessKey"]}
    return {
        "id": other["AccountId"],
        "iam": server.client("iam", **keys),
        "sts": server.client("sts", **keys),
    }


def store_of(server: Any) -> Store:
    env = server.store_env
    url = env.get("IRONKEEP_DATABASE_URL") or f"sqlite:///{server.data_dir / 'ironkeep.db'}"
    return Store.open(url, schema=env.get("IRONKEEP_DATABASE_SCHEMA"), pool_size=1)


def exchange_token(server: Any, request_id: str) -> str | None:
    """The token SendDelegationToken delivered to the partner (Ironkeep keeps the notification)."""
    box = SecretBox(load_or_create_master_key(server.data_dir, server.store_env.get("IRONKEEP_MASTER_KEY")))
    store = store_of(server)
    try:
        with store.transaction(write=False) as tx:
            message = notification(box, tx, request_id)
    finally:
        store.engine.dispose()
    return None if message is None else str(message["ExchangeToken"])


def template(partner: dict[str, Any], customer_id: str) -> str:
    """A partner's policy template: read one role of the customer, in the regions it names."""
    document = policy(
        {
            "Effect": "Allow",
            "Action": "iam:GetRole",
            "Resource": f"arn:aws:iam::{customer_id}:role/{{{{RoleName}}}}",
            "Condition": {"StringEquals": {"aws:RequestedRegion": "{{Regions}}"}},
        }
    )
    created = partner["iam"].create_policy(PolicyName=f"tpl-{uuid.uuid4().hex[:8]}", PolicyDocument=document)
    return str(created["Policy"]["Arn"])


def create(partner: dict[str, Any], template_arn: str, role_name: str, **kwargs: Any) -> str:
    out = partner["iam"].create_delegation_request(
        Description="Read the deployment role",
        Permissions={
            "PolicyTemplateArn": template_arn,
            "Parameters": [
                {"Name": "RoleName", "Values": [role_name], "Type": "string"},
                {"Name": "Regions", "Values": ["us-east-1", "eu-west-1"], "Type": "stringList"},
            ],
        },
        RequestMessage="For ticket 42",
        RequestorWorkflowId=f"wf-{uuid.uuid4().hex}",
        NotificationChannel=f"arn:aws:sns:us-east-1:{partner['id']}:delegations",
        SessionDuration=900,
        **kwargs,
    )
    assert (
        out["ConsoleDeepLink"].startswith("https://") and out["DelegationRequestId"] in out["ConsoleDeepLink"]
    )
    return str(out["DelegationRequestId"])


def role_session(
    server: Any, customer: dict[str, Any], *actions: str
) -> tuple[dict[str, Any], Any, Any, Any]:
    """A role of the customer allowed ``actions`` (and iam:GetRole), and a session of it:
    (role, session ARN, session IAM client, session STS client)."""
    user, user_sts, _ = make_user(server, customer["iam"])
    role = make_role(customer["iam"], trust(user["Arn"]))
    grants = policy(allow([*list(actions), "iam:GetRole", "iam:ListUsers"]))
    put_role_policy(customer["iam"], role["RoleName"], "Delegation", grants)
    put_user_policy(customer["iam"], user["UserName"], "Assume", policy(allow("sts:AssumeRole", role["Arn"])))
    out = user_sts.assume_role(RoleArn=role["Arn"], RoleSessionName="approver")
    sts, iam = session_clients(server, out["Credentials"])
    return role, out["AssumedRoleUser"]["Arn"], iam, sts


def refused(code: str, *calls: Any, **kwargs: Any) -> None:
    """Each of ``calls`` (boto3 methods) fails with AWS's error ``code``."""
    for call in calls:
        with pytest.raises(ClientError) as error:
            call(**kwargs)
        assert error_code(error) == code, call


def get(client: Any, request_id: str) -> dict[str, Any]:
    return dict(client.get_delegation_request(DelegationRequestId=request_id)["DelegationRequest"])


def test_delegation_request_lifecycle_to_delegated_credentials(server):
    partner, customer, stranger = account(server), account(server), account(server)
    role, session_arn, approver, _ = role_session(server, customer, *DELEGATION_ACTIONS)
    request_id = create(
        partner, template(partner, customer["id"]), role["RoleName"], OwnerAccountId=customer["id"]
    )
    created = get(partner["iam"], request_id)
    assert created["State"] == "UNASSIGNED" and created["RequestorId"] == partner["id"]
    assert created["OwnerAccountId"] == customer["id"] and "OwnerId" not in created
    assert created["SessionDuration"] == 900 and created["RequestMessage"] == "For ticket 42"
    permission = json.loads(created["PermissionPolicy"])["Statement"][0]
    assert permission["Resource"] == f"arn:aws:iam::{customer['id']}:role/{role['RoleName']}"
    assert permission["Condition"]["StringEquals"]["aws:RequestedRegion"] == ["us-east-1", "eu-west-1"]
    with pytest.raises(ClientError) as hidden:
        get(stranger["iam"], request_id)
    assert error_code(hidden) == "NoSuchEntity"
    assert request_id not in [
        r["DelegationRequestId"] for r in customer["iam"].list_delegation_requests()["DelegationRequests"]
    ]

    approver.associate_delegation_request(DelegationRequestId=request_id)
    assigned = get(approver, request_id)  # the owner's default permission
    assert (assigned["State"], assigned["OwnerId"]) == ("ASSIGNED", session_arn)
    listed = customer["iam"].list_delegation_requests(OwnerId=session_arn)
    assert [r["DelegationRequestId"] for r in listed["DelegationRequests"]] == [request_id]
    assert listed["isTruncated"] is False
    assert (
        customer["iam"].list_delegation_requests(OwnerId=f"arn:aws:iam::{customer['id']}:user/nobody")[
            "DelegationRequests"
        ]
        == []
    )

    approver.update_delegation_request(DelegationRequestId=request_id, Notes="Looks fine to me")
    pending = get(approver, request_id)
    assert (pending["State"], pending["Notes"]) == ("PENDING_APPROVAL", "Looks fine to me")
    approver.accept_delegation_request(DelegationRequestId=request_id)
    accepted = get(customer["iam"], request_id)
    assert (accepted["State"], accepted["ApproverId"]) == ("ACCEPTED", session_arn)
    assert exchange_token(server, request_id) is None
    approver.send_delegation_token(DelegationRequestId=request_id)
    finalized = get(partner["iam"], request_id)
    assert finalized["State"] == "FINALIZED"
    expected_end = datetime.now(UTC) + timedelta(seconds=900)
    assert abs((finalized["ExpirationTime"] - expected_end).total_seconds()) < 30
    with pytest.raises(ClientError) as again:
        approver.accept_delegation_request(DelegationRequestId=request_id)
    assert error_code(again) == "InvalidInput"
    with pytest.raises(ClientError) as late:
        approver.reject_delegation_request(DelegationRequestId=request_id)
    assert error_code(late) == "InvalidInput"

    token = exchange_token(server, request_id)
    assert token is not None
    with pytest.raises(ClientError) as not_theirs:
        stranger["sts"].get_delegated_access_token(TradeInToken=token)
    assert error_code(not_theirs) == "AccessDenied"
    out = partner["sts"].get_delegated_access_token(TradeInToken=token)
    assert out["AssumedPrincipal"] == session_arn and "PackedPolicySize" not in out
    assert out["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert out["Credentials"]["Expiration"] <= finalized["ExpirationTime"] + timedelta(seconds=1)
    delegated_sts, delegated_iam = session_clients(server, out["Credentials"])
    assert delegated_sts.get_caller_identity()["Arn"] == session_arn
    assert delegated_iam.get_role(RoleName=role["RoleName"])["Role"]["Arn"] == role["Arn"]
    with pytest.raises(ClientError) as narrowed:  # the role may, the delegation may not
        delegated_iam.list_users()
    assert error_code(narrowed) == "AccessDenied"
    with pytest.raises(ClientError) as forged:
        partner["sts"].get_delegated_access_token(TradeInToken=token[:-4] + "AAAA")
    assert error_code(forged) == "AccessDenied"


def test_reject_delegation_request(server):
    partner, customer, stranger = account(server), account(server), account(server)
    role, _session_arn, approver, _ = role_session(server, customer, *DELEGATION_ACTIONS)
    request_id = create(partner, template(partner, customer["id"]), role["RoleName"])
    assert get(stranger["iam"], request_id)["State"] == "UNASSIGNED"  # no owner account: anyone may read
    approver.associate_delegation_request(DelegationRequestId=request_id)
    assert get(approver, request_id)["OwnerAccountId"] == customer["id"]
    with pytest.raises(ClientError) as now_hidden:
        get(stranger["iam"], request_id)
    assert error_code(now_hidden) == "NoSuchEntity"
    with pytest.raises(ClientError) as taken:
        stranger["iam"].associate_delegation_request(DelegationRequestId=request_id)
    assert error_code(taken) == "NoSuchEntity"
    approver.accept_delegation_request(DelegationRequestId=request_id)
    approver.reject_delegation_request(DelegationRequestId=request_id, Notes="Changed my mind")
    rejected = get(approver, request_id)
    assert (rejected["State"], rejected["RejectionReason"]) == ("REJECTED", "Changed my mind")
    refused(
        "InvalidInput",
        approver.accept_delegation_request,
        approver.send_delegation_token,
        DelegationRequestId=request_id,
    )
    refused("InvalidInput", approver.update_delegation_request, DelegationRequestId=request_id, Notes="x")


def test_delegation_request_owner_account_and_permissions(server):
    partner, customer, stranger = account(server), account(server), account(server)
    role, _, approver, _ = role_session(server, customer, *DELEGATION_ACTIONS)
    request_id = create(
        partner, template(partner, customer["id"]), role["RoleName"], OwnerAccountId=customer["id"]
    )
    refused(
        "NoSuchEntity",
        stranger["iam"].associate_delegation_request,
        stranger["iam"].accept_delegation_request,
        DelegationRequestId=request_id,
    )
    refused("InvalidInput", approver.accept_delegation_request, DelegationRequestId=request_id)
    _, _, powerless = make_user(server, customer["iam"])
    refused(
        "AccessDenied",
        powerless.associate_delegation_request,
        powerless.get_delegation_request,
        DelegationRequestId=request_id,
    )
    refused("AccessDenied", powerless.list_delegation_requests)
    approver.associate_delegation_request(DelegationRequestId=request_id)
    with pytest.raises(ClientError) as twice:
        approver.associate_delegation_request(DelegationRequestId=request_id)
    assert error_code(twice) == "InvalidInput"
    refused(
        "AccessDenied",
        powerless.accept_delegation_request,
        powerless.reject_delegation_request,
        DelegationRequestId=request_id,
    )
    refused("AccessDenied", powerless.update_delegation_request, DelegationRequestId=request_id, Notes="x")
    with pytest.raises(ClientError) as missing:
        approver.get_delegation_request(DelegationRequestId="dr-" + "0" * 32)
    assert error_code(missing) == "NoSuchEntity"
    with pytest.raises(ClientError) as unsent:
        approver.send_delegation_token(DelegationRequestId=request_id)
    assert error_code(unsent) == "InvalidInput"  # ASSIGNED, not ACCEPTED


def test_only_send_by_owner(server):
    partner, customer = account(server), account(server)
    role, _owner_arn, owner, _ = role_session(server, customer, *DELEGATION_ACTIONS)
    _, _, admin, _ = role_session(server, customer, *DELEGATION_ACTIONS)
    request_id = create(partner, template(partner, customer["id"]), role["RoleName"], OnlySendByOwner=True)
    assert get(partner["iam"], request_id)["OnlySendByOwner"] is True
    owner.associate_delegation_request(DelegationRequestId=request_id)
    owner.update_delegation_request(DelegationRequestId=request_id, Notes="Please approve")
    admin.accept_delegation_request(DelegationRequestId=request_id)
    with pytest.raises(ClientError) as not_owner:
        admin.send_delegation_token(DelegationRequestId=request_id)
    assert error_code(not_owner) == "AccessDenied"
    owner.send_delegation_token(DelegationRequestId=request_id)
    assert get(owner, request_id)["State"] == "FINALIZED"


def test_create_delegation_request_errors(server):
    partner, customer = account(server), account(server)
    template_arn = template(partner, customer["id"])
    kwargs = {
        "Description": "d",
        "RequestorWorkflowId": f"wf-{uuid.uuid4().hex}",
        "NotificationChannel": "arn:aws:sns:us-east-1:111122223333:topic",
        "SessionDuration": 900,
    }
    params = [
        {"Name": "RoleName", "Values": ["r"], "Type": "string"},
        {"Name": "Regions", "Values": ["us-east-1"], "Type": "stringList"},
    ]
    partner["iam"].create_delegation_request(
        Permissions={"PolicyTemplateArn": template_arn, "Parameters": params}, **kwargs
    )
    with pytest.raises(ClientError) as duplicate:
        partner["iam"].create_delegation_request(
            Permissions={"PolicyTemplateArn": template_arn, "Parameters": params}, **kwargs
        )
    assert error_code(duplicate) == "EntityAlreadyExists"
    kwargs["RequestorWorkflowId"] = f"wf-{uuid.uuid4().hex}"
    for permissions in (
        {"PolicyTemplateArn": f"arn:aws:iam::{partner['id']}:policy/no-such-template"},
        {"PolicyTemplateArn": template_arn, "Parameters": params[:1]},  # {{Regions}} unfilled
        {"PolicyTemplateArn": template_arn, "Parameters": [{**params[0], "Type": "stringList"}, params[1]]},
        {"Parameters": params},
    ):
        with pytest.raises(ClientError) as invalid:
            partner["iam"].create_delegation_request(Permissions=permissions, **kwargs)
        assert error_code(invalid) == "InvalidInput", permissions
    _, _, user_iam = make_user(server, partner["iam"])
    with pytest.raises(ClientError) as denied:
        user_iam.create_delegation_request(
            Permissions={"PolicyTemplateArn": template_arn, "Parameters": params}, **kwargs
        )
    assert error_code(denied) == "AccessDenied"


def test_permission_check_and_expired_trade_in_token(server):
    partner, customer = account(server), account(server)
    role, _, approver, _ = role_session(server, customer, *DELEGATION_ACTIONS)
    request_id = create(
        partner, template(partner, customer["id"]), role["RoleName"], OwnerAccountId=customer["id"]
    )
    approver.associate_delegation_request(DelegationRequestId=request_id)
    checked = approver.get_delegation_request(DelegationRequestId=request_id, DelegationPermissionCheck=True)
    # the template's statement has a condition: the check cannot be sure
    assert (checked["PermissionCheckStatus"], checked["PermissionCheckResult"]) == ("COMPLETE", "UNSURE")
    assert "PermissionCheckStatus" not in approver.get_delegation_request(DelegationRequestId=request_id)
    approver.accept_delegation_request(DelegationRequestId=request_id)
    approver.send_delegation_token(DelegationRequestId=request_id)
    token = exchange_token(server, request_id)
    partner["sts"].get_delegated_access_token(TradeInToken=token)
    store = store_of(server)  # the delegation period (900 s) is over: move its start back an hour
    try:
        with store.transaction() as tx:
            row = tx.execute(
                select(t.delegation_requests).where(t.delegation_requests.c.id == request_id)
            ).one()
            payload = json.loads(row.payload)
            payload["FinalizedAt"] = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
            tx.execute(
                update(t.delegation_requests)
                .where(t.delegation_requests.c.id == request_id)
                .values(payload=json.dumps(payload))
            )
    finally:
        store.engine.dispose()
    with pytest.raises(ClientError) as expired:
        partner["sts"].get_delegated_access_token(TradeInToken=token)
    assert error_code(expired) == "ExpiredTradeInTokenException"


def test_list_delegation_requests_through_the_aws_cli(server):
    customer = account(server)
    other = second_account(server)
    done = server.aws(
        "iam", "list-delegation-requests", key=other["RootAccessKeyId"], secret=other["RootSecretAccessKey"]
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["DelegationRequests"] == []
    assert customer["iam"].list_delegation_requests(MaxItems=1)["isTruncated"] is False


def test_unfinished_requests_expire_after_seven_days(server):
    partner, customer = account(server), account(server)
    role, _, approver, _ = role_session(server, customer, *DELEGATION_ACTIONS)
    template_arn = template(partner, customer["id"])
    request_ids = [create(partner, template_arn, role["RoleName"]) for _ in range(2)]
    for request_id in request_ids:
        approver.associate_delegation_request(DelegationRequestId=request_id)
    first = customer["iam"].list_delegation_requests(MaxItems=1)
    assert first["isTruncated"] is True and len(first["DelegationRequests"]) == 1
    rest = customer["iam"].list_delegation_requests(Marker=first["Marker"])
    listed = [r["DelegationRequestId"] for r in first["DelegationRequests"] + rest["DelegationRequests"]]
    assert sorted(listed) == sorted(request_ids) and rest["isTruncated"] is False
    store = store_of(server)  # eight days without a change
    try:
        with store.transaction() as tx:
            tx.execute(
                update(t.delegation_requests)
                .where(t.delegation_requests.c.id == request_ids[0])
                .values(updated_at=datetime.now(UTC) - timedelta(days=8))
            )
    finally:
        store.engine.dispose()
    expired = get(approver, request_ids[0])
    assert expired["State"] == "EXPIRED" and expired["ExpirationTime"] < datetime.now(UTC)
    refused("InvalidInput", approver.accept_delegation_request, DelegationRequestId=request_ids[0])
    assert get(approver, request_ids[1])["State"] == "ASSIGNED"


_PARTNERS: dict[str, tuple[dict[str, Any], str]] = {}
_PRINTABLE = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=60)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(role_name=_PRINTABLE, regions=st.lists(_PRINTABLE, min_size=1, max_size=3))
def test_any_template_parameters_fill_the_template_or_are_invalid_input(server, role_name, regions):
    """The partner's parameters are untrusted: a value fills its placeholder exactly (JSON-escaped),
    or the request is InvalidInput when the result is no valid policy; nothing else."""
    if server.backend not in _PARTNERS:
        partner = account(server)
        _PARTNERS[server.backend] = (partner, template(partner, "111122223333"))
    partner, template_arn = _PARTNERS[server.backend]
    try:
        request_id = partner["iam"].create_delegation_request(
            Description="d",
            Permissions={
                "PolicyTemplateArn": template_arn,
                "Parameters": [
                    {"Name": "RoleName", "Values": [role_name], "Type": "string"},
                    {"Name": "Regions", "Values": regions, "Type": "stringList"},
                ],
            },
            RequestorWorkflowId=f"wf-{uuid.uuid4().hex}",
            NotificationChannel="arn:aws:sns:us-east-1:111122223333:topic",
            SessionDuration=900,
        )["DelegationRequestId"]
    except ClientError as error:
        assert error.response["Error"]["Code"] == "InvalidInput"
        return
    statement = json.loads(get(partner["iam"], request_id)["PermissionPolicy"])["Statement"][0]
    assert statement["Resource"] == f"arn:aws:iam::111122223333:role/{role_name}"
    assert statement["Condition"]["StringEquals"]["aws:RequestedRegion"] == regions
