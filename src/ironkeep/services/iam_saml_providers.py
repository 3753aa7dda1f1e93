"""IAM SAML providers: Create/Get/List/Update/Delete and tags.

The metadata document is checked with :func:`ironkeep.auth.saml_metadata.parse_metadata` (an IdP
EntityDescriptor with at least one signing certificate); its ``validUntil`` becomes ValidUntil.
AssumeRoleWithSAML verifies assertions against the certificates of the stored document.

Not supported: encrypted assertions. ``AssertionEncryptionMode=Required``, ``AddPrivateKey`` and
``RemovePrivateKey`` are refused with InvalidInput (``Allowed`` is accepted: plain assertions are
what Ironkeep verifies), and GetSAMLProvider returns no ``PrivateKeyList``.
``SAMLProviderUUID`` is derived from the ARN and creation time (stable for the provider's life).
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update

from ironkeep.auth.saml_metadata import parse_metadata
from ironkeep.errors import EntityAlreadyExists, InvalidInput, LimitExceeded, NoSuchEntity
from ironkeep.services import common
from ironkeep.services.context import CallContext
from ironkeep.services.registry import operation
from ironkeep.store import schema as t

TAG_KIND = "saml-provider"
PROVIDERS_PER_ACCOUNT = 100  # IAM quota "SAMLProvidersPerAccount"
ENCRYPTION_MESSAGE = (
    "Encrypted SAML assertions are not supported by Ironkeep: "
    "AssertionEncryptionMode must be Allowed, and private keys cannot be added or removed."
)


def provider_arn(account_id: str, name: str) -> str:
    return f"arn:aws:iam::{account_id}:saml-provider/{name}"


def provider_uuid(arn: str, created_at: datetime) -> str:
    """GetSAMLProvider's SAMLProviderUUID: 26 characters of ``[A-Z0-9]``, fixed for the provider."""
    created = common.utc(created_at) or created_at
    digest = hashlib.sha256(f"{arn}|{created.isoformat()}".encode()).digest()
    return base64.b32encode(digest).decode()[:26].replace("=", "")


def find_provider(tx: Any, arn: str) -> Row[Any] | None:
    """A SAML provider by ARN, in whichever account the ARN names (AssumeRoleWithSAML's PrincipalArn)."""
    return tx.execute(select(t.saml_providers).where(t.saml_providers.c.arn == arn)).first()


def _get(ctx: CallContext, arn: str) -> Row[Any]:
    row = find_provider(ctx.tx, arn)
    if row is None or row.account_id != ctx.account_id:
        raise NoSuchEntity(f"SAMLProvider not found for arn {arn}")
    return row


def _refuse_encryption(params: dict[str, Any]) -> None:
    if (
        params.get("AssertionEncryptionMode") == "Required"
        or params.get("AddPrivateKey")
        or params.get("RemovePrivateKey")
    ):
        raise InvalidInput(ENCRYPTION_MESSAGE)


def _resource(ctx: CallContext, params: dict[str, Any]) -> str:
    arn = params.get("SAMLProviderArn")
    if arn:
        return str(arn)
    return provider_arn(ctx.account_id, params.get("Name") or "*")


@operation("iam", "CreateSAMLProvider", resource=_resource)
def create_saml_provider(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    name = params["Name"]
    _refuse_encryption(params)
    document = params["SAMLMetadataDocument"]
    parsed = parse_metadata(document)
    tags = common.check_tags(params.get("Tags", []))
    owned = t.saml_providers.c.account_id == ctx.account_id
    same_name = func.lower(t.saml_providers.c.name) == name.lower()
    if ctx.tx.execute(select(t.saml_providers.c.arn).where(owned, same_name)).first():
        raise EntityAlreadyExists(f"SAMLProvider {name} already exists")
    count = ctx.tx.execute(select(func.count()).select_from(t.saml_providers).where(owned)).scalar() or 0
    if count >= PROVIDERS_PER_ACCOUNT:
        raise LimitExceeded(f"Cannot exceed quota for SAMLProvidersPerAccount: {PROVIDERS_PER_ACCOUNT}")
    arn = provider_arn(ctx.account_id, name)
    ctx.tx.execute(
        insert(t.saml_providers).values(
            arn=arn,
            account_id=ctx.account_id,
            name=name,
            metadata_document=document,
            valid_until=parsed.valid_until,
            created_at=ctx.now,
        )
    )
    common.put_tags(ctx.tx, TAG_KIND, arn, tags)
    out: dict[str, Any] = {"SAMLProviderArn": arn}
    stored = common.get_tags(ctx.tx, TAG_KIND, arn)
    if stored:
        out["Tags"] = stored
    return out


@operation("iam", "GetSAMLProvider", resource=_resource)
def get_saml_provider(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    row = _get(ctx, params["SAMLProviderArn"])
    out: dict[str, Any] = {
        "SAMLProviderUUID": provider_uuid(row.arn, row.created_at),
        "SAMLMetadataDocument": row.metadata_document,
        "CreateDate": common.utc(row.created_at),
    }
    if row.valid_until is not None:
        out["ValidUntil"] = common.utc(row.valid_until)
    tags = common.get_tags(ctx.tx, TAG_KIND, row.arn)
    if tags:
        out["Tags"] = tags
    return out


@operation("iam", "ListSAMLProviders")
def list_saml_providers(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    rows = ctx.tx.execute(
        select(t.saml_providers)
        .where(t.saml_providers.c.account_id == ctx.account_id)
        .order_by(t.saml_providers.c.arn)
    )
    providers = []
    for row in rows:
        entry: dict[str, Any] = {"Arn": row.arn, "CreateDate": common.utc(row.created_at)}
        if row.valid_until is not None:
            entry["ValidUntil"] = common.utc(row.valid_until)
        providers.append(entry)
    return {"SAMLProviderList": providers}


@operation("iam", "UpdateSAMLProvider", resource=_resource)
def update_saml_provider(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    row = _get(ctx, params["SAMLProviderArn"])
    _refuse_encryption(params)
    document = params.get("SAMLMetadataDocument")
    if document is None:
        if params.get("AssertionEncryptionMode") is None:
            raise InvalidInput("At least one of SAMLMetadataDocument or AssertionEncryptionMode is required")
        return {"SAMLProviderArn": row.arn}
    parsed = parse_metadata(document)
    ctx.tx.execute(
        update(t.saml_providers)
        .where(t.saml_providers.c.arn == row.arn)
        .values(metadata_document=document, valid_until=parsed.valid_until)
    )
    return {"SAMLProviderArn": row.arn}


@operation("iam", "DeleteSAMLProvider", resource=_resource)
def delete_saml_provider(ctx: CallContext, params: dict[str, Any]) -> None:
    row = _get(ctx, params["SAMLProviderArn"])
    common.drop_tags(ctx.tx, TAG_KIND, row.arn)
    ctx.tx.execute(delete(t.saml_providers).where(t.saml_providers.c.arn == row.arn))


@operation("iam", "TagSAMLProvider", resource=_resource)
def tag_saml_provider(ctx: CallContext, params: dict[str, Any]) -> None:
    row = _get(ctx, params["SAMLProviderArn"])
    common.put_tags(ctx.tx, TAG_KIND, row.arn, params["Tags"])


@operation("iam", "UntagSAMLProvider", resource=_resource)
def untag_saml_provider(ctx: CallContext, params: dict[str, Any]) -> None:
    row = _get(ctx, params["SAMLProviderArn"])
    common.remove_tags(ctx.tx, TAG_KIND, row.arn, params["TagKeys"])


@operation("iam", "ListSAMLProviderTags", resource=_resource)
def list_saml_provider_tags(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    row = _get(ctx, params["SAMLProviderArn"])
    return common.paginate(
        common.get_tags(ctx.tx, TAG_KIND, row.arn), params, lambda tag: tag["Key"].lower(), "Tags"
    )
