"""The simulator and enforcement give the same answer.

On a generated set of users (random combinations of a small policy alphabet, with or without a
permissions boundary), the simulator's EvalDecision for (user, action, resource) must be what
happens when that user makes the call with its own keys: ``allowed`` <-> no AccessDenied,
``explicitDeny`` / ``implicitDeny`` <-> AccessDenied. 40 requests per backend; the seed is fixed
(set IRONKEEP_SIMULATOR_SEED to explore others).
"""

from __future__ import annotations

import json
import os
import random
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from iam_helpers import policy as trust

DEFAULT_SEED = 20261129
SEED = int(os.environ.get("IRONKEEP_SIMULATOR_SEED", DEFAULT_SEED))
USERS = 8
REQUESTS_PER_USER = 5
BOUNDARIES = [
    None,
    None,
    "arn:aws:iam::aws:policy/IAMReadOnlyAccess",
    "arn:aws:iam::aws:policy/IAMUserChangePassword",
]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def statement_alphabet(account: str, other_user_arn: str) -> list[dict]:
    actions = [
        "iam:GetUser",
        "iam:ListUsers",
        "iam:CreateGroup",
        "iam:GetGroup",
        "iam:Get*",
        "iam:List*",
        "iam:*",
    ]
    resources = [
        "*",
        f"arn:aws:iam::{account}:user/*",
        f"arn:aws:iam::{account}:group/*",
        f"arn:aws:iam::{account}:user/${{aws:username}}",
        other_user_arn,
    ]
    return [{"Action": a, "Resource": r} for a in actions for r in resources]


def own_client(server, key: dict):
    return boto3.client(
        "iam",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"max_attempts": 1}),
    )


def make_request(rng: random.Random, account: str, me: str, others: list[str], group: str):
    """(action, resource ARN enforcement checks, the call with the user's own client)."""
    choice = rng.randrange(5)
    if choice == 0:
        target = rng.choice([me, *others])
        return "iam:GetUser", f"arn:aws:iam::{account}:user/{target}", lambda c: c.get_user(UserName=target)
    if choice == 1:
        return "iam:ListUsers", f"arn:aws:iam::{account}:user/*", lambda c: c.list_users(MaxItems=1)
    if choice == 2:
        name = unique("made")
        return (
            "iam:CreateGroup",
            f"arn:aws:iam::{account}:group/{name}",
            lambda c: c.create_group(GroupName=name),
        )
    if choice == 3:
        return "iam:GetGroup", f"arn:aws:iam::{account}:group/{group}", lambda c: c.get_group(GroupName=group)
    return "iam:ListGroups", f"arn:aws:iam::{account}:group/*", lambda c: c.list_groups(MaxItems=1)


def test_simulator_agrees_with_enforcement(iam, server):
    rng = random.Random(SEED)
    account = server.account_id
    group = unique("agree")
    iam.create_group(GroupName=group)
    names = [unique("agree") for _ in range(USERS)]
    seen: dict[str, int] = {}
    disagreements = []
    boundaries = [rng.choice(BOUNDARIES) for _ in names]
    created = [
        iam.create_user(UserName=name, **({"PermissionsBoundary": b} if b else {}))["User"]
        for name, b in zip(names, boundaries, strict=True)
    ]
    for i, (name, boundary, user) in enumerate(zip(names, boundaries, created, strict=True)):
        others = names[:i] + names[i + 1 :]
        alphabet = statement_alphabet(account, f"arn:aws:iam::{account}:user/{rng.choice(others)}")
        for p in range(rng.randint(1, 2)):
            statements = [
                {"Effect": "Deny" if rng.random() < 0.25 else "Allow", **rng.choice(alphabet)}
                for _ in range(rng.randint(1, 3))
            ]
            iam.put_user_policy(
                UserName=name,
                PolicyName=f"p{p}",
                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
            )
        client = own_client(server, iam.create_access_key(UserName=name)["AccessKey"])
        for _ in range(REQUESTS_PER_USER):
            action, resource, call = make_request(rng, account, name, others, group)
            (result,) = iam.simulate_principal_policy(
                PolicySourceArn=user["Arn"], ActionNames=[action], ResourceArns=[resource]
            )["EvaluationResults"]
            decision = result["EvalDecision"]
            seen[decision] = seen.get(decision, 0) + 1
            try:
                call(client)
                enforced = "allowed"
            except ClientError as error:
                assert error.response["Error"]["Code"] == "AccessDenied", error.response["Error"]
                enforced = "denied"
            if (decision == "allowed") != (enforced == "allowed"):
                disagreements.append((name, boundary, action, resource, decision, enforced))
    assert disagreements == []
    assert sum(seen.values()) == USERS * REQUESTS_PER_USER
    assert "allowed" in seen and len(seen) >= 2, seen
    if SEED == DEFAULT_SEED:  # the default sample meets all three decisions
        assert set(seen) == {"allowed", "explicitDeny", "implicitDeny"}, seen


def test_simulated_assume_role_agrees_with_sts(iam, server):
    """Trust policies are honoured by the simulator (unlike AWS's): it must agree with AssumeRole."""
    account = server.account_id
    identity = {
        "none": None,
        "allow": {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
        "deny": {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"},
    }
    users = {}
    for label, statement in identity.items():
        name = unique(f"assume-{label}")
        users[label] = iam.create_user(UserName=name)["User"]
        if statement is not None:
            iam.put_user_policy(
                UserName=name,
                PolicyName="assume",
                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
            )
    allow_user = users["allow"]["Arn"]
    trusts = {
        "names-allow-user": trust(
            {"Effect": "Allow", "Principal": {"AWS": allow_user}, "Action": "sts:AssumeRole"}
        ),
        "names-none-user": trust(
            {"Effect": "Allow", "Principal": {"AWS": users["none"]["Arn"]}, "Action": "sts:AssumeRole"}
        ),
        "names-account": trust(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "sts:AssumeRole",
            }
        ),
        "denies-allow-user": trust(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "sts:AssumeRole",
            },
            {"Effect": "Deny", "Principal": {"AWS": allow_user}, "Action": "sts:AssumeRole"},
        ),
    }
    roles = {
        label: iam.create_role(RoleName=unique("assumed"), AssumeRolePolicyDocument=document)["Role"]
        for label, document in trusts.items()
    }
    outcomes = {}
    for user_label, user in users.items():
        key = iam.create_access_key(UserName=user["UserName"])["AccessKey"]
        sts = boto3.client(
            "sts",
            endpoint_url=server.endpoint,
            region_name="us-east-1",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
            config=Config(retries={"max_attempts": 1}),
        )
        for role_label, role in roles.items():
            (result,) = iam.simulate_principal_policy(
                PolicySourceArn=user["Arn"], ActionNames=["sts:AssumeRole"], ResourceArns=[role["Arn"]]
            )["EvaluationResults"]
            try:
                sts.assume_role(RoleArn=role["Arn"], RoleSessionName="agree")
                enforced = "allowed"
            except ClientError as error:
                assert error.response["Error"]["Code"] == "AccessDenied", error.response["Error"]
                enforced = "denied"
            outcomes[(user_label, role_label)] = (result["EvalDecision"], enforced)
    assert all(
        (decision == "allowed") == (enforced == "allowed") for decision, enforced in outcomes.values()
    ), outcomes
    # the trust policy took part: named directly, the user needs no identity policy; denied, nobody gets in
    assert outcomes[("none", "names-none-user")][0] == "allowed"
    assert outcomes[("allow", "denies-allow-user")][0] == "explicitDeny"
    assert outcomes[("deny", "names-account")][0] == "explicitDeny"
