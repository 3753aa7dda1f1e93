"""Permissions boundaries: which policies may serve as one."""

from __future__ import annotations

from sqlalchemy import select

from ironkeep.errors import InvalidInput, NoSuchEntity
from ironkeep.model import aws_policies
from ironkeep.model.arns import parse_iam_arn
from ironkeep.services.context import CallContext
from ironkeep.store import schema as t


def check_policy_arn(arn: str) -> str:
    """A managed policy's ARN must at least look like one (``arn:aws:iam::<account>:policy/...``):
    anything else is InvalidInput, as IAM answers."""
    parsed = parse_iam_arn(arn)
    if parsed is None or parsed.kind != "policy" or not arn.startswith("arn:aws:"):
        raise InvalidInput(f"ARN {arn} is not valid.")
    return arn


def check_boundary_arn(ctx: CallContext, arn: str) -> str:
    """A boundary must be an existing managed policy (customer's own, or AWS-managed)."""
    check_policy_arn(arn)
    if aws_policies.get(arn) is not None:
        return arn
    found = ctx.tx.execute(
        select(t.managed_policies.c.id).where(
            t.managed_policies.c.account_id == ctx.account_id, t.managed_policies.c.arn == arn
        )
    ).first()
    if found is None:
        raise NoSuchEntity(f"Scope ARN: {arn} does not exist or is not attachable.")
    return arn
