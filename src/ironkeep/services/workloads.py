"""Workload credentials: what EC2 instances and ECS tasks get in AWS, without any key in code.

A workload is registered with a role (directly, or through an instance profile) and receives a
random token, of which only a hash is stored. With that token it obtains temporary credentials
for the role (an ``AssumedRole`` session named after the workload) from either endpoint of
:mod:`ironkeep.workload_http`: one compatible with the EC2 instance metadata service (IMDSv2) and
one compatible with the container credentials provider. boto3 and the AWS CLI find them through
their own providers and refresh the credentials before they expire.

Revoking a workload stops it from obtaining credentials at once; credentials it already holds
last until they expire (``duration_seconds``, one hour by default).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from ironkeep.auth.session_tokens import SessionContext, SessionKind, TemporaryCredentials, issue
from ironkeep.errors import AWSError, EntityAlreadyExists, NoSuchEntity, ValidationError
from ironkeep.services import entities
from ironkeep.store import schema as t

DEFAULT_DURATION = 3600
_NAME = re.compile(r"^[\w+=,.@-]{2,64}$", re.ASCII)


class WorkloadUnauthorized(AWSError):
    code = "Unauthorized"
    status = 401


@dataclass(frozen=True)
class Registration:
    name: str
    account_id: str
    role_arn: str
    instance_profile_arn: str | None
    token: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def register(
    tx: Connection,
    account_id: str,
    name: str,
    now: datetime,
    *,
    role_name: str | None = None,
    instance_profile_name: str | None = None,
) -> Registration:
    """Register a workload for a role or an instance profile's role; return its token (shown once)."""
    if not _NAME.match(name):
        raise ValidationError("A workload name is 2 to 64 characters of letters, digits and +=,.@_-")
    if (role_name is None) == (instance_profile_name is None):
        raise ValidationError("Give either a role or an instance profile")
    profile_arn = None
    if instance_profile_name is not None:
        profile = entities.get_instance_profile(tx, account_id, instance_profile_name)
        profile_arn = profile.arn
        role_id = tx.execute(
            select(t.instance_profile_roles.c.role_id).where(
                t.instance_profile_roles.c.instance_profile_id == profile.id
            )
        ).scalar()
        if role_id is None:
            raise NoSuchEntity(f"Instance Profile {instance_profile_name} has no role.")
        role_arn = tx.execute(select(t.roles.c.arn).where(t.roles.c.id == role_id)).scalar_one()
    else:
        role_arn = entities.get_role(tx, account_id, role_name or "").arn
    existing = tx.execute(
        select(t.workloads.c.id).where(
            t.workloads.c.account_id == account_id,
            t.workloads.c.name == name,
            t.workloads.c.revoked_at.is_(None),
        )
    ).first()
    if existing is not None:
        raise EntityAlreadyExists(f"Workload {name} already exists.")
    token = "ikw_" + secrets.token_urlsafe(32)
    tx.execute(
        insert(t.workloads).values(
            id=secrets.token_hex(16),
            account_id=account_id,
            name=name,
            role_arn=role_arn,
            instance_profile_arn=profile_arn,
            token_hash=token_hash(token),
            created_at=now,
        )
    )
    return Registration(name, account_id, role_arn, profile_arn, token)


def revoke(tx: Connection, account_id: str, name: str, now: datetime) -> None:
    result = tx.execute(
        update(t.workloads)
        .where(
            t.workloads.c.account_id == account_id,
            t.workloads.c.name == name,
            t.workloads.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    if result.rowcount == 0:
        raise NoSuchEntity(f"Workload {name} cannot be found.")


def list_workloads(tx: Connection, account_id: str) -> list[dict[str, Any]]:
    rows = tx.execute(
        select(t.workloads).where(t.workloads.c.account_id == account_id).order_by(t.workloads.c.name)
    )
    return [
        {
            "name": row.name,
            "role_arn": row.role_arn,
            "instance_profile_arn": row.instance_profile_arn,
            "created": row.created_at.isoformat(),
            "revoked": row.revoked_at.isoformat() if row.revoked_at else None,
        }
        for row in rows
    ]


def find_by_token(tx: Connection, token: str) -> Any:
    """The active workload holding ``token``, or WorkloadUnauthorized."""
    if not token:
        raise WorkloadUnauthorized("A workload token is required.")
    row = tx.execute(select(t.workloads).where(t.workloads.c.token_hash == token_hash(token))).first()
    if (
        row is None
        or row.revoked_at is not None
        or not hmac.compare_digest(row.token_hash, token_hash(token))
    ):
        raise WorkloadUnauthorized("The workload token is not valid.")
    return row


def credentials_for(
    tx: Connection, services: Any, workload: Any, now: datetime, duration: int = DEFAULT_DURATION
) -> TemporaryCredentials:
    """A session of the workload's role, named after the workload."""
    role_name = workload.role_arn.rsplit("/", 1)[-1]
    role = entities.get_role(tx, workload.account_id, role_name)
    session_name = workload.name
    context = SessionContext(
        account_id=workload.account_id,
        principal_arn=f"arn:aws:sts::{workload.account_id}:assumed-role/{role.name}/{session_name}",
        principal_id=f"{role.id}:{session_name}",
        kind=SessionKind.ASSUMED_ROLE,
        expiration=now + timedelta(seconds=min(duration, role.max_session_duration)),
        role_arn=role.arn,
        session_name=session_name,
        issuer_id=role.id,
    )
    key_id, key = services.session_keys.current(tx, now)
    tx.execute(update(t.roles).where(t.roles.c.id == role.id).values(last_used_at=now))
    return issue(context, key_id, key, now)
