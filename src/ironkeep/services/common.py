"""What many IAM handlers share: Marker/MaxItems pagination, tags, policy document checks."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection

from ironkeep.errors import AWSError, LimitExceeded, MalformedPolicyDocument, ValidationError
from ironkeep.model import Tag, limits
from ironkeep.policy import parse_policy
from ironkeep.store import tags as store_tags

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
    """TagUser (role, ...) with the request's ``Tags`` members: :func:`ironkeep.store.tags.put`."""
    store_tags.put(tx, kind, resource_id, [Tag(tag["Key"], tag.get("Value", "")) for tag in tags])


def remove_tags(tx: Connection, kind: str, resource_id: str, keys: Iterable[str]) -> None:
    store_tags.remove(tx, kind, resource_id, keys)


def get_tags(tx: Connection, kind: str, resource_id: str) -> list[dict[str, str]]:
    """A resource's tags as IAM's ``Tags`` members, by key regardless of case."""
    return [{"Key": tag.key, "Value": tag.value} for tag in store_tags.all_of(tx, kind, resource_id)]


def drop_tags(tx: Connection, kind: str, resource_id: str) -> None:
    store_tags.drop(tx, kind, resource_id)


def utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time Ironkeep stores is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    from datetime import UTC

    return value.replace(tzinfo=UTC)
