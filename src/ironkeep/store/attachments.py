"""Managed policies attached to users, groups and roles (by policy ARN: AWS-managed ones are not
rows of ``managed_policies``)."""

from __future__ import annotations

import builtins
from datetime import datetime

from sqlalchemy import Connection, bindparam, func, insert, select
from sqlalchemy import delete as sql_delete
from sqlalchemy.sql.elements import ColumnElement

from ironkeep.errors import LimitExceeded, NoSuchEntity
from ironkeep.model import AttachedPolicy, Group, ManagedPolicy, Principal, Role, User
from ironkeep.model.arns import parse_iam_arn
from ironkeep.model.limits import MANAGED_POLICIES_PER_PRINCIPAL
from ironkeep.store import groups, roles, rows, users
from ironkeep.store import schema as t
from ironkeep.store.prepared import Prepared

_a = t.policy_attachments.c

# the quota's name in LimitExceeded, per kind of principal
_QUOTA = {"user": "PoliciesPerUser", "group": "PoliciesPerGroup", "role": "PoliciesPerRole"}


_TABLE = {"user": t.users, "group": t.groups, "role": t.roles}


def _owned(owner: Principal) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return _a.principal_kind == owner.kind, _a.principal_id == owner.id


def attach(
    tx: Connection,
    owner: Principal,
    policy: ManagedPolicy,
    attached: datetime,
    quota: int = MANAGED_POLICIES_PER_PRINCIPAL,
) -> None:
    """AttachUserPolicy / AttachGroupPolicy / AttachRolePolicy: idempotent, at most ``quota``."""
    rows.lock_row(tx, _TABLE[owner.kind], owner.id)
    held = [row.policy_arn for row in tx.execute(select(_a.policy_arn).where(*_owned(owner)))]
    if policy.arn in held:
        return
    if len(held) >= quota:
        raise LimitExceeded(f"Cannot exceed quota for {_QUOTA[owner.kind]}: {quota}")
    tx.execute(
        insert(t.policy_attachments).values(
            account_id=owner.account_id,
            policy_arn=policy.arn,
            principal_kind=owner.kind,
            principal_id=owner.id,
            attached_at=attached,
        )
    )


def detach(tx: Connection, owner: Principal, policy_arn: str) -> None:
    gone = tx.execute(sql_delete(t.policy_attachments).where(*_owned(owner), _a.policy_arn == policy_arn))
    if gone.rowcount == 0:
        raise NoSuchEntity(f"Policy {policy_arn} was not found.")


def attached(
    tx: Connection,
    owner: Principal,
    path_prefix: str | None = None,
    marker: str | None = None,
    max_items: int | None = None,
) -> tuple[builtins.list[AttachedPolicy], str | None]:
    """ListAttachedUserPolicies (and group, role): name and ARN, by name; marker as ListPolicies'."""
    found = []
    for row in _ATTACHED.all(tx, {"kind": owner.kind, "id": owner.id}):
        parts = parse_iam_arn(row.policy_arn)
        if parts is not None and (not path_prefix or parts.path.startswith(path_prefix)):
            found.append(AttachedPolicy(parts.name, row.policy_arn))
    return rows.page_in_memory(found, lambda p: f"{p.name.lower()} {p.arn}", marker, max_items)


# built once (ListAttachedUserPolicies, ListAttachedRolePolicies ... run it on every call)
_ATTACHED = Prepared(
    select(_a.policy_arn).where(_a.principal_kind == bindparam("kind"), _a.principal_id == bindparam("id"))
)


def count_for(tx: Connection, owner: Principal) -> int:
    return int(tx.execute(select(func.count()).where(*_owned(owner))).scalar_one())


def entities_for_policy(
    tx: Connection,
    account_id: str,
    policy_arn: str,
    entity_filter: str | None = None,
    path_prefix: str | None = None,
) -> tuple[builtins.list[User], builtins.list[Group], builtins.list[Role]]:
    """ListEntitiesForPolicy: the users, groups and roles of the account it is attached to, by name.
    ``entity_filter`` is IAM's ``User``, ``Group``, ``Role`` (or None for all)."""
    found: dict[str, builtins.list[object]] = {}
    for word, module in (("User", users), ("Group", groups), ("Role", roles)):
        if entity_filter not in (None, word):
            found[word] = []
            continue
        table = module.KIND.table
        query = (
            select(table)
            .join(t.policy_attachments, _a.principal_id == table.c.id)
            .where(
                _a.principal_kind == word.lower(), _a.policy_arn == policy_arn, _a.account_id == account_id
            )
        )
        query = rows.where_all(query, rows.under_path(table.c.path, path_prefix))
        found[word] = [module.KIND.to_entity(r) for r in tx.execute(query.order_by(table.c.name_lower))]
    return found["User"], found["Group"], found["Role"]  # type: ignore[return-value]
