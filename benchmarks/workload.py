"""A seeded, realistic workload for the policy engine, in the ``simulate`` request format.

Hundreds of principals (IAM users and role sessions) each carry 3 to 10 identity policies drawn
from a library written in the style of AWS managed policies (ReadOnlyAccess, PowerUserAccess
with NotAction, S3/EC2/DynamoDB/SQS/KMS scoped policies with wildcards and conditions on
aws:SourceIp, aws:PrincipalTag, aws:RequestedRegion, s3:prefix ...), some a permissions
boundary, some role sessions a session policy. Resources carry resource policies; every account
sits under two SCP levels and one RCP level. Requests mix Allow, ImplicitDeny and ExplicitDeny outcomes.

    python3 benchmarks/workload.py -n 20000 -o benchmarks/out/requests.jsonl
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

ACCT = "111122223333"
PARTNER = "444455556666"
MGMT = "999988887777"
V = "2012-10-17"
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"]
TEAMS = ["blue", "red", "green", "data", "platform"]
BUCKETS = ["corp-data", "corp-logs", "team-shared", "home-dirs", "public-site"]
TABLES = ["Orders", "Customers", "Sessions", "Inventory"]
QUEUES = ["jobs", "events", "dead-letter"]


def _p(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": V, "Statement": list(statements)}


def _s(sid: str, effect: str, action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"Sid": sid, "Effect": effect}
    if action is not None:
        st["Action"] = action
    if resource is not None:
        st["Resource"] = resource
    st.update(extra)
    return st


# -- identity policies in the style of AWS managed policies --------------------------------------

READ_ONLY = _p(
    _s(
        "ReadOnlyEverywhere",
        "Allow",
        (
            "acm:Describe* acm:Get* acm:List* autoscaling:Describe* cloudformation:Describe* "
            "cloudformation:Get* cloudformation:List* cloudfront:Get* cloudfront:List* "
            "cloudtrail:Describe* cloudtrail:Get* cloudtrail:LookupEvents cloudwatch:Describe* "
            "cloudwatch:Get* cloudwatch:List* dynamodb:BatchGetItem dynamodb:Describe* "
            "dynamodb:GetItem dynamodb:List* dynamodb:Query dynamodb:Scan ec2:Describe* ec2:Get* "
            "ecr:BatchGetImage ecr:Describe* ecr:GetDownloadUrlForLayer ecr:List* ecs:Describe* "
            "ecs:List* eks:Describe* eks:List* elasticloadbalancing:Describe* iam:Generate* iam:Get* "
            "iam:List* iam:Simulate* kms:Describe* kms:Get* kms:List* lambda:Get* lambda:List* "
            "logs:Describe* logs:FilterLogEvents logs:Get* rds:Describe* rds:ListTagsForResource "
            "route53:Get* route53:List* s3:Get* s3:List* sns:Get* sns:List* sqs:Get* sqs:List* "
            "ssm:Describe* ssm:Get* ssm:List* sts:GetCallerIdentity tag:Get*"
        ).split(),
    ),
)

POWER_USER = _p(
    _s("NotIamOrOrganizations", "Allow", None, "*", NotAction=["iam:*", "organizations:*", "account:*"]),
    _s(
        "IamReadAndServiceLinkedRoles",
        "Allow",
        (
            "iam:CreateServiceLinkedRole iam:DeleteServiceLinkedRole iam:ListRoles "
            "organizations:DescribeOrganization account:ListRegions account:GetAccountInformation"
        ).split(),
    ),
)

S3_HOME = _p(
    _s(
        "ListHomePrefix",
        "Allow",
        "s3:ListBucket",
        "arn:aws:s3:::home-dirs",
        Condition={"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/*"]}},
    ),
    _s(
        "ReadWriteOwnHome",
        "Allow",
        ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
        "arn:aws:s3:::home-dirs/home/${aws:username}/*",
    ),
)

S3_TEAM = _p(
    _s(
        "TeamBucketList",
        "Allow",
        ["s3:ListBucket", "s3:GetBucketLocation"],
        "arn:aws:s3:::team-shared",
        Condition={"StringLike": {"s3:prefix": ["${aws:PrincipalTag/team}/*"]}},
    ),
    _s(
        "TeamObjects",
        "Allow",
        ["s3:GetObject*", "s3:PutObject*"],
        "arn:aws:s3:::team-shared/${aws:PrincipalTag/team}/*",
    ),
    _s(
        "DenyUnencryptedUploads",
        "Deny",
        "s3:PutObject",
        "arn:aws:s3:::team-shared/*",
        Condition={"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}},
    ),
)

S3_DATA_READ = _p(
    _s(
        "DataLakeRead",
        "Allow",
        ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"],
        ["arn:aws:s3:::corp-data", "arn:aws:s3:::corp-data/curated/*", "arn:aws:s3:::corp-data/raw/20??/*"],
        Condition={"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "198.51.100.0/24", "2001:db8::/32"]}},
    ),
)

EC2_REGIONAL = _p(
    _s(
        "Ec2InApprovedRegions",
        "Allow",
        ["ec2:RunInstances", "ec2:StartInstances", "ec2:StopInstances", "ec2:CreateTags", "ec2:Describe*"],
        "*",
        Condition={"StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}},
    ),
    _s(
        "Ec2TerminateOwnTeam",
        "Allow",
        "ec2:TerminateInstances",
        f"arn:aws:ec2:*:{ACCT}:instance/*",
        Condition={"StringEquals": {"ec2:ResourceTag/team": "${aws:PrincipalTag/team}"}},
    ),
    _s(
        "NoLargeInstances",
        "Deny",
        "ec2:RunInstances",
        f"arn:aws:ec2:*:{ACCT}:instance/*",
        Condition={
            "ForAnyValue:StringLike": {
                "ec2:InstanceType": ["*.8xlarge", "*.12xlarge", "*.16xlarge", "*.metal"]
            }
        },
    ),
)

DYNAMO_ROWS = _p(
    _s(
        "OwnRowsOnly",
        "Allow",
        ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
        [f"arn:aws:dynamodb:*:{ACCT}:table/Sessions", f"arn:aws:dynamodb:*:{ACCT}:table/Sessions/index/*"],
        Condition={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:userid}"]}},
    ),
    _s(
        "ReadCatalog",
        "Allow",
        ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:DescribeTable"],
        [f"arn:aws:dynamodb:*:{ACCT}:table/Inventory", f"arn:aws:dynamodb:*:{ACCT}:table/Orders"],
    ),
)

SQS_WORKER = _p(
    _s(
        "ConsumeJobs",
        "Allow",
        [
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
        ],
        f"arn:aws:sqs:*:{ACCT}:jobs*",
    ),
    _s(
        "SendEvents",
        "Allow",
        "sqs:SendMessage",
        [f"arn:aws:sqs:*:{ACCT}:events", f"arn:aws:sqs:*:{PARTNER}:events"],
    ),
)

KMS_VIA_S3 = _p(
    _s(
        "DecryptViaS3",
        "Allow",
        ["kms:Decrypt", "kms:GenerateDataKey*"],
        f"arn:aws:kms:*:{ACCT}:key/*",
        Condition={"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
    ),
)

LOGS_WRITER = _p(
    _s(
        "WriteOwnLogGroups",
        "Allow",
        ["logs:CreateLogStream", "logs:PutLogEvents", "logs:CreateLogGroup"],
        f"arn:aws:logs:*:{ACCT}:log-group:/app/${{aws:PrincipalTag/team}}/*",
    ),
    _s("ReadMetrics", "Allow", ["cloudwatch:GetMetricData", "cloudwatch:ListMetrics"], "*"),
)

LAMBDA_DEPLOY = _p(
    _s(
        "DeployTeamFunctions",
        "Allow",
        [
            "lambda:UpdateFunctionCode",
            "lambda:UpdateFunctionConfiguration",
            "lambda:InvokeFunction",
            "lambda:GetFunction",
        ],
        f"arn:aws:lambda:*:{ACCT}:function:${{aws:PrincipalTag/team}}-*",
    ),
    _s(
        "PassOnlyLambdaRoles",
        "Allow",
        "iam:PassRole",
        f"arn:aws:iam::{ACCT}:role/lambda-*",
        Condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
    ),
)

DENY_NO_MFA = _p(
    _s(
        "DenySensitiveWithoutMFA",
        "Deny",
        ["iam:*", "kms:ScheduleKeyDeletion", "s3:DeleteBucket*", "ec2:TerminateInstances"],
        "*",
        Condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
    ),
)

DENY_OUTSIDE_NET = _p(
    _s(
        "DenyOutsideCorporateNetwork",
        "Deny",
        "*",
        "*",
        Condition={
            "NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "198.51.100.0/24", "2001:db8::/32"]},
            "Bool": {"aws:ViaAWSService": "false"},
        },
    ),
)

SELF_SERVICE = _p(
    _s(
        "ManageOwnCredentials",
        "Allow",
        ["iam:ChangePassword", "iam:GetUser", "iam:*AccessKey*", "iam:*MFADevice", "iam:*SSHPublicKey*"],
        f"arn:aws:iam::{ACCT}:user/${{aws:username}}",
    ),
    _s("ListVirtualMFA", "Allow", "iam:ListVirtualMFADevices", "*"),
)

WORK_HOURS = _p(
    _s(
        "RdsAdminInWindow",
        "Allow",
        ["rds:RebootDBInstance", "rds:ModifyDBInstance", "rds:CreateDBSnapshot"],
        f"arn:aws:rds:*:{ACCT}:db:*",
        Condition={
            "DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"},
            "DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"},
            "StringEquals": {"aws:PrincipalTag/oncall": "true"},
        },
    ),
)

IDENTITY_LIBRARY = [
    READ_ONLY,
    POWER_USER,
    S3_HOME,
    S3_TEAM,
    S3_DATA_READ,
    EC2_REGIONAL,
    DYNAMO_ROWS,
    SQS_WORKER,
    KMS_VIA_S3,
    LOGS_WRITER,
    LAMBDA_DEPLOY,
    DENY_NO_MFA,
    DENY_OUTSIDE_NET,
    SELF_SERVICE,
    WORK_HOURS,
]
# READ_ONLY and POWER_USER are large; most principals get one of them plus scoped policies.
SCOPED = IDENTITY_LIBRARY[2:]

# -- boundaries, session policies, resource policies, SCPs ---------------------------------------

DEV_BOUNDARY = _p(
    _s(
        "DeveloperServices",
        "Allow",
        (
            "s3:* dynamodb:* sqs:* logs:* cloudwatch:* lambda:* ec2:Describe* kms:Decrypt "
            "kms:GenerateDataKey* sts:GetCallerIdentity"
        ).split(),
    ),
    _s(
        "NoBoundaryEscape",
        "Deny",
        [
            "iam:DeleteUserPermissionsBoundary",
            "iam:DeleteRolePermissionsBoundary",
            "iam:PutUserPermissionsBoundary",
            "iam:PutRolePermissionsBoundary",
        ],
    ),
)
REGION_BOUNDARY = _p(
    _s(
        "AnythingInHomeRegions",
        "Allow",
        "*",
        "*",
        Condition={"StringEqualsIfExists": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}},
    ),
)
BOUNDARIES = [DEV_BOUNDARY, REGION_BOUNDARY]

SESSION_READ = _p(
    _s("SessionReadOnly", "Allow", ["s3:Get*", "s3:List*", "dynamodb:Get*", "dynamodb:Query", "sqs:Receive*"])
)
SESSION_TEAM = _p(
    _s("SessionTeamPrefix", "Allow", "s3:*", "arn:aws:s3:::team-shared/*"),
    _s("SessionQueues", "Allow", "sqs:*", f"arn:aws:sqs:*:{ACCT}:*"),
)
SESSIONS = [SESSION_READ, SESSION_TEAM]


def _bucket_policy(bucket: str) -> dict[str, Any]:
    return _p(
        _s(
            "DenyInsecureTransport",
            "Deny",
            "s3:*",
            [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            Principal="*",
            Condition={"Bool": {"aws:SecureTransport": "false"}},
        ),
        _s(
            "PartnerReadOnly",
            "Allow",
            ["s3:GetObject", "s3:ListBucket"],
            [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/shared/*"],
            Principal={"AWS": [f"arn:aws:iam::{PARTNER}:role/partner-reader", PARTNER]},
        ),
        _s(
            "AuditorsReadLogs",
            "Allow",
            ["s3:GetObject", "s3:ListBucket"],
            [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            Principal={"AWS": f"arn:aws:iam::{ACCT}:role/auditor"},
        ),
    )


def _queue_policy(queue: str) -> dict[str, Any]:
    arn = f"arn:aws:sqs:us-east-1:{ACCT}:{queue}"
    return _p(
        _s(
            "FromOurTopics",
            "Allow",
            "sqs:SendMessage",
            arn,
            Principal={"Service": "sns.amazonaws.com"},
            Condition={"ArnLike": {"aws:SourceArn": f"arn:aws:sns:*:{ACCT}:*"}},
        ),
        _s(
            "PartnerSends",
            "Allow",
            "sqs:SendMessage",
            arn,
            Principal={"AWS": PARTNER},
            Condition={"StringEquals": {"aws:PrincipalOrgID": "o-exampleorg1"}},
        ),
    )


KEY_POLICY = _p(
    _s("EnableIamPolicies", "Allow", "kms:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCT}:root"}),
    _s(
        "DenyDeletionOutsideAdmins",
        "Deny",
        "kms:ScheduleKeyDeletion",
        "*",
        Principal="*",
        Condition={"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCT}:role/admin-*"}},
    ),
)

SCP_FULL = _p(_s("FullAWSAccess", "Allow", "*", "*"))
SCP_REGION_GUARD = _p(
    _s(
        "DenyOutsideApprovedRegions",
        "Deny",
        None,
        "*",
        NotAction=("iam:* organizations:* route53:* cloudfront:* sts:* support:* budgets:*").split(),
        Condition={
            "StringNotEquals": {
                "aws:RequestedRegion": ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1"]
            }
        },
    ),
)
SCP_GUARDRAILS = _p(
    _s("ProtectAuditTrail", "Deny", ["cloudtrail:StopLogging", "cloudtrail:DeleteTrail", "config:Delete*"]),
    _s("StayInOrganization", "Deny", "organizations:LeaveOrganization"),
    _s(
        "NoRootActions",
        "Deny",
        "*",
        "*",
        Condition={"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}},
    ),
)
SCP_LEVELS = [[SCP_FULL, SCP_REGION_GUARD], [SCP_FULL, SCP_GUARDRAILS]]
RCP_FULL = _p(_s("RCPFullAWSAccess", "Allow", "*", "*", Principal="*"))
RCP_PERIMETER = _p(
    _s(
        "EnforceOrgIdentities",
        "Deny",
        ["s3:*", "sqs:*", "kms:*", "sts:AssumeRole", "secretsmanager:*"],
        "*",
        Principal="*",
        Condition={
            "StringNotEqualsIfExists": {
                "aws:PrincipalOrgID": "o-exampleorg1",
                "aws:ResourceTag/dp:exclude:identity": "true",
            },
            "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
        },
    ),
    _s(
        "EnforceSecureTransport",
        "Deny",
        ["s3:*", "sqs:*", "kms:*", "sts:*", "secretsmanager:*"],
        "*",
        Principal="*",
        Condition={"BoolIfExists": {"aws:SecureTransport": "false"}},
    ),
)
RCP_LEVELS = [[RCP_FULL, RCP_PERIMETER]]

# -- principals and requests --------------------------------------------------------------------


@dataclass
class Principal:
    arn: str
    id: str
    tags: dict[str, str]
    identity: list[dict[str, Any]]
    boundary: dict[str, Any] | None = None
    session: list[dict[str, Any]] = field(default_factory=list)
    username: str | None = None


def principals(rng: random.Random, n: int) -> list[Principal]:
    out = []
    for i in range(n):
        team = rng.choice(TEAMS)
        tags = {"team": team, "cost-center": str(1000 + i % 37)}
        if rng.random() < 0.2:
            tags["oncall"] = "true"
        base = READ_ONLY if rng.random() < 0.6 else POWER_USER
        count = rng.randint(3, 10)
        identity = [base, *rng.sample(SCOPED, count - 1)]
        boundary = rng.choice(BOUNDARIES) if rng.random() < 0.3 else None
        if rng.random() < 0.6:
            name = f"user{i:04d}"
            out.append(
                Principal(
                    f"arn:aws:iam::{ACCT}:user/staff/{name}",
                    f"AIDA{i:017d}",
                    tags,
                    identity,
                    boundary,
                    username=name,
                )
            )
        else:
            role = f"app-{team}-{i % 50}"
            session = [rng.choice(SESSIONS)] if rng.random() < 0.25 else []
            out.append(
                Principal(
                    f"arn:aws:sts::{ACCT}:assumed-role/{role}/s{i}",
                    f"AROA{i:017d}:s{i}",
                    tags,
                    identity,
                    boundary,
                    session,
                )
            )
    return out


def _target(rng: random.Random, p: Principal) -> tuple[str, str, dict[str, Any] | None]:
    """(action, resource, resource policy) — a spread of services and of outcomes."""
    r = rng.random()
    team = p.tags["team"]
    user = p.username or "nobody"
    if r < 0.30:
        bucket = rng.choice(BUCKETS)
        key = rng.choice(
            [
                f"home/{user}/notes.txt",
                f"{team}/report.csv",
                "curated/2026/part-0001.parquet",
                "raw/2025/01/events.json",
                "shared/readme.md",
                f"{rng.choice(TEAMS)}/x.bin",
            ]
        )
        if bucket == "team-shared" and rng.random() < 0.5:
            key = f"{team}/{key}"
        action = rng.choice(["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectVersion"])
        return action, f"arn:aws:s3:::{bucket}/{key}", _bucket_policy(bucket)
    if r < 0.38:
        bucket = rng.choice(BUCKETS)
        return (
            rng.choice(["s3:ListBucket", "s3:GetBucketLocation"]),
            f"arn:aws:s3:::{bucket}",
            _bucket_policy(bucket),
        )
    if r < 0.55:
        region = rng.choice(REGIONS)
        action = rng.choice(
            ["ec2:DescribeInstances", "ec2:RunInstances", "ec2:TerminateInstances", "ec2:StopInstances"]
        )
        return action, f"arn:aws:ec2:{region}:{ACCT}:instance/i-{rng.randrange(16**8):08x}", None
    if r < 0.68:
        table = rng.choice(TABLES)
        action = rng.choice(
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:DeleteTable"]
        )
        return action, f"arn:aws:dynamodb:us-east-1:{ACCT}:table/{table}", None
    if r < 0.78:
        queue = rng.choice(QUEUES)
        action = rng.choice(["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:PurgeQueue"])
        return action, f"arn:aws:sqs:us-east-1:{ACCT}:{queue}", _queue_policy(queue)
    if r < 0.84:
        action = rng.choice(["kms:Decrypt", "kms:GenerateDataKey", "kms:ScheduleKeyDeletion"])
        return action, f"arn:aws:kms:us-east-1:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab", KEY_POLICY
    if r < 0.90:
        action = rng.choice(["iam:GetUser", "iam:CreateAccessKey", "iam:CreateUser", "iam:ChangePassword"])
        return action, f"arn:aws:iam::{ACCT}:user/staff/{user}", None
    if r < 0.95:
        fn = f"{rng.choice(TEAMS)}-api"
        return (
            rng.choice(["lambda:InvokeFunction", "lambda:UpdateFunctionCode"]),
            f"arn:aws:lambda:us-east-1:{ACCT}:function:{fn}",
            None,
        )
    return rng.choice(["cloudtrail:StopLogging", "logs:PutLogEvents", "rds:RebootDBInstance"]), "*", None


def requests(seed: int = 7, n: int = 20000, n_principals: int = 400) -> Iterator[dict[str, Any]]:
    """``n`` simulate-format requests, deterministic for a given seed."""
    rng = random.Random(seed)
    people = principals(rng, n_principals)
    for _ in range(n):
        p = rng.choice(people)
        action, resource, resource_policy = _target(rng, p)
        context: dict[str, Any] = {
            "aws:SourceIp": rng.choice(["203.0.113.10", "198.51.100.77", "192.0.2.44", "2001:db8::5"]),
            "aws:RequestedRegion": rng.choice(REGIONS),
            "aws:SecureTransport": rng.choice(["true", "true", "true", "false"]),
            "aws:CurrentTime": "2026-03-14T09:26:53Z",
            "aws:ViaAWSService": "false",
            "aws:PrincipalOrgID": "o-exampleorg1" if rng.random() < 0.97 else "o-elsewhere1",
        }
        if rng.random() < 0.5:
            context["aws:MultiFactorAuthPresent"] = rng.choice(["true", "false"])
        if action == "s3:ListBucket":
            context["s3:prefix"] = rng.choice(
                ["home/", f"home/{p.username}/", f"{p.tags['team']}/", "curated/"]
            )
        if action == "ec2:RunInstances":
            context["ec2:InstanceType"] = rng.choice(["t3.micro", "m5.large", "c5.12xlarge"])
        if action.startswith("kms:"):
            context["kms:ViaService"] = rng.choice(
                ["s3.us-east-1.amazonaws.com", "ec2.us-east-1.amazonaws.com"]
            )
        yield {
            "principal": {"arn": p.arn, "id": p.id, "tags": p.tags},
            "organization": {"management_account": MGMT},
            "action": action,
            "resource": resource,
            "context": context,
            "policies": {
                "identity": p.identity,
                "permissions_boundary": p.boundary,
                "session": p.session,
                "resource": resource_policy,
                "scps": SCP_LEVELS,
                "rcps": RCP_LEVELS,
            },
        }


def write_jsonl(path: Path, seed: int = 7, n: int = 20000) -> int:
    """Write ``n`` requests as JSON Lines; returns the size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        for r in requests(seed, n):
            f.write(orjson.dumps(r) + b"\n")
    return path.stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("-o", type=Path, default=Path(__file__).parent / "out" / "requests.jsonl")
    a = ap.parse_args()
    size = write_jsonl(a.o, a.seed, a.n)
    print(f"{a.n} requests, {size / 1e6:.1f} MB ({size / a.n / 1024:.1f} KiB a request) -> {a.o}")


if __name__ == "__main__":
    main()
