"""Unsigned STS calls (AssumeRoleWithWebIdentity / WithSAML) are recorded in the role's account."""

import json

import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError


def test_failed_web_identity_call_is_in_the_role_accounts_trail(server):
    created = server.ironkeep("accounts", "create")
    assert created.returncode == 0, created.stderr
    other = json.loads(created.stdout)
    import boto3

    anonymous = boto3.client(
        "sts",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED),
    )
    role_arn = f"arn:aws:iam::{other['AccountId']}:role/federated"
    with pytest.raises(ClientError):
        anonymous.assume_role_with_web_identity(
            RoleArn=role_arn, RoleSessionName="s1", WebIdentityToken="not-a-jwt-at-all-but-long-enough"
        )
    trail = server.client("cloudtrail", key=other["RootAccessKeyId"], secret=other["RootSecretAccessKey"])
    events = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "AssumeRoleWithWebIdentity"}]
    )["Events"]
    records = [json.loads(e["CloudTrailEvent"]) for e in events]
    assert any(r["recipientAccountId"] == other["AccountId"] and r.get("errorCode") for r in records)
    # and the token itself is not in the record
    assert all("not-a-jwt-at-all" not in json.dumps(r) for r in records)
