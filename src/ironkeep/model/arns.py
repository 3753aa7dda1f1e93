"""ARNs of IAM entities, as AWS forms them (the path sits between the type and the name).

``arn:aws:iam::123456789012:user/division/bob`` is user ``bob`` with path ``/division/``.
"""

from __future__ import annotations

from typing import NamedTuple


def iam_arn(account_id: str, kind: str, path: str, name: str) -> str:
    """``kind`` is AWS's resource type word: user, group, role, policy, instance-profile ..."""
    return f"arn:aws:iam::{account_id}:{kind}{path}{name}"


def user_arn(account_id: str, path: str, name: str) -> str:
    return iam_arn(account_id, "user", path, name)


def group_arn(account_id: str, path: str, name: str) -> str:
    return iam_arn(account_id, "group", path, name)


def role_arn(account_id: str, path: str, name: str) -> str:
    return iam_arn(account_id, "role", path, name)


def policy_arn(account_id: str, path: str, name: str) -> str:
    """Customer-managed policies carry the account id; AWS-managed ones carry ``aws``."""
    return iam_arn(account_id, "policy", path, name)


def instance_profile_arn(account_id: str, path: str, name: str) -> str:
    return iam_arn(account_id, "instance-profile", path, name)


def mfa_arn(account_id: str, path: str, name: str) -> str:
    """The serial number of a virtual MFA device."""
    return iam_arn(account_id, "mfa", path, name)


def root_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


def account_of(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 else ""


class IamArn(NamedTuple):
    account_id: str
    kind: str
    path: str
    name: str


def parse_iam_arn(arn: str) -> IamArn | None:
    """Split an IAM entity's ARN; None for anything else (other services, root, malformed)."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam" or parts[3] != "":
        return None
    kind, slash, rest = parts[5].partition("/")
    if not slash or not kind or not rest:
        return None
    path, _, name = ("/" + rest).rpartition("/")
    if not name:
        return None
    return IamArn(parts[4], kind, path + "/", name)
