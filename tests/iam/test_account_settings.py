"""SetSecurityTokenServicePreferences, ListPoliciesGrantingServiceAccess and GetHumanReadableSummary."""

import json
import uuid
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from iam_helpers import allow, unique
from iam_helpers import policy as document
from ironkeep.policy import parse_policy
from ironkeep.services.iam_account_settings import (
    STS_PREFERENCES,
    global_endpoint_token_version,
    put_setting,
    statement_summary,
)
from ironkeep.services.iam_last_accessed import catalogue, policy_grants

READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"


def error(call, **kwargs) -> str:
    with pytest.raises(ClientError) as excinfo:
        call(**kwargs)
    return excinfo.value.response["Error"]["Code"]


# -- SetSecurityTokenServicePreferences --------------------------------------------------------


def test_set_security_token_service_preferences(iam):
    assert (
        iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v2Token")["ResponseMetadata"][
            "HTTPStatusCode"
        ]
        == 200
    )
    iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v1Token")
    assert error(iam.set_security_token_service_preferences, GlobalEndpointTokenVersion="v3Token") == (
        "ValidationError"
    )


def test_the_token_version_reads_back_as_get_account_summary_reports_it(store, account):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with store.transaction() as tx:
        assert global_endpoint_token_version(tx, account) == 1  # IAM's default
        put_setting(tx, account, STS_PREFERENCES, {"GlobalEndpointTokenVersion": "v2Token"}, now)
        assert global_endpoint_token_version(tx, account) == 2
        put_setting(tx, account, STS_PREFERENCES, {"GlobalEndpointTokenVersion": "v1Token"}, now)
        assert global_endpoint_token_version(tx, account) == 1


# -- ListPoliciesGrantingServiceAccess ---------------------------------------------------------


def test_list_policies_granting_service_access(iam):
    user, group = unique("grant-user"), unique("grant-group")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="Keys", PolicyDocument=document(allow("iam:*AccessKey*")))
    iam.put_user_policy(
        UserName=user,
        PolicyName="AllButIam",
        PolicyDocument=document({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),
    )
    iam.attach_user_policy(UserName=user, PolicyArn=READ_ONLY)
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    iam.put_group_policy(GroupName=group, PolicyName="Buckets", PolicyDocument=document(allow("s3:*")))
    arn = iam.get_user(UserName=user)["User"]["Arn"]

    out = iam.list_policies_granting_service_access(Arn=arn, ServiceNamespaces=["iam", "s3", "nosuchservice"])
    assert out["IsTruncated"] is False
    entries = {e["ServiceNamespace"]: e["Policies"] for e in out["PoliciesGrantingServiceAccess"]}
    assert list(entries) == ["iam", "s3", "nosuchservice"]
    assert entries["iam"] == [
        {"PolicyName": "Keys", "PolicyType": "INLINE", "EntityType": "USER", "EntityName": user},
        {"PolicyName": "IAMReadOnlyAccess", "PolicyType": "MANAGED", "PolicyArn": READ_ONLY},
    ]
    # the group's s3 policy is not the user's own; NotAction grants s3
    assert entries["s3"] == [
        {"PolicyName": "AllButIam", "PolicyType": "INLINE", "EntityType": "USER", "EntityName": user}
    ]
    assert entries["nosuchservice"] == []

    group_arn = iam.get_group(GroupName=group)["Group"]["Arn"]
    out = iam.list_policies_granting_service_access(Arn=group_arn, ServiceNamespaces=["s3"])
    assert out["PoliciesGrantingServiceAccess"][0]["Policies"] == [
        {"PolicyName": "Buckets", "PolicyType": "INLINE", "EntityType": "GROUP", "EntityName": group}
    ]


def test_list_policies_granting_service_access_errors(iam, server):
    account = server.account_id
    call = iam.list_policies_granting_service_access
    assert error(call, Arn=READ_ONLY, ServiceNamespaces=["iam"]) == "InvalidInput"
    assert (
        error(call, Arn=f"arn:aws:iam::{account}:role/{unique('none')}", ServiceNamespaces=["iam"])
        == "NoSuchEntity"
    )
    assert (
        error(call, Arn=f"arn:aws:iam::{account}:user/{unique('u')}", ServiceNamespaces=["not valid!"])
        == "ValidationError"
    )


def test_list_policies_granting_service_access_through_the_aws_cli(server, iam):
    role = unique("grant-role")
    trust = document(
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=role, PolicyName="Trail", PolicyDocument=document(allow("cloudtrail:Lookup*"))
    )
    out = server.aws(
        "iam", "list-policies-granting-service-access", "--arn", arn, "--service-namespaces", "cloudtrail"
    )
    assert out.returncode == 0, out.stderr
    [entry] = json.loads(out.stdout)["PoliciesGrantingServiceAccess"]
    assert entry["Policies"][0]["EntityType"] == "ROLE"


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_an_allow_of_catalogue_actions_grants_exactly_their_services(data):
    services = catalogue()
    picked = data.draw(st.lists(st.sampled_from(services), min_size=1, max_size=4))
    actions = []
    for namespace, _, names in picked:
        if names:
            name = data.draw(st.sampled_from(names))
            # AWS's actions are case-insensitive
            actions.append(f"{namespace}:{data.draw(st.sampled_from([name, name.lower(), name.upper()]))}")
    grants = policy_grants(document(allow(actions))) if actions else {}
    assert set(grants) == {a.split(":")[0] for a in actions}
    for action in actions:
        namespace, name = action.split(":")
        assert name.lower() in {n.lower() for n in grants[namespace]}


# -- GetHumanReadableSummary -------------------------------------------------------------------


def delegation_request(iam) -> str:
    return iam.create_delegation_request(
        Description="Read IAM for the audit",
        Permissions={"PolicyTemplateArn": READ_ONLY},
        RequestorWorkflowId=f"wf-{uuid.uuid4().hex}",
        NotificationChannel="arn:aws:sns:us-east-1:111122223333:topic",
        SessionDuration=900,
    )["DelegationRequestId"]


def test_get_human_readable_summary_of_a_delegation_request(iam, server):
    request_id = delegation_request(iam)
    arn = f"arn:aws:iam::{server.account_id}:delegation-request/{request_id}"
    out = iam.get_human_readable_summary(EntityArn=arn)
    assert out["SummaryState"] == "AVAILABLE" and out["Locale"] == "en-US"
    text = out["SummaryContent"]
    assert request_id in text and "Read IAM for the audit" in text and "900 seconds" in text
    assert "Allows iam:GenerateCredentialReport" in text
    french = iam.get_human_readable_summary(EntityArn=arn, Locale="fr-FR")
    assert french["SummaryState"] == "NOT_SUPPORTED" and "SummaryContent" not in french


def test_get_human_readable_summary_errors(iam, server):
    account = server.account_id
    assert (
        error(iam.get_human_readable_summary, EntityArn=f"arn:aws:iam::{account}:user/someone")
        == "InvalidInput"
    )
    missing = f"arn:aws:iam::{account}:delegation-request/dr-{uuid.uuid4().hex}"
    assert error(iam.get_human_readable_summary, EntityArn=missing) == "NoSuchEntity"


def test_statement_summaries():
    policy = parse_policy(
        document(
            allow(["s3:GetObject", "s3:ListBucket"], Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
            {"Effect": "Deny", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::keep/*"},
            allow("*"),
        ),
        kind="identity",
    )
    assert [statement_summary(s) for s in policy.statements] == [
        "Allows s3:GetObject, s3:ListBucket on any resource when conditions on aws:SourceIp hold.",
        "Denies every action except iam:* on any resource except arn:aws:s3:::keep/*.",
        "Allows every action on any resource.",
    ]


def test_account_summary_reports_the_sts_token_version(iam):
    iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v2Token")
    assert iam.get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"] == 2
    iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v1Token")
    assert iam.get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"] == 1
