"""Server certificates: UploadServerCertificate, GetServerCertificate, ListServerCertificates,
UpdateServerCertificate, DeleteServerCertificate, TagServerCertificate, UntagServerCertificate,
ListServerCertificateTags.

The certificate, its private key and optional chain are checked together by
:mod:`ironkeep.auth.x509` (current, accepted key type, key pair matches, chain links up). The
private key is sealed at rest with the server's SecretBox, bound to the certificate's id, and never
leaves the store again: no response carries it (GetServerCertificate returns the body and chain
only), and nothing here logs it. Names are unique in the account regardless of case.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from sqlalchemy import Row, delete, func, insert, select, update

from ironkeep.auth.keys import UniqueIdPrefix, new_unique_id
from ironkeep.auth.x509 import parse_server_certificate
from ironkeep.errors import EntityAlreadyExists, LimitExceeded, NoSuchEntity
from ironkeep.model.arns import iam_arn
from ironkeep.model.names import check_name, check_path, check_path_prefix
from ironkeep.services import authz, common
from ironkeep.services.context import CallContext
from ironkeep.services.registry import operation
from ironkeep.store import schema as t

TAG_KIND = "server-certificate"
ARN_KIND = "server-certificate"
SERVER_CERTIFICATES_PER_ACCOUNT = 20  # IAM's default quota (IAM User Guide, "IAM and AWS STS quotas")
NAME_MAX = 128

_s = t.server_certificates.c


def private_key_aad(certificate_id: str) -> bytes:
    """What a sealed private key is bound to: a sealed key copied to another row does not open."""
    return f"server-certificate:{certificate_id}".encode()


def _find(ctx: CallContext, name: str) -> Row[Any] | None:
    return ctx.tx.execute(
        select(t.server_certificates).where(_s.account_id == ctx.account_id, _s.name_lower == name.lower())
    ).first()


def _require(ctx: CallContext, name: str) -> Row[Any]:
    row = _find(ctx, name)
    if row is None:
        raise NoSuchEntity(f"The Server Certificate with name {name} cannot be found.")
    return row


def certificate_resource(ctx: CallContext, params: dict[str, Any]) -> str:
    """The certificate's ARN, with its stored path (the requested one for an upload)."""
    name = params["ServerCertificateName"]
    row = _find(ctx, name)
    path = row.path if row is not None else params.get("Path") or "/"
    return iam_arn(ctx.account_id, ARN_KIND, path, row.name if row is not None else name)


def _metadata(row: Row[Any]) -> dict[str, Any]:
    return {
        "Path": row.path,
        "ServerCertificateName": row.name,
        "ServerCertificateId": row.id,
        "Arn": row.arn,
        "UploadDate": common.utc(row.created_at),
        "Expiration": common.utc(row.expiration),
    }


def _exists(name: str) -> EntityAlreadyExists:
    return EntityAlreadyExists(f"The Server Certificate with name {name} already exists.")


@operation("iam", "UploadServerCertificate", resource=certificate_resource)
def upload_server_certificate(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    name = check_name(params["ServerCertificateName"], "serverCertificateName", max_length=NAME_MAX)
    path = check_path(params.get("Path"))
    tags = common.check_tags(params.get("Tags", []))
    # PostgreSQL: uploads in one account queue on the account's row, so the quota holds
    ctx.tx.execute(select(t.accounts.c.id).where(t.accounts.c.id == ctx.account_id).with_for_update())
    count = ctx.tx.execute(select(func.count()).where(_s.account_id == ctx.account_id)).scalar_one()
    if count >= SERVER_CERTIFICATES_PER_ACCOUNT:
        raise LimitExceeded(
            f"Cannot exceed quota for ServerCertificatesPerAccount: {SERVER_CERTIFICATES_PER_ACCOUNT}"
        )
    if _find(ctx, name) is not None:
        raise _exists(name)
    parsed = parse_server_certificate(
        params["CertificateBody"], params["PrivateKey"], params.get("CertificateChain"), ctx.now
    )
    certificate_id = new_unique_id(UniqueIdPrefix.CERTIFICATE)
    # the key as PKCS#8 PEM, whatever form it came in: one canonical form at rest
    key_pem = parsed.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    ctx.tx.execute(
        insert(t.server_certificates).values(
            id=certificate_id,
            account_id=ctx.account_id,
            name=name,
            name_lower=name.lower(),
            path=path,
            arn=iam_arn(ctx.account_id, ARN_KIND, path, name),
            created_at=ctx.now,
            body=parsed.certificate.body,
            chain="".join(link.body for link in parsed.chain) or None,
            private_key_sealed=ctx.services.box.seal(key_pem, aad=private_key_aad(certificate_id)),
            expiration=parsed.certificate.not_after,
        )
    )
    common.put_tags(ctx.tx, TAG_KIND, certificate_id, tags)
    out: dict[str, Any] = {"ServerCertificateMetadata": _metadata(_require(ctx, name))}
    saved = common.get_tags(ctx.tx, TAG_KIND, certificate_id)
    if saved:
        out["Tags"] = saved
    return out


@operation("iam", "GetServerCertificate", resource=certificate_resource)
def get_server_certificate(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    row = _require(ctx, params["ServerCertificateName"])
    certificate: dict[str, Any] = {"ServerCertificateMetadata": _metadata(row), "CertificateBody": row.body}
    if row.chain:
        certificate["CertificateChain"] = row.chain
    tags = common.get_tags(ctx.tx, TAG_KIND, row.id)
    if tags:
        certificate["Tags"] = tags
    return {"ServerCertificate": certificate}


@operation(
    "iam",
    "ListServerCertificates",
    resource=lambda ctx, params: iam_arn(ctx.account_id, ARN_KIND, "/", "*"),
)
def list_server_certificates(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    prefix = check_path_prefix(params.get("PathPrefix"))
    query = select(t.server_certificates).where(_s.account_id == ctx.account_id)
    if prefix != "/":
        query = query.where(_s.path.startswith(prefix, autoescape=True))
    after = common.decode_marker(params.get("Marker"))
    if after is not None:
        query = query.where(_s.name_lower > after)
    limit = common.max_items(params)
    rows = ctx.tx.execute(query.order_by(_s.name_lower).limit(limit + 1)).all()
    out: dict[str, Any] = {
        "ServerCertificateMetadataList": [_metadata(row) for row in rows[:limit]],
        "IsTruncated": len(rows) > limit,
    }
    if len(rows) > limit:
        out["Marker"] = common.encode_marker(rows[limit - 1].name_lower)
    return out


@operation("iam", "UpdateServerCertificate", resource=certificate_resource)
def update_server_certificate(ctx: CallContext, params: dict[str, Any]) -> None:
    row = _require(ctx, params["ServerCertificateName"])
    new_name = params.get("NewServerCertificateName")
    new_path = params.get("NewPath")
    name = check_name(new_name, "newServerCertificateName", max_length=NAME_MAX) if new_name else row.name
    path = check_path(new_path, "newPath") if new_path else row.path
    arn = iam_arn(ctx.account_id, ARN_KIND, path, name)
    if arn == row.arn:
        return
    # IAM: the caller needs permission on the certificate under its old and its new name
    authz.check(ctx, "iam:UpdateServerCertificate", arn)
    if name.lower() != row.name_lower and _find(ctx, name) is not None:
        raise _exists(name)
    ctx.tx.execute(
        update(t.server_certificates)
        .where(_s.id == row.id)
        .values(name=name, name_lower=name.lower(), path=path, arn=arn)
    )


@operation("iam", "DeleteServerCertificate", resource=certificate_resource)
def delete_server_certificate(ctx: CallContext, params: dict[str, Any]) -> None:
    row = _require(ctx, params["ServerCertificateName"])
    common.drop_tags(ctx.tx, TAG_KIND, row.id)
    ctx.tx.execute(delete(t.server_certificates).where(_s.id == row.id))


@operation("iam", "TagServerCertificate", resource=certificate_resource)
def tag_server_certificate(ctx: CallContext, params: dict[str, Any]) -> None:
    row = _require(ctx, params["ServerCertificateName"])
    common.put_tags(ctx.tx, TAG_KIND, row.id, params["Tags"])


@operation("iam", "UntagServerCertificate", resource=certificate_resource)
def untag_server_certificate(ctx: CallContext, params: dict[str, Any]) -> None:
    row = _require(ctx, params["ServerCertificateName"])
    common.remove_tags(ctx.tx, TAG_KIND, row.id, params["TagKeys"])


@operation("iam", "ListServerCertificateTags", resource=certificate_resource)
def list_server_certificate_tags(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    row = _require(ctx, params["ServerCertificateName"])
    tags = common.get_tags(ctx.tx, TAG_KIND, row.id)
    return common.paginate(tags, params, lambda tag: tag["Key"].lower(), "Tags")
