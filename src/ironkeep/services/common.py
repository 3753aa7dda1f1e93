"""What many IAM handlers share: Marker/MaxItems pagination, tags, policy document checks."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from ironkeep.errors import AWSError, LimitExceeded, MalformedPolicyDocument, ValidationError
from ironkeep.model import limits
from ironkeep.policy import parse_policy
from ironkeep.store import schema

T = TypeVar("T")

DEFAULT_MAX_ITEMS = 100


class InvalidInput(AWSError):
    code = "InvalidInput"


# ---------------------------------------------------------------------------------------------
# pagination: Marker is opaque to clients; here it is the sort key of the last item returned


def encode_marker(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_marker(marker: str | None) -> str | None:
    if marker is None:
        return None
    try:
        return base64.urlsafe_b64decode(marker + "=" * (-len(marker) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValidationError("Invalid Marker.") from None


def max_items(params: dict[str, Any]) -> int:
    return int(params.get("MaxItems") or DEFAULT_MAX_ITEMS)


def paginate(
    items: Sequence[T], params: dict[str, Any], key: Callable[[T], str], list_name: str
) -> dict[str, Any]:
    """Slice ``items`` (already sorted by ``key``) after the request's Marker; AWS's output keys."""
    after = decode_marker(params.get("Marker"))
    if after is not None:
        items = [item for item in items if key(item) > after]
    limit = max_items(params)
    page = list(items[:limit])
    out: dict[str, Any] = {list_name: page, "IsTruncated": len(items) > limit}
    if len(items) > limit:
        out["Marker"] = encode_marker(key(page[-1]))
    return out


# ---------------------------------------------------------------------------------------------
# policy documents


def check_policy_document(document: str, *, kind: str, max_size: int) -> str:
    """Validate a document as IAM does on write: the size without white space, then the grammar."""
    size = sum(1 for ch in document if not ch.isspace())
    if size > max_size:
        raise LimitExceeded(f"Cannot exceed quota for PolicySize: {max_size}")
    parse_policy(document, kind=kind)
    return document


def check_trust_policy(document: str) -> str:
    try:
        return check_policy_document(document, kind="trust", max_size=limits.ROLE_TRUST_POLICY_SIZE)
    except LimitExceeded:
        raise LimitExceeded(
            f"Cannot exceed quota for ACLSizePerRole: {limits.ROLE_TRUST_POLICY_SIZE}"
        ) from None
    except MalformedPolicyDocument:
        raise


# ---------------------------------------------------------------------------------------------
# tags: stored per (resource kind, resource id); keys unique regardless of case


def check_tags(tags: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    seen: set[str] = set()
    out = []
    for tag in tags:
        lower = tag["Key"].lower()
        if lower in seen:
            raise InvalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
        seen.add(lower)
        out.append({"Key": tag["Key"], "Value": tag.get("Value", "")})
    return out


def put_tags(tx: Connection, kind: str, resource_id: str, tags: Iterable[dict[str, str]]) -> None:
    tags = check_tags(tags)
    existing = {
        row.key_lower
        for row in tx.execute(select(schema.tags.c.key_lower).where(*_tag_where(kind, resource_id)))
    }
    for tag in tags:
        lower = tag["Key"].lower()
        if lower in existing:
            tx.execute(
                update(schema.tags)
                .where(*_tag_where(kind, resource_id), schema.tags.c.key_lower == lower)
                .values(key=tag["Key"], value=tag["Value"])
            )
        else:
            tx.execute(
                insert(schema.tags).values(
                    resource_kind=kind,
                    resource_id=resource_id,
                    key_lower=lower,
                    key=tag["Key"],
                    value=tag["Value"],
                )
            )
            existing.add(lower)
    if len(existing) > limits.TAGS_PER_ENTITY:
        raise LimitExceeded(f"The number of tags has reached the maximum limit of {limits.TAGS_PER_ENTITY}.")


def remove_tags(tx: Connection, kind: str, resource_id: str, keys: Iterable[str]) -> None:
    lowered = [k.lower() for k in keys]
    if lowered:
        tx.execute(
            delete(schema.tags).where(*_tag_where(kind, resource_id), schema.tags.c.key_lower.in_(lowered))
        )


_GET_TAGS = (
    select(schema.tags.c.key, schema.tags.c.value)
    .where(schema.tags.c.resource_kind == bindparam("kind"), schema.tags.c.resource_id == bindparam("rid"))
    .order_by(schema.tags.c.key_lower)
)


def get_tags(tx: Connection, kind: str, resource_id: str) -> list[dict[str, str]]:
    rows = tx.execute(_GET_TAGS, {"kind": kind, "rid": resource_id})
    return [{"Key": row.key, "Value": row.value} for row in rows]


def drop_tags(tx: Connection, kind: str, resource_id: str) -> None:
    tx.execute(delete(schema.tags).where(*_tag_where(kind, resource_id)))


def _tag_where(kind: str, resource_id: str) -> tuple[Any, ...]:
    return (schema.tags.c.resource_kind == kind, schema.tags.c.resource_id == resource_id)


def utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time Ironkeep stores is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    from datetime import UTC

    return value.replace(tzinfo=UTC)
