"""What the IAM and STS tests share: unique names, an error's code and message, policy documents,
and clients that do not sign or do not validate (tests/ is on sys.path, see conftest.py)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_of(excinfo: pytest.ExceptionInfo) -> tuple[str, str]:
    """The error's (Code, Message)."""
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def error_code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


def policy(*statements: dict[str, Any]) -> str:
    """A policy document of ``statements``."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def unsigned_sts(server):
    """An STS client that sends requests unsigned (AssumeRoleWithSAML, AssumeRoleWithWebIdentity)."""
    return boto3.client(
        "sts",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )


def unvalidated(server):
    """Root's IAM client without boto3's own checks of lengths and ranges: the server's own
    validation answers."""
    return boto3.client(
        "iam",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret_access_key,
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )
