"""What authorization needs about a principal, read in a fixed number of queries.

:func:`load_authz` (a user) and :func:`load_role_authz` (a role) each make three queries, however
many groups and policies there are: the principal with its boundary's document, every identity
policy document in one ``UNION ALL``, and the principal's tags. AWS-managed documents come from
the catalogue, not the database.

The three are :class:`~ironkeep.store.prepared.Prepared` statements, built once per kind: every
change in an account makes its principals' policies be read again on their next call, so under a
stream of writes (a Terraform apply) this runs on nearly every request, and building and compiling
the ``UNION ALL`` anew each time cost milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Connection, String, and_, bindparam, literal_column, null, or_, select, union_all

from ironkeep.model import Role, User
from ironkeep.model import aws_policies as catalogue
from ironkeep.model.names import name_key
from ironkeep.store import roles, users
from ironkeep.store import schema as t
from ironkeep.store.prepared import Prepared

# A boundary whose policy no longer exists allows nothing (fail closed).
DENY_ALL = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}'


@dataclass(frozen=True)
class AuthzMaterial:
    """The engine's inputs for one principal. ``sources`` names each identity document, in the
    same order: ``user/<policy>``, ``group/<group>/<policy>`` (inline) or the managed policy ARN."""

    principal: User | Role
    identity: tuple[str, ...]
    permissions_boundary: str | None
    tags: dict[str, str] = field(default_factory=dict)
    sources: tuple[str, ...] = ()


def load_authz(tx: Connection, account_id: str, user_name: str) -> AuthzMaterial | None:
    """A user's inline and attached policies, those of each of its groups (default versions),
    its permissions boundary's document and its tags; None if there is no such user."""
    return _load(tx, account_id, user_name, users.KIND, with_groups=True)


def load_role_authz(tx: Connection, account_id: str, role_name: str) -> AuthzMaterial | None:
    """The same for a role (inline and attached policies, boundary, tags)."""
    return _load(tx, account_id, role_name, roles.KIND, with_groups=False)


def _load(
    tx: Connection, account_id: str, name: str, kind: Any, *, with_groups: bool
) -> AuthzMaterial | None:
    principal_query, documents_query, tags_query = _queries(kind, with_groups)
    # 1. the principal, and its boundary's default document when customer-managed
    row = principal_query.first(tx, {"account": account_id, "name": name_key(name)})
    if row is None:
        return None
    principal = kind.to_entity(row)
    # 2. every identity document
    sources, documents, seen = [], [], set()
    for source, arn, document in documents_query.all(
        tx, {"kind": principal.kind, "id": principal.id, "account": principal.account_id}
    ):
        if arn is not None:
            if arn in seen:
                continue  # attached to the user and to one of its groups: once is enough
            seen.add(arn)
            source = arn
            if document is None:
                entry = catalogue.get(arn)
                if entry is None:
                    continue  # attached policy deleted under us: nothing to grant
                document = entry.document
        sources.append(source)
        documents.append(document)
    # 3. tags
    tags = dict(tags_query.all(tx, {"kind": principal.kind, "id": principal.id}))
    return AuthzMaterial(
        principal=principal,
        identity=tuple(documents),
        permissions_boundary=_boundary(principal.permissions_boundary_arn, row.boundary_document),
        tags=tags,
        sources=tuple(sources),
    )


@cache
def _queries(kind: Any, with_groups: bool) -> tuple[Prepared, Prepared, Prepared]:
    """The three statements of :func:`_load` for one kind of principal, with or without groups."""
    table = kind.table
    mp, pv = t.managed_policies.c, t.policy_versions.c
    account = bindparam("account")
    principal = Prepared(
        select(table, pv.document.label("boundary_document"))
        .outerjoin(
            t.managed_policies, and_(mp.arn == table.c.permissions_boundary_arn, mp.account_id == account)
        )
        .outerjoin(t.policy_versions, and_(pv.policy_id == mp.id, pv.version_id == mp.default_version_id))
        .where(table.c.account_id == account, table.c.name_lower == bindparam("name"))
    )
    tags = Prepared(
        select(t.tags.c.key, t.tags.c.value).where(
            t.tags.c.resource_kind == bindparam("kind"), t.tags.c.resource_id == bindparam("id")
        )
    )
    return principal, Prepared(_documents(kind.tag_kind, with_groups)), tags


def _boundary(arn: str | None, document: str | None) -> str | None:
    if arn is None:
        return None
    if document is not None:
        return document
    entry = catalogue.get(arn)
    return entry.document if entry is not None else DENY_ALL


def _documents(kind: str, with_groups: bool) -> Any:
    """One query: (source, attached ARN or NULL, document or NULL for AWS-managed), in the order
    user inline, group inline, attached (user's, then groups'), for the principal of kind ``kind``
    whose id is bound as ``id`` (and ``kind``), in the account bound as ``account``."""
    ip, pa, gm, g = t.inline_policies.c, t.policy_attachments.c, t.group_members.c, t.groups.c
    mp, pv = t.managed_policies.c, t.policy_versions.c
    principal_kind, principal_id = bindparam("kind"), bindparam("id")
    mine_inline = and_(ip.principal_kind == principal_kind, ip.principal_id == principal_id)
    mine_attached = and_(pa.principal_kind == principal_kind, pa.principal_id == principal_id)
    parts = [
        select(
            _constant(0).label("rank"),
            (_constant(f"{kind}/") + ip.name).label("source"),
            null().label("arn"),
            ip.document.label("document"),
            ip.name_lower.label("order_key"),
        ).where(mine_inline)
    ]
    if with_groups:
        my_groups = select(gm.group_id).where(gm.user_id == principal_id)
        parts.append(
            select(
                _constant(1),
                _constant("group/") + g.name + _constant("/") + ip.name,
                null(),
                ip.document,
                g.name_lower + _constant("/") + ip.name_lower,
            )
            .join(t.groups, g.id == ip.principal_id)
            .where(ip.principal_kind == _constant("group"), ip.principal_id.in_(my_groups))
        )
        mine_attached = or_(
            mine_attached, and_(pa.principal_kind == _constant("group"), pa.principal_id.in_(my_groups))
        )
    parts.append(
        select(_constant(2), pa.policy_arn, pa.policy_arn, pv.document, pa.policy_arn)
        .select_from(t.policy_attachments)
        .outerjoin(t.managed_policies, and_(mp.arn == pa.policy_arn, mp.account_id == bindparam("account")))
        .outerjoin(t.policy_versions, and_(pv.policy_id == mp.id, pv.version_id == mp.default_version_id))
        .where(mine_attached)
    )
    union = union_all(*parts).subquery()
    return select(union.c.source, union.c.arn, union.c.document).order_by(union.c.rank, union.c.order_key)


def _constant(value: int | str) -> Any:
    """A constant written into the SQL (a prepared statement binds only its named parameters);
    only the fixed words and numbers above, never a value from a request."""
    if isinstance(value, int):
        return literal_column(str(value))
    return literal_column("'" + value.replace("'", "''") + "'", String)
