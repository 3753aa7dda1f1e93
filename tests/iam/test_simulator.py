"""The IAM policy simulator through boto3 and the AWS CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from iam_helpers import allow, error_of, unique
from ironkeep.model import aws_policies

CLI_VECTOR = (
    '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*",'
    '"Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}'
)
READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"


def policy(*statements: dict, pretty: bool = True) -> str:
    doc = {"Version": "2012-10-17", "Statement": list(statements)}
    return json.dumps(doc, indent=4) if pretty else json.dumps(doc, separators=(",", ":"))


def deny(action, resource="*", **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def offset(text: str, line: int, column: int) -> int:
    """The offset of the character at (line, column), both 1-based (LF-separated lines here)."""
    lines = text.split("\n")
    assert 1 <= line <= len(lines)
    return sum(len(x) + 1 for x in lines[: line - 1]) + column - 1


def statement_text(document: str, matched: dict) -> str:
    """Slice the document by the simulator's positions (just after each brace)."""
    start, end = matched["StartPosition"], matched["EndPosition"]
    return document[
        offset(document, start["Line"], start["Column"]) - 1 : offset(document, end["Line"], end["Column"])
    ]


def assert_positions(documents: dict[str, str], matched: list[dict]) -> list[dict]:
    """Each matched statement's slice is exactly one statement object of its document."""
    found = []
    for m in matched:
        document = documents[m["SourcePolicyId"]]
        piece = statement_text(document, m)
        assert piece.startswith("{") and piece.endswith("}")
        statement = json.loads(piece)
        raw = json.loads(document)["Statement"]
        assert statement in (raw if isinstance(raw, list) else [raw])
        found.append(statement)
    return found


def only(results: list[dict]) -> dict:
    assert len(results) == 1
    return results[0]


# --- SimulateCustomPolicy -----------------------------------------------------------------------


def test_custom_policy_cli_vector(iam):
    entry = {"ContextKeyName": "aws:CurrentTime", "ContextKeyType": "date"}
    result = only(
        iam.simulate_custom_policy(
            PolicyInputList=[CLI_VECTOR],
            ActionNames=["dynamodb:CreateBackup"],
            ContextEntries=[{**entry, "ContextKeyValues": ["2019-04-25T11:00:00Z"]}],
        )["EvaluationResults"]
    )
    assert result["EvalActionName"] == "dynamodb:CreateBackup"
    assert result["EvalResourceName"] == "*"
    assert result["EvalDecision"] == "allowed"
    assert result["MatchedStatements"] == [
        {
            "SourcePolicyId": "PolicyInputList.1",
            "SourcePolicyType": "IAM Policy",
            "StartPosition": {"Line": 1, "Column": 38},
            "EndPosition": {"Line": 1, "Column": 167},
        }
    ]
    assert result["MissingContextValues"] == []
    assert "EvalDecisionDetails" not in result and "ResourceSpecificResults" not in result

    earlier = only(
        iam.simulate_custom_policy(
            PolicyInputList=[CLI_VECTOR],
            ActionNames=["dynamodb:CreateBackup"],
            ContextEntries=[{**entry, "ContextKeyValues": ["2014-04-25T11:00:00Z"]}],
        )["EvaluationResults"]
    )
    assert earlier["EvalDecision"] == "implicitDeny" and earlier["MatchedStatements"] == []

    missing = only(
        iam.simulate_custom_policy(PolicyInputList=[CLI_VECTOR], ActionNames=["dynamodb:CreateBackup"])[
            "EvaluationResults"
        ]
    )
    assert missing["EvalDecision"] == "implicitDeny"
    assert missing["MissingContextValues"] == ["aws:CurrentTime"]


def test_custom_policy_decisions_and_statement_positions(iam):
    first = policy(
        allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::data/*", Sid="Read"),
        deny("s3:PutObject", "arn:aws:s3:::data/locked/*", Sid="Locked"),
    )
    second = policy(allow("s3:Get*", "arn:aws:s3:::data/*"), pretty=False)
    documents = {"PolicyInputList.1": first, "PolicyInputList.2": second}
    results = iam.simulate_custom_policy(
        PolicyInputList=[first, second],
        ActionNames=["s3:GetObject", "s3:PutObject", "s3:DeleteBucket"],
        ResourceArns=["arn:aws:s3:::data/a", "arn:aws:s3:::data/locked/b"],
    )["EvaluationResults"]
    assert [(r["EvalActionName"], r["EvalResourceName"]) for r in results] == [
        (action, resource)
        for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteBucket")
        for resource in ("arn:aws:s3:::data/a", "arn:aws:s3:::data/locked/b")
    ]
    by_pair = {(r["EvalActionName"], r["EvalResourceName"]): r for r in results}

    read = by_pair[("s3:GetObject", "arn:aws:s3:::data/a")]
    assert read["EvalDecision"] == "allowed"
    assert {m["SourcePolicyId"] for m in read["MatchedStatements"]} == {
        "PolicyInputList.1",
        "PolicyInputList.2",
    }
    statements = assert_positions(documents, read["MatchedStatements"])
    assert {s.get("Sid") for s in statements} == {"Read", None}

    locked = by_pair[("s3:PutObject", "arn:aws:s3:::data/locked/b")]
    assert locked["EvalDecision"] == "explicitDeny"
    assert [s["Sid"] for s in assert_positions(documents, locked["MatchedStatements"])] == ["Locked"]

    bucket = by_pair[("s3:DeleteBucket", "arn:aws:s3:::data/a")]
    assert bucket["EvalDecision"] == "implicitDeny" and bucket["MatchedStatements"] == []

    # a resource ARN: the per-resource record carries the details and missing keys
    assert read["EvalDecisionDetails"] == {}
    (specific,) = read["ResourceSpecificResults"]
    assert specific["EvalResourceName"] == "arn:aws:s3:::data/a"
    assert specific["EvalResourceDecision"] == "allowed"
    assert specific["MatchedStatements"] == read["MatchedStatements"]


def test_custom_policy_pagination(iam):
    actions = [f"iam:{name}" for name in ("GetUser", "ListUsers", "CreateUser", "DeleteUser", "GetRole")]
    full = iam.simulate_custom_policy(PolicyInputList=[policy(allow("iam:Get*"))], ActionNames=actions)
    assert full["IsTruncated"] is False and "Marker" not in full
    pages, params = [], {}
    while True:
        page = iam.simulate_custom_policy(
            PolicyInputList=[policy(allow("iam:Get*"))], ActionNames=actions, MaxItems=2, **params
        )
        pages.append(page["EvaluationResults"])
        if not page["IsTruncated"]:
            break
        params = {"Marker": page["Marker"]}
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [r for p in pages for r in p] == full["EvaluationResults"]
    assert [r["EvalDecision"] for r in full["EvaluationResults"]] == [
        "allowed", "implicitDeny", "implicitDeny", "implicitDeny", "allowed",
    ]  # fmt: skip
    with pytest.raises(ClientError) as excinfo:
        iam.simulate_custom_policy(
            PolicyInputList=[policy(allow("iam:Get*"))], ActionNames=actions, Marker="zz"
        )
    assert error_of(excinfo)[0] == "ValidationError"


def test_resource_policy_needs_a_caller_and_grants_it(iam, server):
    caller = f"arn:aws:iam::{server.account_id}:user/{unique('caller')}"
    bucket_policy = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": caller},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*",
        }
    )
    nothing = policy(allow("sqs:SendMessage"))
    with pytest.raises(ClientError) as excinfo:
        iam.simulate_custom_policy(
            PolicyInputList=[nothing], ActionNames=["s3:GetObject"], ResourcePolicy=bucket_policy
        )
    assert error_of(excinfo)[0] == "InvalidInput"
    result = only(
        iam.simulate_custom_policy(
            PolicyInputList=[nothing],
            ActionNames=["s3:GetObject"],
            ResourceArns=["arn:aws:s3:::b/key"],
            ResourcePolicy=bucket_policy,
            CallerArn=caller,
        )["EvaluationResults"]
    )
    assert result["EvalDecision"] == "allowed"
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in result["MatchedStatements"]] == [
        ("ResourcePolicy", "Resource Policy")
    ]
    assert_positions({"ResourcePolicy": bucket_policy}, result["MatchedStatements"])
    assert result["EvalDecisionDetails"] == {"IAM Policy": "implicitDeny", "Resource Policy": "allowed"}

    # the resource in another account: the resource policy alone is not enough
    other = only(
        iam.simulate_custom_policy(
            PolicyInputList=[nothing],
            ActionNames=["s3:GetObject"],
            ResourceArns=["arn:aws:s3:::b/key"],
            ResourcePolicy=bucket_policy,
            CallerArn=caller,
            ResourceOwner="arn:aws:iam::210987654321:root",
        )["EvaluationResults"]
    )
    assert other["EvalDecision"] == "implicitDeny"
    with pytest.raises(ClientError) as excinfo:
        iam.simulate_custom_policy(
            PolicyInputList=[nothing], ActionNames=["s3:GetObject"], ResourceOwner="not-an-account"
        )
    assert error_of(excinfo)[0] == "InvalidInput"
    with pytest.raises(ClientError) as excinfo:
        iam.simulate_custom_policy(
            PolicyInputList=[nothing],
            ActionNames=["s3:GetObject"],
            ResourcePolicy=bucket_policy,
            CallerArn=f"arn:aws:iam::{server.account_id}:role/r",
        )
    assert error_of(excinfo)[0] == "InvalidInput"


CONTEXT_CASES = [
    # (type, values, condition operator, policy value, matches)
    ("string", ["blue"], "StringEquals", "blue", True),
    ("stringList", ["a", "blue"], "ForAnyValue:StringEquals", "blue", True),
    ("numeric", ["12"], "NumericGreaterThan", "10", True),
    ("numericList", ["1", "2"], "ForAllValues:NumericLessThan", "2", False),
    ("boolean", ["TRUE"], "Bool", "true", True),
    ("booleanList", ["false"], "ForAnyValue:Bool", "true", False),
    ("ip", ["10.1.2.3"], "IpAddress", "10.0.0.0/8", True),
    ("ipList", ["192.168.0.1", "10.0.0.1"], "ForAllValues:IpAddress", "10.0.0.0/8", False),
    ("binary", ["aGVsbG8="], "BinaryEquals", "aGVsbG8=", True),
    ("binaryList", ["aGVsbG8=", "d29ybGQ="], "ForAnyValue:BinaryEquals", "d29ybGQ=", True),
    ("date", ["2030-01-01T00:00:00Z"], "DateGreaterThan", "2020-01-01T00:00:00Z", True),
    ("dateList", ["1577836800"], "ForAnyValue:DateLessThan", "2021-01-01T00:00:00Z", True),
]


@pytest.mark.parametrize(("kind", "values", "operator", "wanted", "matches"), CONTEXT_CASES)
def test_every_context_key_type(iam, kind, values, operator, wanted, matches):
    document = policy(allow("ec2:RunInstances", Condition={operator: {"test:Key": wanted}}))
    result = only(
        iam.simulate_custom_policy(
            PolicyInputList=[document],
            ActionNames=["ec2:RunInstances"],
            ContextEntries=[
                {"ContextKeyName": "test:key", "ContextKeyValues": values, "ContextKeyType": kind}
            ],
        )["EvaluationResults"]
    )
    assert result["EvalDecision"] == ("allowed" if matches else "implicitDeny")
    assert result["MissingContextValues"] == []


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        ("numeric", ["ten"]),
        ("boolean", ["yes"]),
        ("ip", ["300.1.1.1"]),
        ("binary", ["not base64!"]),
        ("date", ["yesterday"]),
        ("string", ["a", "b"]),  # a single-value type with two values
        ("dateList", ["2020-01-01", "never"]),
    ],
)
def test_bad_context_entries_are_invalid_input(iam, kind, values):
    with pytest.raises(ClientError) as excinfo:
        iam.simulate_custom_policy(
            PolicyInputList=[policy(allow("ec2:RunInstances"))],
            ActionNames=["ec2:RunInstances"],
            ContextEntries=[
                {"ContextKeyName": "test:key", "ContextKeyValues": values, "ContextKeyType": kind}
            ],
        )
    assert error_of(excinfo)[0] == "InvalidInput"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_custom_policy_errors(iam):
    good = policy(allow("iam:GetUser"))
    with pytest.raises(ClientError) as excinfo:
        iam.simulate_custom_policy(
            PolicyInputList=[good, '{"Version": "2012-10-17", "Statement": ['], ActionNames=["iam:GetUser"]
        )
    assert error_of(excinfo)[0] == "MalformedPolicyDocument"
    with pytest.raises(ClientError) as excinfo:
        iam.simulate_custom_policy(PolicyInputList=[policy(allow("GetUser"))], ActionNames=["iam:GetUser"])
    assert error_of(excinfo)[0] == "MalformedPolicyDocument"
    for action in ("iam:Get*", "GetUser"):
        with pytest.raises(ClientError) as excinfo:
            iam.simulate_custom_policy(PolicyInputList=[good], ActionNames=[action])
        assert error_of(excinfo)[0] == "InvalidInput"
    with pytest.raises(ClientError) as excinfo:
        iam.simulate_custom_policy(
            PolicyInputList=[good], ActionNames=["iam:GetUser"], ResourceArns=["bucket"]
        )
    assert error_of(excinfo)[0] == "InvalidInput"
    with pytest.raises(ClientError) as excinfo:
        iam.simulate_custom_policy(
            PolicyInputList=[good],
            PermissionsBoundaryPolicyInputList=[good, good],
            ActionNames=["iam:GetUser"],
        )
    assert error_of(excinfo)[0] == "InvalidInput"


def test_resource_handling_option_ec2_scenario(iam, server):
    arn = f"arn:aws:ec2:us-east-1:{server.account_id}"
    resources = [
        f"{arn}:instance/*",
        "arn:aws:ec2:us-east-1::image/ami-1",
        f"{arn}:security-group/sg-1",
        f"{arn}:network-interface/*",
    ]
    document = policy(allow("ec2:RunInstances"), deny("ec2:RunInstances", f"{arn}:security-group/sg-1"))
    result = only(
        iam.simulate_custom_policy(
            PolicyInputList=[document],
            ActionNames=["ec2:RunInstances"],
            ResourceArns=resources,
            ResourceHandlingOption="EC2-VPC-InstanceStore",
        )["EvaluationResults"]
    )
    assert result["EvalDecision"] == "explicitDeny"
    assert [r["EvalResourceName"] for r in result["ResourceSpecificResults"]] == resources
    assert [r["EvalResourceDecision"] for r in result["ResourceSpecificResults"]] == [
        "allowed", "allowed", "explicitDeny", "allowed",
    ]  # fmt: skip
    for option, given in (("EC2-VPC-EBS", resources), ("EC2-Nowhere", resources)):
        with pytest.raises(ClientError) as excinfo:
            iam.simulate_custom_policy(
                PolicyInputList=[document], ActionNames=["ec2:RunInstances"], ResourceArns=given,
                ResourceHandlingOption=option,
            )  # fmt: skip
        assert error_of(excinfo)[0] == "InvalidInput"


def test_custom_policy_through_the_cli(server):
    done = server.aws(
        "iam", "simulate-custom-policy", "--policy-input-list", CLI_VECTOR,
        "--action-names", "dynamodb:CreateBackup",
        "--context-entries", "ContextKeyName=aws:CurrentTime,ContextKeyValues=2019-04-25T11:00:00Z,ContextKeyType=date",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (result,) = json.loads(done.stdout)["EvaluationResults"]
    assert result["EvalDecision"] == "allowed"
    assert result["MatchedStatements"][0]["StartPosition"] == {"Line": 1, "Column": 38}
    assert result["MatchedStatements"][0]["EndPosition"] == {"Line": 1, "Column": 167}


# --- SimulatePrincipalPolicy ---------------------------------------------------------------------


def test_principal_policy_user_with_inline_attached_and_group_policies(iam, server):
    user = iam.create_user(UserName=unique("sim"))["User"]
    group = iam.create_group(GroupName=unique("simgroup"))["Group"]
    iam.add_user_to_group(GroupName=group["GroupName"], UserName=user["UserName"])
    inline = policy(allow("iam:GetUser", user["Arn"], Sid="Self"), deny("iam:DeleteUser", Sid="NoDelete"))
    group_inline = policy(allow(["iam:CreateGroup", "iam:DeleteUser"]))
    managed_doc = policy(allow("iam:ListRoles"), pretty=False)
    managed = iam.create_policy(PolicyName=unique("simmanaged"), PolicyDocument=managed_doc)["Policy"]
    iam.put_user_policy(UserName=user["UserName"], PolicyName="mine", PolicyDocument=inline)
    iam.put_group_policy(GroupName=group["GroupName"], PolicyName="theirs", PolicyDocument=group_inline)
    iam.attach_user_policy(UserName=user["UserName"], PolicyArn=READ_ONLY)
    iam.attach_group_policy(GroupName=group["GroupName"], PolicyArn=managed["Arn"])

    results = iam.simulate_principal_policy(
        PolicySourceArn=user["Arn"],
        ActionNames=["iam:GetUser", "iam:DeleteUser", "iam:CreateGroup", "iam:ListRoles", "iam:CreateRole"],
        ResourceArns=[user["Arn"]],
    )["EvaluationResults"]
    decisions = {r["EvalActionName"]: r for r in results}
    sources = {
        a: [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in r["MatchedStatements"]]
        for a, r in decisions.items()
    }
    assert decisions["iam:GetUser"]["EvalDecision"] == "allowed"
    assert sorted(sources["iam:GetUser"]) == [("IAMReadOnlyAccess", "aws-managed"), ("mine", "user")]
    assert decisions["iam:DeleteUser"]["EvalDecision"] == "explicitDeny"
    assert sources["iam:DeleteUser"] == [("mine", "user")]
    assert decisions["iam:CreateGroup"]["EvalDecision"] == "allowed"
    assert sources["iam:CreateGroup"] == [("theirs", "group")]
    assert decisions["iam:ListRoles"]["EvalDecision"] == "allowed"
    assert sorted(sources["iam:ListRoles"]) == [
        ("IAMReadOnlyAccess", "aws-managed"),
        (managed["PolicyName"], "user-managed"),
    ]
    assert decisions["iam:CreateRole"]["EvalDecision"] == "implicitDeny"
    documents = {"mine": inline, "theirs": group_inline, managed["PolicyName"]: managed_doc}
    documents["IAMReadOnlyAccess"] = aws_policies.get(READ_ONLY).document  # the catalogue's text
    for result in results:
        statements = assert_positions(documents, result["MatchedStatements"])
        if result["EvalActionName"] == "iam:DeleteUser":
            assert [s["Sid"] for s in statements] == ["NoDelete"]

    # PolicyInputList adds to the user's own policies
    extra = policy(allow("iam:CreateRole"), pretty=False)
    added = only(
        iam.simulate_principal_policy(
            PolicySourceArn=user["Arn"], ActionNames=["iam:CreateRole"], PolicyInputList=[extra]
        )["EvaluationResults"]
    )
    assert added["EvalDecision"] == "allowed"
    assert [m["SourcePolicyId"] for m in added["MatchedStatements"]] == ["PolicyInputList.1"]

    # the group on its own: only its policies
    group_result = iam.simulate_principal_policy(
        PolicySourceArn=group["Arn"], ActionNames=["iam:DeleteUser", "iam:GetUser"]
    )["EvaluationResults"]
    assert [r["EvalDecision"] for r in group_result] == ["allowed", "implicitDeny"]


def test_principal_policy_permissions_boundary(iam):
    user = iam.create_user(UserName=unique("bounded"), PermissionsBoundary=READ_ONLY)["User"]
    everything = policy(allow("iam:*"))
    results = iam.simulate_principal_policy(
        PolicySourceArn=user["Arn"],
        ActionNames=["iam:GetRole", "iam:CreateRole"],
        PolicyInputList=[everything],
    )["EvaluationResults"]
    assert [r["EvalDecision"] for r in results] == ["allowed", "implicitDeny"]
    assert [r["PermissionsBoundaryDecisionDetail"] for r in results] == [
        {"AllowedByPermissionsBoundary": True},
        {"AllowedByPermissionsBoundary": False},
    ]
    assert ("IAMReadOnlyAccess", "aws-managed") in [
        (m["SourcePolicyId"], m["SourcePolicyType"]) for m in results[0]["MatchedStatements"]
    ]
    # an input boundary replaces the user's own
    wider = policy(allow("iam:*Role"))
    replaced = iam.simulate_principal_policy(
        PolicySourceArn=user["Arn"],
        ActionNames=["iam:GetRole", "iam:CreateRole", "iam:GetUser"],
        PolicyInputList=[everything],
        PermissionsBoundaryPolicyInputList=[wider],
    )["EvaluationResults"]
    assert [r["EvalDecision"] for r in replaced] == ["allowed", "allowed", "implicitDeny"]
    matched = replaced[1]["MatchedStatements"]
    assert ("PermissionsBoundaryPolicyInputList.1", "IAM Policy") in [
        (m["SourcePolicyId"], m["SourcePolicyType"]) for m in matched
    ]
    assert_positions(
        {"PolicyInputList.1": everything, "PermissionsBoundaryPolicyInputList.1": wider}, matched
    )


def test_principal_policy_role_and_its_trust_policy(iam, server):
    user = iam.create_user(UserName=unique("assumer"))["User"]
    trust = policy(
        {"Effect": "Allow", "Principal": {"AWS": user["Arn"]}, "Action": "sts:AssumeRole", "Sid": "Trust"}
    )
    role = iam.create_role(RoleName=unique("simrole"), AssumeRolePolicyDocument=trust)["Role"]
    role_policy = policy(allow("s3:ListAllMyBuckets"))
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="buckets", PolicyDocument=role_policy)

    own = iam.simulate_principal_policy(
        PolicySourceArn=role["Arn"], ActionNames=["s3:ListAllMyBuckets", "s3:GetObject"]
    )["EvaluationResults"]
    assert [r["EvalDecision"] for r in own] == ["allowed", "implicitDeny"]
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in own[0]["MatchedStatements"]] == [
        ("buckets", "role")
    ]
    assert_positions({"buckets": role_policy}, own[0]["MatchedStatements"])

    # the user may assume the role: its trust policy names the user (honoured, unlike AWS's simulator)
    assume = only(
        iam.simulate_principal_policy(
            PolicySourceArn=user["Arn"], ActionNames=["sts:AssumeRole"], ResourceArns=[role["Arn"]]
        )["EvaluationResults"]
    )
    assert assume["EvalDecision"] == "allowed"
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in assume["MatchedStatements"]] == [
        ("AssumeRolePolicyDocument", "resource")
    ]
    assert_positions({"AssumeRolePolicyDocument": trust}, assume["MatchedStatements"])
    # another user is not named by the trust policy
    stranger = iam.create_user(UserName=unique("stranger"))["User"]
    refused = only(
        iam.simulate_principal_policy(
            PolicySourceArn=stranger["Arn"], ActionNames=["sts:AssumeRole"], ResourceArns=[role["Arn"]]
        )["EvaluationResults"]
    )
    assert refused["EvalDecision"] == "implicitDeny"


def test_principal_policy_unknown_source_is_no_such_entity(iam, server):
    account = server.account_id
    for kind in ("user", "group", "role"):
        name = unique("ghost")
        with pytest.raises(ClientError) as excinfo:
            iam.simulate_principal_policy(
                PolicySourceArn=f"arn:aws:iam::{account}:{kind}/{name}", ActionNames=["iam:GetUser"]
            )
        assert error_of(excinfo) == ("NoSuchEntity", f"The {kind} with name {name} cannot be found.")
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as excinfo:
        iam.simulate_principal_policy(
            PolicySourceArn=f"arn:aws:iam::{account}:policy/not-a-principal", ActionNames=["iam:GetUser"]
        )
    assert error_of(excinfo)[0] == "InvalidInput"


def test_principal_policy_input_errors(iam):
    user = iam.create_user(UserName=unique("inputs"))["User"]
    with pytest.raises(ClientError) as excinfo:
        iam.simulate_principal_policy(
            PolicySourceArn=user["Arn"],
            ActionNames=["iam:GetUser"],
            PolicyInputList=['{"Statement": "nope"}'],
        )
    assert error_of(excinfo)[0] == "MalformedPolicyDocument"
    with pytest.raises(ClientError) as excinfo:
        iam.simulate_principal_policy(
            PolicySourceArn=user["Arn"],
            ActionNames=["iam:GetUser"],
            ContextEntries=[
                {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["nowhere"], "ContextKeyType": "ip"}
            ],
        )
    assert error_of(excinfo)[0] == "InvalidInput"
