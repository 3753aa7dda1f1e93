"""Parsing and validating policy documents as IAM does."""

from __future__ import annotations

import json

import pytest

from ironkeep.errors import MalformedPolicyDocument
from ironkeep.policy import Policy, Variable, parse_policy


def doc(*statements: dict, version: str | None = "2012-10-17") -> str:
    body: dict = {"Statement": list(statements)}
    if version is not None:
        body["Version"] = version
    return json.dumps(body)


ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}

# (document text, kind, words the message must contain)
MALFORMED = [
    ("{", "identity", ["not valid JSON"]),
    ("", "identity", ["not valid JSON"]),
    ("[1]", "identity", ["must be a JSON object"]),
    ('"text"', "identity", ["must be a JSON object"]),
    ("NaN", "identity", ["NaN"]),
    ('{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Action": "s3:PutObject", "Resource": "*"}]}',
     "identity", ['duplicate element "Action"']),
    ('{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": []}', "identity", ['duplicate element "Version"']),
    (json.dumps({"Version": "2012-10-17"}), "identity", ["Missing required field Statement"]),
    (doc(), "identity", ["empty list"]),
    (json.dumps({"Statement": "x"}), "identity", ["Statement must be an object or a list"]),
    (json.dumps({"Statement": [ALLOW_ALL], "Foo": 1}), "identity", ['unknown top-level element "Foo"']),
    (json.dumps({"Statement": [ALLOW_ALL], "Version": "2020-01-01"}), "identity", ["Version"]),
    (json.dumps({"Statement": [ALLOW_ALL], "Version": 2012}), "identity", ["Version"]),
    (json.dumps({"Statement": [ALLOW_ALL], "Id": 5}), "identity", ["Id must be a string"]),
    (doc("x"), "identity", ["Statement[0]", "JSON object"]),
    (doc({"Action": "*", "Resource": "*"}), "identity", ["Statement[0]", "Missing required field Effect"]),
    (doc({"Effect": "allow", "Action": "*", "Resource": "*"}), "identity", ["Effect", '"Allow" or "Deny"']),
    (doc({"Effect": ["Allow"], "Action": "*", "Resource": "*"}), "identity", ["Effect"]),
    (doc({"Effect": "Allow", "Resource": "*"}), "identity", ["must contain actions"]),
    (doc({"Effect": "Allow", "Action": "*"}), "identity", ["must contain resources"]),
    (doc({"Effect": "Allow", "Action": "*", "NotAction": "s3:*", "Resource": "*"}), "identity",
     ["both Action and NotAction"]),
    (doc({"Effect": "Allow", "Action": "*", "Resource": "*", "NotResource": "*"}), "identity",
     ["both Resource and NotResource"]),
    (doc({"Sid": "Bad", "Effect": "Allow", "Action": "GetObject", "Resource": "*"}), "identity",
     ['Statement[0] (Sid "Bad")', "element Action", "prefaced by a vendor", '"GetObject"']),
    (doc({"Effect": "Allow", "Action": [], "Resource": "*"}), "identity", ["Action", "empty list"]),
    (doc({"Effect": "Allow", "Action": ["s3:GetObject", 3], "Resource": "*"}), "identity",
     ["Action", "string or a list of strings"]),
    (doc({"Effect": "Allow", "Action": {"a": 1}, "Resource": "*"}), "identity", ["Action"]),
    (doc({"Effect": "Allow", "Action": "s3:Get Object", "Resource": "*"}), "identity", ["prefaced by a vendor"]),
    (doc({"Effect": "Allow", "Action": "*", "Resource": "bucket"}), "identity", ['must be in ARN format or "*"']),
    (doc({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3"}), "identity", ["ARN format"]),
    (doc({"Sid": 5, "Effect": "Allow", "Action": "*", "Resource": "*"}), "identity", ["Sid", "string"]),
    (doc(ALLOW_ALL, {"Effect": "Allow", "Action": "*", "Resource": "*", "Actions": "*"}), "identity",
     ["Statement[1]", 'unknown element "Actions"']),
    (doc({**ALLOW_ALL, "Principal": "*"}), "identity", ["should not specify a principal"]),
    (doc({**ALLOW_ALL, "Principal": "*"}), "boundary", ["should not specify a principal"]),
    (doc({**ALLOW_ALL, "NotPrincipal": {"AWS": "*"}}), "scp", ["should not specify a principal"]),
    (doc({**ALLOW_ALL, "Principal": "*"}), "session", ["should not specify a principal"]),
    (doc(ALLOW_ALL), "resource", ["Missing required field Principal"]),
    (doc({"Effect": "Allow", "Action": "sts:AssumeRole"}), "trust", ["Missing required field Principal"]),
    (doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": "*", "Resource": "*"}), "trust",
     ["prohibited field Resource"]),
    (doc({"Effect": "Allow", "Action": "sts:AssumeRole", "NotPrincipal": {"AWS": "111122223333"}}), "trust",
     ["prohibited field NotPrincipal"]),
    (doc({**ALLOW_ALL, "Principal": "*", "NotPrincipal": "*"}), "resource", ["both Principal and NotPrincipal"]),
    (doc({**ALLOW_ALL, "Principal": {"Users": "x"}}), "resource", ['unknown key "Users"']),
    (doc({**ALLOW_ALL, "Principal": {"AWS": "bob"}}), "resource", ['Invalid principal in policy: "AWS":"bob"']),
    (doc({**ALLOW_ALL, "Principal": {"AWS": "arn:aws:iam::*:root"}}), "resource", ["wildcards"]),
    (doc({**ALLOW_ALL, "Principal": {}}), "resource", ["Principal"]),
    (doc({**ALLOW_ALL, "Principal": ["*"]}), "resource", ["Principal"]),
    (doc({**ALLOW_ALL, "Principal": {"AWS": "111122223333"}}), "rcp", ['only "Principal": "*"']),
    (doc({**ALLOW_ALL, "Sid": "read-bucket"}), "identity", ['Sid "read-bucket"', "alpha-numeric"]),
    (doc({**ALLOW_ALL, "Sid": "A"}, {**ALLOW_ALL, "Sid": "A"}), "scp", ["Statement[1]", "must be unique"]),
    (doc({**ALLOW_ALL, "Condition": []}), "identity", ["Condition", "map"]),
    (doc({**ALLOW_ALL, "Condition": {"StringEqual": {"aws:username": "a"}}}), "identity",
     ['invalid condition operator "StringEqual"']),
    (doc({**ALLOW_ALL, "Condition": {"ForSomeValues:StringEquals": {"aws:username": "a"}}}), "identity",
     ['qualifier "ForSomeValues"']),
    (doc({**ALLOW_ALL, "Condition": {"NullIfExists": {"aws:username": "true"}}}), "identity", ["NullIfExists"]),
    (doc({**ALLOW_ALL, "Condition": {"Null": {"aws:username": "yes"}}}), "identity", ["Null takes"]),
    (doc({**ALLOW_ALL, "Condition": {"StringEquals": {}}}), "identity", ["non-empty map"]),
    (doc({**ALLOW_ALL, "Condition": {"StringEquals": {"aws:username": []}}}), "identity", ["empty list"]),
    (doc({**ALLOW_ALL, "Condition": {"StringEquals": {"aws:username": None}}}), "identity",
     ["strings, numbers or booleans"]),
    (doc({**ALLOW_ALL, "Condition": {"StringEquals": {"aws:username": {"a": "b"}}}}), "identity",
     ["strings, numbers or booleans"]),
    (doc({**ALLOW_ALL, "Condition": {"StringEquals": {"aws:UserName": "a", "aws:username": "b"}}}), "identity",
     ["appears twice"]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "kind", "words"), MALFORMED)
def test_malformed_documents_are_rejected_with_a_located_message(
    text: str, kind: str, words: list[str]
) -> None:
    with pytest.raises(MalformedPolicyDocument) as caught:
        parse_policy(text, kind=kind)
    assert caught.value.code == "MalformedPolicyDocument"
    for word in words:
        assert word in caught.value.message, caught.value.message


def test_statement_may_be_an_object_or_a_list() -> None:
    one = parse_policy(json.dumps({"Version": "2012-10-17", "Statement": ALLOW_ALL}))
    many = parse_policy(doc(ALLOW_ALL, {**ALLOW_ALL, "Effect": "Deny", "Sid": "D"}))
    assert len(one.statements) == 1
    assert [s.effect for s in many.statements] == ["Allow", "Deny"]
    assert many.statements[1].sid == "D"
    assert many.statements[1].label == 'Statement[1] (Sid "D")'


def test_every_element_is_typed() -> None:
    policy = parse_policy(
        doc(
            {
                "Sid": "All",
                "Effect": "Deny",
                "NotAction": ["iam:*", "sts:GetCallerIdentity"],
                "NotResource": "arn:aws:s3:::b/${aws:username}/*",
                "Principal": {
                    "AWS": ["111122223333", "arn:aws:iam::111122223333:user/a"],
                    "Service": "ec2.amazonaws.com",
                },
                "Condition": {"ForAnyValue:StringLikeIfExists": {"s3:prefix": ["a/*", 5, True]}},
            }
        ),
        kind="resource",
    )
    st = policy.statements[0]
    assert st.actions is None and st.not_actions == ("iam:*", "sts:GetCallerIdentity")
    assert st.not_resources is not None and st.not_resources[0].variables == (Variable("aws:username", None),)
    assert st.principal is not None
    assert st.principal.aws == ("111122223333", "arn:aws:iam::111122223333:user/a")
    assert st.principal.service == ("ec2.amazonaws.com",)
    cond = st.conditions[0]
    assert (cond.qualifier, cond.base, cond.if_exists) == ("ForAnyValue", "StringLike", True)
    assert cond.values == ("a/*", "5", "true")


@pytest.mark.parametrize("version", ["2012-10-17", "2008-10-17", None])
def test_versions(version: str | None) -> None:
    policy = parse_policy(doc({**ALLOW_ALL, "Resource": "arn:aws:s3:::b/${aws:username}"}, version=version))
    assert policy.version == version
    variables = policy.statements[0].resources[0].variables  # type: ignore[index]
    assert bool(variables) == (version == "2012-10-17")


@pytest.mark.parametrize(
    ("kind", "statement"),
    [
        ("trust", {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}),
        ("trust", {"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                   "Principal": {"Federated": "accounts.google.com"}}),
        ("resource", {**ALLOW_ALL, "Principal": "*"}),
        ("resource", {**ALLOW_ALL, "NotPrincipal": {"AWS": "arn:aws:sts::111122223333:assumed-role/r/s"}}),
        ("resource", {**ALLOW_ALL, "Principal": {"AWS": "AIDAEXAMPLEUSERID0001"}}),
        ("resource", {**ALLOW_ALL, "Principal": {"CanonicalUser": "79a59df900b949e55d96a1e698fbaced"}}),
        ("rcp", {**ALLOW_ALL, "Principal": "*"}),
        ("resource", {**ALLOW_ALL, "Principal": "*", "Sid": "read-bucket"}),
        ("rcp", ALLOW_ALL),
        ("scp", ALLOW_ALL),
        ("identity", {"Effect": "Allow", "Action": "s3:*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]}),
    ],
)  # fmt: skip
def test_valid_statements_per_kind(kind: str, statement: dict) -> None:
    assert parse_policy(doc(statement), kind=kind).kind == kind


def test_inputs_text_bytes_mapping_and_policy_agree_and_are_cached() -> None:
    text = doc(ALLOW_ALL)
    a = parse_policy(text)
    assert parse_policy(text) is a
    assert parse_policy(text.encode()).statements == a.statements
    b = parse_policy(json.loads(text))
    assert parse_policy(json.loads(text)) is b
    assert b.statements == a.statements
    assert parse_policy(a) is a
    assert isinstance(parse_policy(a, kind="boundary"), Policy)


def test_bad_inputs() -> None:
    with pytest.raises(MalformedPolicyDocument):
        parse_policy(b"\xff\xfe")
    with pytest.raises(MalformedPolicyDocument):
        parse_policy({"Statement": {"Effect": "Allow", "Action": "*", "Resource": float("nan")}})
    with pytest.raises(MalformedPolicyDocument):
        parse_policy(42)  # type: ignore[arg-type]
    with pytest.raises(MalformedPolicyDocument):
        parse_policy("[" * 100000)
    with pytest.raises(ValueError, match="unknown policy kind"):
        parse_policy(doc(ALLOW_ALL), kind="bucket")
