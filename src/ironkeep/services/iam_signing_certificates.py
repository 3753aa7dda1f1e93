"""X.509 signing certificates: UploadSigningCertificate, ListSigningCertificates,
UpdateSigningCertificate, DeleteSigningCertificate.

Without ``UserName`` an operation acts on the caller's own certificates: an IAM user's, or the root
user's when root calls (stored with no user). The certificate is checked by
:mod:`ironkeep.auth.x509` (one current certificate with an RSA or ECDSA key IAM accepts); its id is
derived from the certificate itself, so the same certificate cannot be on two users of one account
(DuplicateCertificate). DeleteUser is refused while a user has certificates.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Row, delete, func, insert, select, update

from ironkeep.auth.x509 import parse_signing_certificate
from ironkeep.errors import AWSError, DeleteConflict, InvalidInput, LimitExceeded, NoSuchEntity
from ironkeep.model import User, limits
from ironkeep.services import common, iam_users
from ironkeep.services.context import CallContext
from ironkeep.services.iam_access_keys import key_owner_resource
from ironkeep.services.iam_ssh_keys import settable_status
from ironkeep.services.registry import operation
from ironkeep.store import schema as t
from ironkeep.store import users
from ironkeep.store.prepared import any_row

_c = t.signing_certificates.c


class DuplicateCertificate(AWSError):
    code = "DuplicateCertificate"
    status = 409


def _owner(ctx: CallContext, params: dict[str, Any]) -> User | None:
    """The user whose certificates the call is about; None for the root user's own."""
    name = params.get("UserName")
    if name:
        return users.require(ctx.tx, ctx.account_id, name)
    if ctx.caller.is_root:
        return None
    if ctx.caller.user_name is None or ctx.caller.kind != "IAMUser":
        raise InvalidInput("Must specify userName when calling with non-User credentials")
    return users.require(ctx.tx, ctx.account_id, ctx.caller.user_name)


def _owned_by(user: User | None) -> ColumnElement[bool]:
    return _c.user_id.is_(None) if user is None else _c.user_id == user.id


def _certificate(ctx: CallContext, user: User | None, certificate_id: str) -> Row[Any]:
    row = ctx.tx.execute(
        select(t.signing_certificates).where(
            _c.account_id == ctx.account_id, _c.id == certificate_id, _owned_by(user)
        )
    ).first()
    if row is None:
        raise NoSuchEntity(f"The Certificate with id {certificate_id} cannot be found.")
    return row


def _shape(user: User | None, row: Row[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "CertificateId": row.id,
        "CertificateBody": row.body,
        "Status": row.status,
        "UploadDate": common.utc(row.uploaded_at),
    }
    if user is not None:  # the root user's certificates carry no user name
        out["UserName"] = user.name
    return out


@operation("iam", "UploadSigningCertificate", resource=key_owner_resource)
def upload_signing_certificate(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    user = _owner(ctx, params)
    info = parse_signing_certificate(params["CertificateBody"], ctx.now)
    # PostgreSQL: uploads for one owner queue on the owner's row, so the quota holds
    if user is None:
        ctx.tx.execute(select(t.accounts.c.id).where(t.accounts.c.id == ctx.account_id).with_for_update())
    else:
        ctx.tx.execute(select(t.users.c.id).where(t.users.c.id == user.id).with_for_update())
    taken = select(_c.id).where(_c.account_id == ctx.account_id, _c.id == info.certificate_id)
    if ctx.tx.execute(taken).first():
        raise DuplicateCertificate(f"The Certificate with id {info.certificate_id} already exists.")
    count = ctx.tx.execute(
        select(func.count()).where(_c.account_id == ctx.account_id, _owned_by(user))
    ).scalar_one()
    if count >= limits.SIGNING_CERTIFICATES_PER_USER:
        raise LimitExceeded(
            f"Cannot exceed quota for SigningCertificatesPerUser: {limits.SIGNING_CERTIFICATES_PER_USER}"
        )
    ctx.tx.execute(
        insert(t.signing_certificates).values(
            account_id=ctx.account_id,
            id=info.certificate_id,
            user_id=None if user is None else user.id,
            body=info.body,
            status="Active",
            uploaded_at=ctx.now,
        )
    )
    return {"Certificate": _shape(user, _certificate(ctx, user, info.certificate_id))}


@operation("iam", "ListSigningCertificates", resource=key_owner_resource)
def list_signing_certificates(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    user = _owner(ctx, params)
    rows = ctx.tx.execute(
        select(t.signing_certificates)
        .where(_c.account_id == ctx.account_id, _owned_by(user))
        .order_by(_c.uploaded_at, _c.id)
    ).all()
    return common.paginate(
        [_shape(user, row) for row in rows],
        params,
        lambda item: f"{item['UploadDate'].isoformat()}|{item['CertificateId']}",
        "Certificates",
    )


@operation("iam", "UpdateSigningCertificate", resource=key_owner_resource)
def update_signing_certificate(ctx: CallContext, params: dict[str, Any]) -> None:
    status = settable_status(params["Status"])
    row = _certificate(ctx, _owner(ctx, params), params["CertificateId"])
    ctx.tx.execute(
        update(t.signing_certificates)
        .where(_c.account_id == ctx.account_id, _c.id == row.id)
        .values(status=status)
    )


@operation("iam", "DeleteSigningCertificate", resource=key_owner_resource)
def delete_signing_certificate(ctx: CallContext, params: dict[str, Any]) -> None:
    row = _certificate(ctx, _owner(ctx, params), params["CertificateId"])
    ctx.tx.execute(delete(t.signing_certificates).where(_c.account_id == ctx.account_id, _c.id == row.id))


def _user_has_no_signing_certificate(ctx: CallContext, row: Any) -> None:
    if any_row(ctx.tx, (_c.user_id, row.id)):
        raise DeleteConflict("Cannot delete entity, must delete signing certificates first.")


if _user_has_no_signing_certificate not in iam_users.EXTRA_DELETE_CHECKS:
    iam_users.EXTRA_DELETE_CHECKS.append(_user_has_no_signing_certificate)
