"""Managed policies and their versions.

Customer-managed policies live in the database; AWS-managed ones come from the read-only
catalogue (:mod:`ironkeep.model.aws_policies`) and are seen the same way, with ``account_id``
``aws`` and their default version only. Attachments are in :mod:`ironkeep.store.attachments`.
"""

from __future__ import annotations

import builtins
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, insert, select
from sqlalchemy import delete as sql_delete
from sqlalchemy import update as sql_update

from ironkeep.errors import DeleteConflict, LimitExceeded, NoSuchEntity
from ironkeep.model import AWS_ACCOUNT, ManagedPolicy, PolicyVersion
from ironkeep.model import aws_policies as catalogue
from ironkeep.model.limits import VERSIONS_PER_MANAGED_POLICY
from ironkeep.store import named, rows
from ironkeep.store import schema as t
from ironkeep.store.prepared import Prepared

_c = t.managed_policies.c
_v = t.policy_versions.c
_a = t.policy_attachments.c

SCOPES = ("All", "AWS", "Local")


def _to_policy(row: Row[Any], attachments: int = 0, boundaries: int = 0) -> ManagedPolicy:
    return replace(
        KIND.to_entity(row), attachment_count=attachments, permissions_boundary_usage_count=boundaries
    )


KIND: named.Kind[ManagedPolicy] = named.Kind(
    t.managed_policies,
    "policy",
    ManagedPolicy,
    exists_message=lambda name: f"A policy called {name} already exists. Duplicate names are not allowed.",
    missing_message=lambda arn: f"Policy {arn} was not found.",
    tag_kind="policy",
)


def _from_catalogue(
    entry: catalogue.AwsManagedPolicy, attachments: int = 0, boundaries: int = 0
) -> ManagedPolicy:
    return ManagedPolicy(
        account_id=AWS_ACCOUNT,
        id=entry.policy_id,
        name=entry.name,
        path=entry.path,
        arn=entry.arn,
        default_version_id=entry.default_version_id,
        description=None,
        created=entry.created,
        updated=entry.updated,
        attachment_count=attachments,
        permissions_boundary_usage_count=boundaries,
    )


def create(
    tx: Connection,
    account_id: str,
    name: str,
    path: str,
    policy_id: str,
    document: str,
    created: datetime,
    description: str | None = None,
) -> ManagedPolicy:
    """CreatePolicy: the policy and its version v1, the default."""
    policy = KIND.create(
        tx,
        account_id,
        name,
        path,
        policy_id,
        created,
        updated_at=created,
        description=description,
        default_version_id="v1",
        next_version=2,
    )
    tx.execute(
        insert(t.policy_versions).values(
            policy_id=policy_id, version_id="v1", document=document, created_at=created
        )
    )
    return policy


def get(tx: Connection, account_id: str, arn: str) -> ManagedPolicy | None:
    """The policy with this ARN as the account sees it (its attachment and boundary counts are the
    account's), or None: AWS-managed, or customer-managed in ``account_id``."""
    entry = catalogue.get(arn)
    if entry is not None:
        return _from_catalogue(entry, *_usage_of(tx, account_id, arn))
    row = _BY_ARN.first(tx, {"arn": arn, "account": account_id})
    if row is None:
        return None
    return _to_policy(row, *_usage_of(tx, account_id, arn))


def _usage_of(tx: Connection, account_id: str, arn: str) -> tuple[int, int]:
    """One policy's (attachments, permissions-boundary uses) in the account, in three indexed
    counts prepared once (GetPolicy and GetPolicyVersion ask)."""
    values = {"arn": arn, "account": account_id}
    attachments = _ATTACHMENTS_OF.scalar(tx, values) or 0
    boundaries = (_USERS_BOUNDED_BY.scalar(tx, values) or 0) + (_ROLES_BOUNDED_BY.scalar(tx, values) or 0)
    return int(attachments), int(boundaries)


def _count_where(table: Any, column: Any) -> Prepared:
    return Prepared(
        select(func.count())
        .select_from(table)
        .where(column == bindparam("arn"), table.c.account_id == bindparam("account"))
    )


_BY_ARN = Prepared(KIND.query().where(_c.arn == bindparam("arn"), _c.account_id == bindparam("account")))
_ATTACHMENTS_OF = _count_where(t.policy_attachments, t.policy_attachments.c.policy_arn)
_USERS_BOUNDED_BY = _count_where(t.users, t.users.c.permissions_boundary_arn)
_ROLES_BOUNDED_BY = _count_where(t.roles, t.roles.c.permissions_boundary_arn)


def require(tx: Connection, account_id: str, arn: str) -> ManagedPolicy:
    policy = get(tx, account_id, arn)
    if policy is None:
        raise KIND.missing(arn)
    return policy


def usage_counts(tx: Connection, account_id: str) -> tuple[dict[str, int], dict[str, int]]:
    """(attachments, permissions-boundary uses) per policy ARN in the account (ListPolicies; one
    policy's are :func:`_usage_of`'s)."""
    attached = select(_a.policy_arn, func.count()).where(_a.account_id == account_id).group_by(_a.policy_arn)
    attachments = {arn: int(n) for arn, n in tx.execute(attached)}
    boundaries: dict[str, int] = {}
    for table in (t.users, t.roles):
        column = table.c.permissions_boundary_arn
        query = (
            select(column, func.count())
            .where(table.c.account_id == account_id, column.is_not(None))
            .group_by(column)
        )
        for arn, n in tx.execute(query):
            boundaries[arn] = boundaries.get(arn, 0) + int(n)
    return attachments, boundaries


def list(
    tx: Connection,
    account_id: str,
    scope: str = "All",
    only_attached: bool = False,
    path_prefix: str | None = None,
    marker: str | None = None,
    max_items: int | None = None,
) -> tuple[builtins.list[ManagedPolicy], str | None]:
    """ListPolicies: AWS-managed (scope AWS), the account's own (Local) or both (All), by name
    regardless of case; the marker is ``"<lower-cased name> <ARN>"`` of the last policy."""
    attachments, boundaries = usage_counts(tx, account_id)
    found: builtins.list[ManagedPolicy] = []
    if scope in ("All", "Local"):
        query = rows.where_all(
            KIND.query().where(_c.account_id == account_id), rows.under_path(_c.path, path_prefix)
        )
        found += [
            _to_policy(r, attachments.get(r.arn, 0), boundaries.get(r.arn, 0)) for r in tx.execute(query)
        ]
    if scope in ("All", "AWS"):
        found += [
            _from_catalogue(e, attachments.get(e.arn, 0), boundaries.get(e.arn, 0))
            for e in catalogue.catalogue().values()
            if not path_prefix or e.path.startswith(path_prefix)
        ]
    if only_attached:
        found = [p for p in found if p.attachment_count]
    return rows.page_in_memory(found, _listing_key, marker, max_items)


def _listing_key(policy: ManagedPolicy) -> str:
    return f"{policy.name.lower()} {policy.arn}"


def delete(tx: Connection, policy: ManagedPolicy) -> None:
    """DeletePolicy (customer-managed): refused while attached or while it has other versions."""
    if policy.is_aws_managed:
        raise NoSuchEntity(f"Policy {policy.arn} was not found.")
    attached = named.owns_any(
        t.policy_attachments, _a.policy_arn == policy.arn, _a.account_id == policy.account_id
    )
    versions = select(func.count()).where(_v.policy_id == policy.id).scalar_subquery() > 1
    named.delete_checked(
        tx,
        KIND,
        policy.id,
        [
            (attached, "Cannot delete a policy attached to entities."),
            (
                versions,
                "This policy has more than one version. Before you delete a policy, you must delete the "
                "policy's versions. The default version is deleted with the policy.",
            ),
        ],
    )


# -- versions ---------------------------------------------------------------------------------


def _version_number(version_id: str) -> int:
    return int(version_id[1:].split(".", 1)[0])


def _to_version(row: Row[Any], default_version_id: str) -> PolicyVersion:
    return PolicyVersion(
        policy_id=row.policy_id,
        version_id=row.version_id,
        document=row.document,
        is_default=row.version_id == default_version_id,
        created=row.created_at,
    )


def _catalogue_version(policy: ManagedPolicy) -> PolicyVersion:
    entry = catalogue.get(policy.arn)
    assert entry is not None
    return PolicyVersion(policy.id, entry.default_version_id, entry.document, True, entry.updated)


def _missing_version(policy: ManagedPolicy, version_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"Policy {policy.arn} version {version_id} does not exist or is not deletable.")


def create_version(
    tx: Connection, policy: ManagedPolicy, document: str, set_as_default: bool, created: datetime
) -> PolicyVersion:
    """CreatePolicyVersion: the next ``vN`` (never reused); LimitExceeded past five versions."""
    rows.lock_row(tx, t.managed_policies, policy.id)  # concurrent creators take turns
    held = tx.execute(select(func.count()).where(_v.policy_id == policy.id)).scalar_one()
    if held >= VERSIONS_PER_MANAGED_POLICY:
        raise LimitExceeded(
            f"A managed policy can have up to {VERSIONS_PER_MANAGED_POLICY} versions. "
            "Before you create a new version, you must delete an existing version."
        )
    number = (
        tx.execute(
            sql_update(t.managed_policies)
            .where(_c.id == policy.id)
            .values(next_version=_c.next_version + 1)
            .returning(_c.next_version)
        ).scalar_one()
        - 1
    )
    version_id = f"v{number}"
    tx.execute(
        insert(t.policy_versions).values(
            policy_id=policy.id, version_id=version_id, document=document, created_at=created
        )
    )
    if set_as_default:
        _make_default(tx, policy.id, version_id, created)
    return PolicyVersion(policy.id, version_id, document, set_as_default, created)


def get_version(tx: Connection, policy: ManagedPolicy, version_id: str) -> PolicyVersion | None:
    if policy.is_aws_managed:
        version = _catalogue_version(policy)
        return version if version.version_id == version_id else None
    row = tx.execute(
        select(t.policy_versions).where(_v.policy_id == policy.id, _v.version_id == version_id)
    ).first()
    return None if row is None else _to_version(row, _default_version_id(tx, policy.id))


def default_version(tx: Connection, policy: ManagedPolicy) -> PolicyVersion:
    if policy.is_aws_managed:
        return _catalogue_version(policy)
    row = tx.execute(
        select(t.policy_versions)
        .join(t.managed_policies, _c.id == _v.policy_id)
        .where(_v.policy_id == policy.id, _v.version_id == _c.default_version_id)
    ).one()
    return _to_version(row, row.version_id)


def list_versions(tx: Connection, policy: ManagedPolicy) -> builtins.list[PolicyVersion]:
    """ListPolicyVersions: newest first."""
    if policy.is_aws_managed:
        return [_catalogue_version(policy)]
    default = _default_version_id(tx, policy.id)
    found = [
        _to_version(r, default)
        for r in tx.execute(select(t.policy_versions).where(_v.policy_id == policy.id))
    ]
    return sorted(found, key=lambda v: _version_number(v.version_id), reverse=True)


def delete_version(tx: Connection, policy: ManagedPolicy, version_id: str) -> None:
    if version_id == _default_version_id(tx, policy.id):
        raise DeleteConflict("Cannot delete the default version of a policy.")
    gone = tx.execute(
        sql_delete(t.policy_versions).where(_v.policy_id == policy.id, _v.version_id == version_id)
    )
    if gone.rowcount == 0:
        raise _missing_version(policy, version_id)


def set_default_version(tx: Connection, policy: ManagedPolicy, version_id: str, updated: datetime) -> None:
    found = tx.execute(
        select(_v.version_id).where(_v.policy_id == policy.id, _v.version_id == version_id)
    ).first()
    if found is None:
        raise _missing_version(policy, version_id)
    _make_default(tx, policy.id, version_id, updated)


def _make_default(tx: Connection, policy_id: str, version_id: str, updated: datetime) -> None:
    tx.execute(
        sql_update(t.managed_policies)
        .where(_c.id == policy_id)
        .values(default_version_id=version_id, updated_at=updated)
    )


def _default_version_id(tx: Connection, policy_id: str) -> str:
    return str(tx.execute(select(_c.default_version_id).where(_c.id == policy_id)).scalar_one())


def count(tx: Connection, account_id: str) -> int:
    """Customer-managed policies in the account (GetAccountSummary's ``Policies``)."""
    return KIND.count(tx, account_id)
