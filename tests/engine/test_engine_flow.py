"""The evaluation flow, rule by rule, from the IAM User Guide's *Policy evaluation logic*,
*Cross-account policy evaluation logic*, *Permissions boundaries for IAM entities*, *Session
policies* and the Organizations guide on SCPs and RCPs."""

from __future__ import annotations

from typing import Any

import pytest

from ironkeep.engine import Decision, Principal, Request, authorize, compile_policy_set

ACCT, OTHER, MGMT = "111122223333", "444455556666", "999988887777"
USER = f"arn:aws:iam::{ACCT}:user/alice"
ROLE = f"arn:aws:iam::{ACCT}:role/app"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/app/s1"
FED = f"arn:aws:sts::{ACCT}:federated-user/fred"
ROOT = f"arn:aws:iam::{ACCT}:root"
BUCKET = "arn:aws:s3:::b/k"  # no account in S3 ARNs: the request says whose it is


def allow(action: str = "s3:GetObject", resource: str = "*", sid: str | None = None, **extra: Any) -> dict:
    st: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource, **extra}
    if sid:
        st["Sid"] = sid
    return {"Version": "2012-10-17", "Statement": [st]}


def deny(action: str = "s3:GetObject", resource: str = "*", sid: str | None = None, **extra: Any) -> dict:
    doc = allow(action, resource, sid, **extra)
    doc["Statement"][0]["Effect"] = "Deny"
    return doc


def bucket_policy(principal: Any, effect: str = "Allow", key: str = "Principal") -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": effect, key: principal, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
        ],
    }


NOTHING = allow("ec2:DescribeInstances")


def decide(
    arn: str | None = USER,
    *,
    service: str | None = None,
    action: str = "s3:GetObject",
    target: str = BUCKET,
    resource_account: str | None = ACCT,
    management_account: str | None = None,
    context: dict | None = None,
    **policies: Any,
) -> Decision:
    principal = Principal(arn=arn, id="AIDAEXAMPLE" if arn == USER else None, service=service)
    request = Request(
        principal=principal,
        action=action,
        resource=target,
        resource_account=resource_account,
        context=context,
        management_account=management_account,
    )
    return authorize(request, compile_policy_set(**policies))


def labels(decision: Decision) -> list[str]:
    return [m.policy for m in decision.matched]


def test_no_policy_means_implicit_deny() -> None:
    d = decide()
    assert d.decision == "ImplicitDeny"
    assert d.blocked_by == ("identity",)
    assert d.matched == ()


def test_identity_allow() -> None:
    d = decide(identity=[NOTHING, allow(sid="Read")])
    assert d.decision == "Allow"
    assert [m.to_json() for m in d.matched] == [{"policy": "identity[1]", "sid": "Read", "effect": "Allow"}]


@pytest.mark.parametrize(
    "where",
    [
        {"identity": [allow(), deny()]},
        {"identity": [allow()], "permissions_boundary": deny()},
        {"identity": [allow()], "scps": [[allow("*")], [allow("*"), deny()]]},
        {"identity": [allow()], "rcps": [[deny()]]},
        {"identity": [allow()], "resource": bucket_policy({"AWS": ACCT}, "Deny")},
        {"identity": [allow()], "resource": bucket_policy("*", "Deny")},
    ],
)
def test_an_explicit_deny_in_any_kind_wins(where: dict) -> None:
    d = decide(**where)
    assert d.decision == "ExplicitDeny"
    assert all(m.effect == "Deny" for m in d.matched) and d.matched


def test_deny_labels_name_the_kind_and_level() -> None:
    d = decide(identity=[allow()], scps=[[allow("*")], [allow("*"), deny(sid="NoS3")]])
    assert [m.to_json() for m in d.matched] == [{"policy": "scps[1][1]", "sid": "NoS3", "effect": "Deny"}]
    assert d.blocked_by == ("scps",)


def test_scps_every_level_must_allow() -> None:
    assert decide(identity=[allow()], scps=[[allow("*")], [allow("s3:*")]]).decision == "Allow"
    d = decide(identity=[allow()], scps=[[allow("*")], [allow("ec2:*")]])
    assert d.decision == "ImplicitDeny"
    assert d.blocked_by == ("scps",)
    assert d.allowed_by_organizations is False


def test_scps_do_not_restrict_the_management_account() -> None:
    d = decide(identity=[allow()], scps=[[deny("*")]], management_account=ACCT)
    assert d.decision == "Allow"
    assert d.allowed_by_organizations is None


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:iam::{ACCT}:role/aws-service-role/elasticbeanstalk.amazonaws.com/AWSServiceRoleForElasticBeanstalk",
        f"arn:aws:sts::{ACCT}:assumed-role/AWSServiceRoleForElasticBeanstalk/session",
    ],
)
def test_scps_do_not_restrict_service_linked_roles(arn: str) -> None:
    assert decide(arn, identity=[allow()], scps=[[allow("ec2:*")]]).decision == "Allow"


def test_scps_apply_to_the_member_account_root_user() -> None:
    assert decide(ROOT, scps=[[allow("*")]]).decision == "Allow"
    assert decide(ROOT, scps=[[allow("*"), deny()]]).decision == "ExplicitDeny"
    assert decide(ROOT, scps=[[allow("ec2:*")]]).decision == "ImplicitDeny"


def test_rcps_apply_to_the_resource_account_except_the_management_account() -> None:
    assert decide(identity=[allow()], rcps=[[allow("*")], [allow("ec2:*")]]).blocked_by == ("rcps",)
    d = decide(identity=[allow()], rcps=[[allow("ec2:*")]], management_account=ACCT)
    assert d.decision == "Allow"


def test_permissions_boundary_limits_identity_permissions() -> None:
    d = decide(identity=[allow()], permissions_boundary=allow("ec2:*"))
    assert d.decision == "ImplicitDeny"
    assert d.blocked_by == ("permissions_boundary",)
    assert d.allowed_by_permissions_boundary is False
    d = decide(identity=[allow()], permissions_boundary=allow("s3:*"))
    assert d.decision == "Allow"
    assert d.allowed_by_permissions_boundary is True
    assert labels(d) == ["identity[0]", "permissions_boundary"]


def test_a_boundary_alone_grants_nothing() -> None:
    d = decide(identity=[], permissions_boundary=allow("*"))
    assert d.decision == "ImplicitDeny"
    assert d.blocked_by == ("identity",)


def test_session_policies_narrow_a_role_session() -> None:
    assert decide(SESSION, identity=[allow()]).decision == "Allow"  # none passed: role permissions apply
    assert decide(SESSION, identity=[allow()], session=[allow("s3:*")]).decision == "Allow"
    d = decide(SESSION, identity=[allow()], session=[allow("ec2:*")])
    assert d.decision == "ImplicitDeny"
    assert d.blocked_by == ("session",)
    assert decide(SESSION, identity=[], session=[allow("*")]).decision == "ImplicitDeny"


def test_federated_user_without_session_policy_has_no_identity_permissions() -> None:
    d = decide(FED, identity=[allow()])
    assert d.decision == "ImplicitDeny"
    assert d.blocked_by == ("session",)
    assert decide(FED, identity=[allow()], session=[allow()]).decision == "Allow"


# Same account, resource-based policy (IAM User Guide: "If a resource-based policy grants
# permission directly to the IAM user or the session principal that is making the request, then
# an implicit deny in an identity-based policy, a permissions boundary, or a session policy does
# not impact the final decision"; a role ARN is limited by the boundary and session policy).
@pytest.mark.parametrize(
    ("arn", "named", "extra", "expected"),
    [
        (USER, USER, {}, "Allow"),
        (USER, USER, {"permissions_boundary": allow("ec2:*")}, "Allow"),
        (USER, "*", {"permissions_boundary": allow("ec2:*")}, "Allow"),
        (USER, ACCT, {}, "ImplicitDeny"),
        (USER, ROOT, {}, "ImplicitDeny"),
        (USER, ACCT, {"identity": [allow()]}, "Allow"),
        (USER, f"arn:aws:iam::{ACCT}:user/bob", {}, "ImplicitDeny"),
        (SESSION, SESSION, {"permissions_boundary": allow("ec2:*"), "session": [allow("ec2:*")]}, "Allow"),
        (SESSION, ROLE, {}, "Allow"),
        (SESSION, f"arn:aws:iam::{ACCT}:role/path/app", {}, "Allow"),
        (SESSION, ROLE, {"permissions_boundary": allow("ec2:*")}, "ImplicitDeny"),
        (SESSION, ROLE, {"session": [allow("ec2:*")]}, "ImplicitDeny"),
        (SESSION, ROLE, {"session": [allow("s3:*")]}, "Allow"),
        (SESSION, f"arn:aws:iam::{ACCT}:role/other", {}, "ImplicitDeny"),
        (FED, FED, {}, "Allow"),
        (FED, ACCT, {"identity": [allow()]}, "ImplicitDeny"),
    ],
)
def test_same_account_resource_policy(arn: str, named: str, extra: dict, expected: str) -> None:
    principal = "*" if named == "*" else {"AWS": named}
    d = decide(arn, resource=bucket_policy(principal), **extra)
    assert d.decision == expected, d.explain()


@pytest.mark.parametrize(
    ("named", "identity", "expected", "blocked"),
    [
        (ACCT, [allow()], "Allow", ()),
        (USER, [allow()], "Allow", ()),
        (USER, [], "ImplicitDeny", ("identity",)),
        (OTHER, [allow()], "ImplicitDeny", ("resource",)),
        (None, [allow()], "ImplicitDeny", ("resource",)),
    ],
)
def test_cross_account_needs_both_sides(
    named: str | None, identity: list, expected: str, blocked: tuple
) -> None:
    resource = None if named is None else bucket_policy({"AWS": named})
    d = decide(identity=identity, resource=resource, resource_account=OTHER)
    assert d.decision == expected
    assert d.blocked_by == blocked


def test_resource_account_comes_from_the_arn_else_the_principal() -> None:
    queue = f"arn:aws:sqs:us-east-1:{OTHER}:q"
    assert decide(identity=[allow("sqs:*")], action="sqs:SendMessage", target=queue,
                  resource_account=None).decision == "ImplicitDeny"  # fmt: skip
    assert decide(identity=[allow()], resource_account=None).decision == "Allow"


def test_root_user_needs_no_identity_policy_in_its_own_account() -> None:
    assert decide(ROOT).decision == "Allow"
    assert decide(ROOT, resource_account=OTHER).decision == "ImplicitDeny"
    assert decide(ROOT, resource_account=OTHER, resource=bucket_policy({"AWS": ACCT})).decision == "Allow"


def test_service_principals_need_the_resource_policy() -> None:
    svc = "cloudtrail.amazonaws.com"
    d = decide(None, service=svc, resource=bucket_policy({"Service": svc}), scps=[[allow("ec2:*")]])
    assert d.decision == "Allow"
    assert decide(None, service=svc, resource=bucket_policy({"Service": "ec2.amazonaws.com"})).decision == (
        "ImplicitDeny"
    )
    assert decide(None, service=svc).blocked_by == ("resource",)


def test_not_principal_deny_excludes_only_fully_named_principals() -> None:
    # IAM User Guide, NotPrincipal: with Deny, name the user's ARN and its account
    user_only = bucket_policy({"AWS": [USER]}, "Deny", "NotPrincipal")
    user_and_account = bucket_policy({"AWS": [USER, ROOT]}, "Deny", "NotPrincipal")
    assert decide(identity=[allow()], resource=user_only).decision == "ExplicitDeny"
    assert decide(identity=[allow()], resource=user_and_account).decision == "Allow"
    session_named = bucket_policy({"AWS": [SESSION, ROLE, ACCT]}, "Deny", "NotPrincipal")
    assert decide(SESSION, identity=[allow()], resource=session_named).decision == "Allow"
    assert decide(
        f"arn:aws:iam::{ACCT}:user/bob", identity=[allow()], resource=user_and_account
    ).decision == ("ExplicitDeny")


def test_not_principal_deny_always_applies_to_principals_with_a_boundary() -> None:
    policy = bucket_policy({"AWS": [USER, ROOT]}, "Deny", "NotPrincipal")
    d = decide(identity=[allow()], permissions_boundary=allow("*"), resource=policy)
    assert d.decision == "ExplicitDeny"
    assert labels(d) == ["resource"]


def test_not_action_and_not_resource() -> None:
    not_action = {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}
    assert decide(identity=[not_action]).decision == "Allow"
    assert decide(identity=[not_action], action="iam:CreateUser").decision == "ImplicitDeny"
    not_resource = {"Statement": [{"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::b/*"}]}
    assert decide(identity=[allow(), not_resource]).decision == "Allow"
    assert decide(identity=[allow(), not_resource], target="arn:aws:s3:::c/k").decision == "ExplicitDeny"


def test_resource_policy_variables_resolve_from_derived_keys() -> None:
    home = allow(resource="arn:aws:s3:::b/home/${aws:username}/*")
    assert decide(identity=[home], target="arn:aws:s3:::b/home/alice/x").decision == "Allow"
    assert decide(identity=[home], target="arn:aws:s3:::b/home/bob/x").decision == "ImplicitDeny"
    # role sessions have no aws:username: the element does not match and the key is missing
    d = decide(SESSION, identity=[home], target="arn:aws:s3:::b/home/alice/x")
    assert d.decision == "ImplicitDeny"
    assert d.missing_context == ("aws:username",)


@pytest.mark.parametrize(
    ("arn", "key", "value"),
    [
        (USER, "aws:username", "alice"),
        (USER, "aws:PrincipalType", "User"),
        (USER, "aws:userid", "AIDAEXAMPLE"),
        (USER, "aws:PrincipalArn", USER),
        (SESSION, "aws:PrincipalArn", ROLE),
        (SESSION, "aws:PrincipalType", "AssumedRole"),
        (FED, "aws:PrincipalType", "FederatedUser"),
        (FED, "aws:userid", f"{ACCT}:fred"),
        (ROOT, "aws:PrincipalType", "Account"),
        (ROOT, "aws:userid", ACCT),
        (SESSION, "aws:PrincipalAccount", ACCT),
        (USER, "aws:ResourceAccount", ACCT),
        (USER, "aws:PrincipalIsAWSService", "false"),
    ],
)
def test_derived_principal_keys(arn: str, key: str, value: str) -> None:
    policy = allow(Condition={"StringEquals": {key: value}})
    assert decide(arn, identity=[policy], session=[allow()] if arn == FED else []).decision == "Allow"


def test_given_context_wins_over_derived_keys_and_tags_are_case_insensitive() -> None:
    policy = allow(Condition={"StringEquals": {"aws:username": "mallory"}})
    assert decide(identity=[policy], context={"aws:username": "mallory"}).decision == "Allow"
    principal = Principal(arn=USER, tags={"CostCenter": "42"})
    request = Request(principal=principal, action="s3:GetObject", resource=BUCKET)
    tagged = allow(Condition={"StringEquals": {"aws:principaltag/costcenter": "42"}})
    assert authorize(request, compile_policy_set(identity=[tagged])).decision == "Allow"


def test_allow_lists_every_allow_that_applied() -> None:
    d = decide(
        SESSION,
        identity=[allow(sid="I")],
        permissions_boundary=allow("s3:*"),
        session=[allow()],
        scps=[[allow("*")], [allow("s3:*")]],
        rcps=[[allow("*")]],
    )
    assert d.decision == "Allow"
    assert labels(d) == [
        "identity[0]",
        "permissions_boundary",
        "session[0]",
        "scps[0][0]",
        "scps[1][0]",
        "rcps[0][0]",
    ]
    assert d.to_json() == {
        "decision": "Allow",
        "matched": [m.to_json() for m in d.matched],
        "missing_context": [],
    }


def test_explain_renders_every_statement() -> None:
    d = decide(
        identity=[allow(sid="Read"), NOTHING], permissions_boundary=allow("ec2:*"), scps=[[allow("*")]]
    )
    text = d.explain()
    assert "Decision: ImplicitDeny" in text
    assert "Reason: no permissions boundary allows the request" in text
    assert "Blocked by: permissions_boundary" in text
    assert 'identity[0] statement 0 Sid "Read" Allow: APPLIES' in text
    assert "identity[1] statement 0 Allow: no match (action not matched" in text
    assert "[scps[0]]" in text


def test_an_implicit_deny_lists_no_statements() -> None:
    # IAM policy simulator: implicit-deny results show no matched statements
    d = decide(identity=[allow()], scps=[[allow("ec2:*")]])
    assert (d.decision, d.matched, d.blocked_by) == ("ImplicitDeny", (), ("scps",))
    assert "identity[0] statement 0 Allow: APPLIES" in d.explain()


def test_rcp_allow_grants_nothing_by_itself() -> None:
    # Organizations User Guide, RCPs: "No permissions are granted by an RCP"
    rcp_full = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}
    assert decide(rcps=[[rcp_full]]).decision == "ImplicitDeny"
    assert decide(identity=[allow()], rcps=[[rcp_full]]).decision == "Allow"
    assert decide(ROOT, resource_account=OTHER, rcps=[[rcp_full]]).decision == "ImplicitDeny"


@pytest.mark.parametrize(
    ("arn", "unique_id", "named", "expected"),
    [
        # IAM keeps a deleted-and-recreated principal's old unique id in policies: it names only that one
        (USER, "AIDAEXAMPLEUSERID0001", "AIDAEXAMPLEUSERID0001", "Allow"),
        (USER, "AIDAOTHER0000000000", "AIDAEXAMPLEUSERID0001", "ImplicitDeny"),
        # a role's unique id names its sessions like its ARN does
        (SESSION, "AROAEXAMPLE00000000:s1", "AROAEXAMPLE00000000", "Allow"),
    ],
)
def test_principal_named_by_unique_id(arn: str, unique_id: str, named: str, expected: str) -> None:
    request = Request(principal=Principal(arn=arn, id=unique_id), action="s3:GetObject", resource=BUCKET)
    policies = compile_policy_set(resource=bucket_policy({"AWS": named}))
    assert authorize(request, policies).decision == expected


def test_trust_policy_in_the_resource_slot() -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "sts:AssumeRole"}],
    }
    d = decide(action="sts:AssumeRole", target=ROLE, resource_account=None, resource=trust)
    assert d.decision == "Allow"
    assert labels(d) == ["resource"]
    d = decide(f"arn:aws:iam::{ACCT}:user/bob", action="sts:AssumeRole", target=ROLE, resource=trust)
    assert d.decision == "ImplicitDeny"


def test_explain_shows_each_condition_and_the_request_values() -> None:
    policy = allow(
        Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}, "Bool": {"aws:SecureTransport": "true"}}
    )
    text = decide(identity=[policy], context={"aws:SourceIp": "192.0.2.1"}).explain()
    assert "IpAddress aws:SourceIp: fails (request: '192.0.2.1')" in text
    assert "Bool aws:SecureTransport: fails (request: missing)" in text
    assert "Missing context keys: aws:SecureTransport" in text


def test_anonymous_callers_need_a_public_resource_policy() -> None:
    # S3: an unsigned request is allowed only by a policy naming "*"; SCPs do not apply
    assert decide(None, resource=bucket_policy("*"), scps=[[allow("ec2:*")]]).decision == "Allow"
    d = decide(None, resource=bucket_policy({"AWS": ACCT}))
    assert (d.decision, d.blocked_by) == ("ImplicitDeny", ("resource",))
    assert decide(None, identity=[allow()]).decision == "ImplicitDeny"
    assert decide(None, resource=bucket_policy("*"), rcps=[[allow("ec2:*")]]).decision == "ImplicitDeny"
