"""The shape every named IAM entity shares (users, groups, roles, instance profiles, managed
policies): a row per entity, unique by ``(account_id, name_lower)``, listed by name."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Row, Select, Table, delete, exists, func, insert, select, update
from sqlalchemy.sql.elements import ColumnElement

from ironkeep.errors import AWSError, DeleteConflict, EntityAlreadyExists, NoSuchEntity
from ironkeep.model.arns import iam_arn
from ironkeep.model.names import name_key
from ironkeep.store import rows
from ironkeep.store import schema as t

E = TypeVar("E")


class Kind(Generic[E]):
    """How one kind of named entity is stored and spoken of, and its read functions: a module
    binds them as its own (``get = KIND.get``)."""

    def __init__(
        self,
        table: Table,
        arn_word: str,
        entity: type[E],
        exists_message: Callable[[str], str],
        missing_message: Callable[[str], str],
        tag_kind: str,
    ) -> None:
        self.table = table
        self.arn_word = arn_word
        self.to_entity = from_row(entity)
        self.exists_message = exists_message
        self.missing_message = missing_message
        self.tag_kind = tag_kind

    def already_exists(self, name: str) -> AWSError:
        return EntityAlreadyExists(self.exists_message(name))

    def missing(self, name: str) -> AWSError:
        return NoSuchEntity(self.missing_message(name))

    def query(self) -> Select[Any]:
        return select(self.table)

    def create(
        self,
        tx: Connection,
        account_id: str,
        name: str,
        path: str,
        entity_id: str,
        created: datetime,
        **extra: Any,
    ) -> E:
        """A new entity (``extra``: its own columns); EntityAlreadyExists if the account has one by
        that name in any case."""
        values = {
            "id": entity_id,
            "account_id": account_id,
            "name": name,
            "name_lower": name_key(name),
            "path": path,
            "arn": iam_arn(account_id, self.arn_word, path, name),
            "created_at": created,
            **extra,
        }
        rows.execute_unique(tx, insert(self.table).values(**values), lambda: self.already_exists(name))
        return self._reload(tx, entity_id)

    def get(self, tx: Connection, account_id: str, name: str) -> E | None:
        """The entity named ``name`` regardless of case, or None."""
        c = self.table.c
        row = tx.execute(
            self.query().where(c.account_id == account_id, c.name_lower == name_key(name))
        ).first()
        return None if row is None else self.to_entity(row)

    def require(self, tx: Connection, account_id: str, name: str) -> E:
        """Like :meth:`get`, raising NoSuchEntity with IAM's message when there is none."""
        found = self.get(tx, account_id, name)
        if found is None:
            raise self.missing(name)
        return found

    def get_by_id(self, tx: Connection, entity_id: str) -> E | None:
        row = tx.execute(self.query().where(self.table.c.id == entity_id)).first()
        return None if row is None else self.to_entity(row)

    def list(
        self,
        tx: Connection,
        account_id: str,
        path_prefix: str | None = None,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> tuple[builtins.list[E], str | None]:
        """The account's entities under ``path_prefix``, by name regardless of case, a page at a time."""
        query = self.query().where(self.table.c.account_id == account_id)
        return listing(tx, self, query, path_prefix, marker, max_items)

    def count(self, tx: Connection, account_id: str) -> int:
        table = self.table
        query = select(func.count()).select_from(table).where(table.c.account_id == account_id)
        return int(tx.execute(query).scalar_one())

    def rename(
        self, tx: Connection, entity: Any, new_name: str | None = None, new_path: str | None = None
    ) -> E:
        """A new name and/or path (the ARN follows); the new name must be free regardless of case."""
        name = new_name if new_name is not None else entity.name
        path = new_path if new_path is not None else entity.path
        values = {
            "name": name,
            "name_lower": name_key(name),
            "path": path,
            "arn": iam_arn(entity.account_id, self.arn_word, path, name),
        }
        statement = update(self.table).where(self.table.c.id == entity.id).values(**values)
        rows.execute_unique(tx, statement, lambda: self.already_exists(name))
        return self._reload(tx, entity.id)

    def set_values(self, tx: Connection, entity_id: str, **values: Any) -> E:
        """Update columns of one entity and return it as it now is."""
        tx.execute(update(self.table).where(self.table.c.id == entity_id).values(**values))
        return self._reload(tx, entity_id)

    def _reload(self, tx: Connection, entity_id: str) -> E:
        found = self.get_by_id(tx, entity_id)
        assert found is not None
        return found


# entity fields whose column has another name
_COLUMN = {"created": "created_at", "updated": "updated_at", "last_used": "last_used_at"}


def from_row(entity: type[E]) -> Callable[[Row[Any]], E]:
    """A converter from a row holding the entity's columns to the entity (fields with no column,
    such as counts, keep their defaults)."""
    names = [(f.name, _COLUMN.get(f.name, f.name)) for f in fields(entity)]  # type: ignore[arg-type]

    def convert(row: Row[Any]) -> E:
        mapping = row._mapping
        return entity(**{field: mapping[column] for field, column in names if column in mapping})

    return convert


def listing(
    tx: Connection,
    kind: Kind[E],
    query: Select[Any],
    path_prefix: str | None,
    marker: str | None,
    max_items: int | None,
) -> tuple[list[E], str | None]:
    """A page of ``query`` (already narrowed to an account or an owner) ordered by name
    regardless of case, as IAM lists; the marker is the last name's lower-cased form."""
    query = rows.where_all(query, rows.under_path(kind.table.c.path, path_prefix))
    found, next_marker = rows.page(tx, query, kind.table.c.name_lower, marker, max_items)
    return [kind.to_entity(row) for row in found], next_marker


def delete_checked(
    tx: Connection, kind: Kind[Any], entity_id: str, blockers: Sequence[tuple[Any, str]]
) -> None:
    """Delete the entity and its tags, unless one of ``blockers`` (an EXISTS condition and AWS's
    DeleteConflict message) holds. All conditions are asked in one query."""
    if blockers:
        found = tx.execute(select(*(cond.label(f"b{i}") for i, (cond, _) in enumerate(blockers)))).one()
        for i, (_, message) in enumerate(blockers):
            if found[i]:
                raise DeleteConflict(message)
    tx.execute(
        delete(t.tags).where(t.tags.c.resource_kind == kind.tag_kind, t.tags.c.resource_id == entity_id)
    )
    tx.execute(delete(kind.table).where(kind.table.c.id == entity_id))


def owns_any(table: Table, *where: ColumnElement[bool]) -> Any:
    return exists(select(1).select_from(table).where(*where))


def principal_blockers(kind_word: str, entity_id: str) -> list[tuple[Any, str]]:
    """Inline and attached policies: both stop the deletion of a user, group or role."""
    inline, attached = t.inline_policies.c, t.policy_attachments.c
    return [
        (
            owns_any(t.inline_policies, inline.principal_kind == kind_word, inline.principal_id == entity_id),
            "Cannot delete entity, must delete policies first.",
        ),
        (
            owns_any(
                t.policy_attachments, attached.principal_kind == kind_word, attached.principal_id == entity_id
            ),
            "Cannot delete entity, must detach all policies first.",
        ),
    ]
