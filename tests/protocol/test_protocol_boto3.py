"""Real boto3 clients talking to the protocol layer: requests boto3 puts on the wire are decoded
by ours, and the XML we render (successes and errors) is what boto3 hands its caller.

The HTTP hop is replaced by botocore's ``before-send`` hook: everything on both sides of it is
boto3's own code (serializer, signer, parser, retry handler, exception factory).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.parsers import create_parser
from protocol_wire import REQUEST_ID, Handler, Seen, answerer

from ironkeep.errors import AccessDenied, AWSError, InternalFailure, NoSuchEntity, ValidationError
from ironkeep.protocol import render_error, service_model


def _client(service: str, handler: Handler, seen: Seen) -> Any:
    """A boto3 client whose requests are answered by ``handler(operation, input)``."""
    client = boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url="https://ironkeep.invalid",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        config=Config(retries={"total_max_attempts": 1}),
    )

    client.meta.events.register("before-send", answerer(service, handler, seen))
    return client


def test_boto3_request_decodes_and_response_parses() -> None:
    created = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)

    def handler(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "User": {
                "Path": params["Path"],
                "UserName": params["UserName"],
                "UserId": "AIDA <&> \r\n ]]>",
                "Arn": f"arn:aws:iam::123456789012:user{params['Path']}{params['UserName']}",
                "CreateDate": created,
                "Tags": params["Tags"],
            }
        }

    seen: Seen = []
    iam = _client("iam", handler, seen)
    tags = [{"Key": "team", "Value": "a b=c"}, {"Key": "ünïcode", "Value": "日本 +100"}]
    answer = iam.create_user(UserName="bob@example.com", Path="/eng/", Tags=tags)
    assert seen == [("CreateUser", {"UserName": "bob@example.com", "Path": "/eng/", "Tags": tags})]
    assert answer["User"]["Tags"] == tags
    assert answer["User"]["CreateDate"] == created
    assert answer["User"]["UserId"] == "AIDA <&> \r\n ]]>"
    assert answer["User"]["Arn"] == "arn:aws:iam::123456789012:user/eng/bob@example.com"
    assert answer["ResponseMetadata"]["RequestId"] == REQUEST_ID


def test_boto3_operation_without_output() -> None:
    seen: Seen = []
    iam = _client("iam", lambda op, params: None, seen)
    answer = iam.delete_user(UserName="bob")
    assert seen == [("DeleteUser", {"UserName": "bob"})]
    assert set(answer) == {"ResponseMetadata"}


def test_boto3_sts_types() -> None:
    expiration = datetime(2030, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)

    def handler(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "Credentials": {
                "AccessKeyId": "ASIAEXAMPLE000000001",
                "SecretAccessKey": "s/e+c=r",
                "SessionToken": "tok",
                "Expiration": expiration,
            },
            "AssumedRoleUser": {
                "AssumedRoleId": "AROAEXAMPLE:" + params["RoleSessionName"],
                "Arn": "arn:aws:sts::123456789012:assumed-role/demo/" + params["RoleSessionName"],
            },
            "PackedPolicySize": 7,
        }

    seen: Seen = []
    sts = _client("sts", handler, seen)
    answer = sts.assume_role(
        RoleArn="arn:aws:iam::123456789012:role/demo",
        RoleSessionName="s1",
        DurationSeconds=900,
        PolicyArns=[{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
    )
    assert seen[0][1]["DurationSeconds"] == 900
    assert seen[0][1]["PolicyArns"] == [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}]
    assert answer["Credentials"]["Expiration"] == expiration
    assert answer["PackedPolicySize"] == 7


@pytest.mark.parametrize(
    ("error", "status", "fault"),
    [
        (NoSuchEntity("The user with name bob cannot be found."), 404, "Sender"),
        (
            AccessDenied("User: arn:aws:iam::123456789012:user/a is not authorized to perform: iam:GetUser"),
            403,
            "Sender",
        ),
        (ValidationError("1 validation error detected: Value '<&>' at 'userName' failed"), 400, "Sender"),
        (InternalFailure("We encountered an internal error. Please try again."), 500, "Receiver"),
    ],
)
def test_error_response_parsed_by_botocore(error: AWSError, status: int, fault: str) -> None:
    code, body = render_error("iam", error, REQUEST_ID)
    assert code == status
    parsed = create_parser("query").parse({"body": body, "headers": {}, "status_code": code}, None)
    assert parsed["Error"] == {"Type": fault, "Code": error.code, "Message": error.message}
    assert parsed["ResponseMetadata"]["RequestId"] == REQUEST_ID
    assert body.startswith(b'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">')


def _modeled_errors() -> list[tuple[str, str, str, int]]:
    cases = []
    for service in ("iam", "sts"):
        for shape in service_model(service).error_shapes:
            error = shape.metadata.get("error", {})  # a few have no trait: code = name, 400
            cases.append(
                (service, shape.name, error.get("code", shape.name), error.get("httpStatusCode", 400))
            )
    return cases


MODELED = _modeled_errors()


def test_every_modeled_error_is_listed() -> None:
    assert len([c for c in MODELED if c[0] == "iam"]) == 35
    assert len([c for c in MODELED if c[0] == "sts"]) == 12


@pytest.mark.parametrize(
    ("service", "shape", "code", "status"), MODELED, ids=[f"{c[0]}.{c[1]}" for c in MODELED]
)
def test_boto3_raises_the_modeled_exception(service: str, shape: str, code: str, status: int) -> None:
    """boto3 maps our ``Code`` to the model's exception class (``iam.exceptions.NoSuchEntityException``)."""
    message = f"{code} happened <here> & there"

    def handler(operation: str, params: dict[str, Any]) -> None:
        raise AWSError(message, code=code, status=status)

    client = _client(service, handler, [])
    with pytest.raises(ClientError) as caught:
        client.get_user() if service == "iam" else client.get_caller_identity()
    assert isinstance(caught.value, getattr(client.exceptions, shape))
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["Error"]["Message"] == message
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_boto3_gets_validation_and_invalid_action_codes() -> None:
    iam = _client("iam", lambda op, params: {}, [])
    with pytest.raises(ClientError) as caught:
        iam.list_users(MaxItems=1001)  # botocore does not check the maximum; the service does
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert "Member must have value less than or equal to 1000" in caught.value.response["Error"]["Message"]

    def wrong_version(request: AWSPreparedRequest, **_: Any) -> None:
        assert isinstance(request.body, str)  # botocore prepares Query bodies as text
        request.body = request.body.replace("Version=2010-05-08", "Version=2009-01-01")

    iam.meta.events.register_first("before-send", wrong_version)
    with pytest.raises(ClientError) as caught:
        iam.get_user(UserName="bob")
    assert caught.value.response["Error"]["Code"] == "InvalidAction"
    assert (
        caught.value.response["Error"]["Message"] == "Could not find operation GetUser for version 2009-01-01"
    )
