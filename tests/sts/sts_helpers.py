"""Shared set-up for the STS tests: users with keys, roles, policies, MFA devices, second accounts."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from iam_helpers import allow as allow
from iam_helpers import error_code as error_code
from iam_helpers import policy as policy
from ironkeep.auth import totp


def uid(prefix: str = "sts") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def trust(principal: Any, *actions: str, condition: dict[str, Any] | None = None) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": list(actions) or "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def error_message(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Message"])


def make_user(server: Any, iam: Any, name: str | None = None) -> tuple[dict[str, Any], Any, Any]:
    """A user with an access key: (GetUser's User, its STS client, its IAM client)."""
    name = name or uid("user")
    user = iam.create_user(UserName=name)["User"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    creds = {"key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
    return user, server.client("sts", **creds), server.client("iam", **creds)


def make_role(iam: Any, trust_policy: str, **kwargs: Any) -> dict[str, Any]:
    return dict(
        iam.create_role(RoleName=uid("role"), AssumeRolePolicyDocument=trust_policy, **kwargs)["Role"]
    )


def session_clients(server: Any, credentials: dict[str, Any]) -> tuple[Any, Any]:
    creds = {
        "key": credentials["AccessKeyId"],
        "secret": credentials["SecretAccessKey"],
        "token": credentials["SessionToken"],
    }
    return server.client("sts", **creds), server.client("iam", **creds)


def put_role_policy(iam: Any, role: str, name: str, document: str) -> None:
    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=document)


def put_user_policy(iam: Any, user: str, name: str, document: str) -> None:
    iam.put_user_policy(UserName=user, PolicyName=name, PolicyDocument=document)


def attach_role_policy(iam: Any, role: str, arn: str) -> None:
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)


# -- MFA and accounts -------------------------------------------------------------------------------


def enable_mfa(iam: Any, user_name: str) -> tuple[str, str]:
    """A virtual MFA device enabled for the user: (serial number, Base32 seed)."""
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=uid("mfa"))["VirtualMFADevice"]
    serial, seed = device["SerialNumber"], device["Base32StringSeed"].decode()
    step = totp.time_step(datetime.now(UTC)) - 2
    iam.enable_mfa_device(
        UserName=user_name,
        SerialNumber=serial,
        AuthenticationCode1=totp.code_for_step(seed, step),
        AuthenticationCode2=totp.code_for_step(seed, step + 1),
    )
    return serial, seed


def current_code(seed: str) -> str:
    return totp.code_at(seed, datetime.now(UTC))


def second_account(server: Any) -> dict[str, str]:
    """A new account on the same server (``ironkeep accounts create``) with its root keys."""
    done = server.ironkeep("accounts", "create")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))
