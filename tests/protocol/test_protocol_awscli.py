"""The AWS CLI (in process, its own argument parsing and output formatting) against the protocol
layer; the HTTP hop is replaced by botocore's ``before-send`` hook."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from awscli.clidriver import create_clidriver
from protocol_wire import Handler, Seen, answerer

from ironkeep.errors import NoSuchEntity


@pytest.fixture()
def aws(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")

    def run(handler: Handler, *args: str) -> tuple[int, Any, str, list[tuple[str, dict[str, Any]]]]:
        seen: Seen = []
        service = args[0]

        driver = create_clidriver()
        driver.session.register("before-send", answerer(service, handler, seen))
        common = ["--endpoint-url", "https://ironkeep.invalid", "--region", "us-east-1", "--output", "json"]
        code = driver.main([*args, *common])
        out, err = capsys.readouterr()
        return code, json.loads(out) if out.strip() else None, err, seen

    return run


def test_cli_create_user_with_shorthand_tags(aws: Callable[..., Any]) -> None:
    def handler(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        user = {
            "Path": "/",
            "UserName": params["UserName"],
            "UserId": "AIDAEXAMPLE",
            "Arn": "arn:aws:iam::1:user/b",
        }
        return {"User": {**user, "CreateDate": datetime(2024, 1, 1, tzinfo=UTC), "Tags": params["Tags"]}}

    code, out, _, seen = aws(
        handler, "iam", "create-user", "--user-name", "bob", "--tags", "Key=a,Value=b c", "Key=d,Value="
    )
    assert code == 0
    assert seen == [
        ("CreateUser", {"UserName": "bob", "Tags": [{"Key": "a", "Value": "b c"}, {"Key": "d", "Value": ""}]})
    ]
    assert out["User"]["CreateDate"] == "2024-01-01T00:00:00Z"  # the CLI prints the wire text, as with AWS
    assert out["User"]["Tags"][0] == {"Key": "a", "Value": "b c"}


def test_cli_lists_and_blobs(aws: Callable[..., Any]) -> None:
    def handler(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        assert params["ActionNames"] == ["s3:GetObject", "s3:PutObject"]
        return {
            "EvaluationResults": [
                {
                    "EvalActionName": a,
                    "EvalResourceName": "*",
                    "EvalDecision": "implicitDeny",
                    "MatchedStatements": [],
                    "MissingContextValues": [],
                    "EvalDecisionDetails": {"IAM Policy": "implicitDeny"},
                }
                for a in params["ActionNames"]
            ],
            "IsTruncated": False,
        }

    policy = '{"Version":"2012-10-17","Statement":[]}'
    code, out, _, _ = aws(
        handler,
        "iam",
        "simulate-custom-policy",
        "--policy-input-list",
        policy,
        "--action-names",
        "s3:GetObject",
        "s3:PutObject",
    )
    assert code == 0
    assert [r["EvalActionName"] for r in out["EvaluationResults"]] == ["s3:GetObject", "s3:PutObject"]
    assert out["EvaluationResults"][0]["EvalDecisionDetails"] == {"IAM Policy": "implicitDeny"}

    report = b"user,arn\n<root_account>,arn:aws:iam::1:root\n"
    code, out, _, _ = aws(
        lambda op, p: {"Content": report, "ReportFormat": "text/csv"}, "iam", "get-credential-report"
    )
    assert code == 0
    assert (
        out["Content"] == "dXNlcixhcm4KPHJvb3RfYWNjb3VudD4sYXJuOmF3czppYW06OjE6cm9vdAo="
    )  # the CLI prints base64


def test_cli_errors(aws: Callable[..., Any]) -> None:
    def missing(operation: str, params: dict[str, Any]) -> None:
        raise NoSuchEntity(f"The user with name {params['UserName']} cannot be found.")

    code, _, err, _ = aws(missing, "iam", "get-user", "--user-name", "ghost")
    assert code in (254, 255)  # ClientError: 254 in CLI v2, 255 in v1
    assert (
        "An error occurred (NoSuchEntity) when calling the GetUser operation: "
        "The user with name ghost cannot be found." in err
    )

    code, _, err, seen = aws(
        lambda op, p: {},
        "sts",
        "assume-role",
        "--role-arn",
        "arn:aws:iam::123456789012:role/r",
        "--role-session-name",
        "bad name",
        "--duration-seconds",
        "50000",
    )
    assert code in (254, 255) and seen == []  # rejected before any handler ran
    assert (
        "An error occurred (ValidationError) when calling the AssumeRole operation: 2 validation errors detected: "
        "Value 'bad name' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular "
        r"expression pattern: [\w+=,.@-]*; Value '50000' at 'durationSeconds' failed to satisfy constraint: "
        "Member must have value less than or equal to 43200"
    ) in err
