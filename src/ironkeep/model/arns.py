"""ARNs of IAM entities, as AWS forms them (the path sits between the type and the name)."""

from __future__ import annotations


def iam_arn(account_id: str, kind: str, path: str, name: str) -> str:
    """``kind`` is AWS's resource type word: user, group, role, policy, instance-profile ..."""
    return f"arn:aws:iam::{account_id}:{kind}{path}{name}"


def root_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


def account_of(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 else ""
