"""The credential report: GenerateCredentialReport and GetCredentialReport.

AWS keeps one report per account and regenerates it at most every four hours. Ironkeep computes
the report inside the GenerateCredentialReport call itself, so every call gives a fresh report:
the first call in an account answers ``STARTED`` (AWS's words for "there was no report"), later
ones ``COMPLETE``; GetCredentialReport works right after either. A report is kept in
``report_jobs`` (kind ``credential-report``, the CSV text as ``result``) and served for four hours,
then GetCredentialReport answers ``ReportExpired``.

:func:`render_csv` is pure: it turns :class:`Subject` records (root first, then the users) into
AWS's CSV, with AWS's 22 columns and value conventions. :func:`collect` reads them from the store.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from ironkeep.errors import AWSError
from ironkeep.model.arns import root_arn
from ironkeep.services import common
from ironkeep.services.context import CallContext
from ironkeep.services.registry import operation
from ironkeep.store import accounts, rows
from ironkeep.store import schema as t

KIND = "credential-report"
REPORT_FORMAT = "text/csv"
REPORT_LIFETIME = timedelta(hours=4)
ROOT_NAME = "<root_account>"
STARTED_DESCRIPTION = "No report exists. Starting a new report generation task"

HEADER = (
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
    "access_key_2_last_used_region",
    "access_key_2_last_used_service",
    "cert_1_active",
    "cert_1_last_rotated",
    "cert_2_active",
    "cert_2_last_rotated",
)

NOT_APPLICABLE = "N/A"
NOT_SUPPORTED = "not_supported"
NO_INFORMATION = "no_information"


class ReportNotPresent(AWSError):
    code = "ReportNotPresent"
    status = 410


class ReportExpired(AWSError):
    code = "ReportExpired"
    status = 410


class ReportInProgress(AWSError):
    code = "ReportInProgress"
    status = 404


# ---------------------------------------------------------------------------------------------
# the report itself (pure)


@dataclass(frozen=True, slots=True)
class Credential:
    """An access key or a signing certificate, as the report sees it."""

    active: bool
    created: datetime
    last_used: datetime | None = None
    last_used_region: str | None = None
    last_used_service: str | None = None


@dataclass(frozen=True, slots=True)
class Subject:
    """One row: the root user (``is_root``) or an IAM user. ``password_changed`` is None when the
    user has no password (no login profile); ``keys`` and ``certs`` are in creation order."""

    name: str
    arn: str
    created: datetime
    is_root: bool = False
    password_changed: datetime | None = None
    password_last_used: datetime | None = None
    mfa_active: bool = False
    keys: Sequence[Credential] = field(default_factory=tuple)
    certs: Sequence[Credential] = field(default_factory=tuple)


def iso(value: datetime) -> str:
    """AWS's report time: ISO 8601 to the second, with the UTC offset written ``+00:00``."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0).isoformat()


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _key_columns(key: Credential | None) -> list[str]:
    if key is None:
        return ["false", NOT_APPLICABLE, NOT_APPLICABLE, NOT_APPLICABLE, NOT_APPLICABLE]
    if key.last_used is None:
        used = [NOT_APPLICABLE, NOT_APPLICABLE, NOT_APPLICABLE]
    else:
        used = [
            iso(key.last_used),
            key.last_used_region or NOT_APPLICABLE,
            key.last_used_service or NOT_APPLICABLE,
        ]
    return [_bool(key.active), iso(key.created), *used]


def _cert_columns(cert: Credential | None) -> list[str]:
    if cert is None:
        return ["false", NOT_APPLICABLE]
    return [_bool(cert.active), iso(cert.created)]


def _password_columns(subject: Subject, max_password_age: int | None) -> list[str]:
    if subject.is_root:
        used = iso(subject.password_last_used) if subject.password_last_used else NO_INFORMATION
        return [NOT_SUPPORTED, used, NOT_SUPPORTED, NOT_SUPPORTED]
    if subject.password_changed is None:
        return ["false", NOT_APPLICABLE, NOT_APPLICABLE, NOT_APPLICABLE]
    used = iso(subject.password_last_used) if subject.password_last_used else NO_INFORMATION
    if max_password_age:
        rotation = iso(subject.password_changed + timedelta(days=max_password_age))
    else:
        rotation = NOT_APPLICABLE
    return ["true", used, iso(subject.password_changed), rotation]


def report_row(subject: Subject, max_password_age: int | None) -> list[str]:
    keys = [*subject.keys[:2], None, None][:2]
    certs = [*subject.certs[:2], None, None][:2]
    return [
        subject.name,
        subject.arn,
        iso(subject.created),
        *_password_columns(subject, max_password_age),
        _bool(subject.mfa_active),
        *_key_columns(keys[0]),
        *_key_columns(keys[1]),
        *_cert_columns(certs[0]),
        *_cert_columns(certs[1]),
    ]


def render_csv(subjects: Iterable[Subject], max_password_age: int | None) -> str:
    """The report: AWS's header, then one line per subject (root first), ``\\n`` line ends."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for subject in subjects:
        writer.writerow(report_row(subject, max_password_age))
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# reading the account


def _credentials(
    tx: Connection, table: Any, account_id: str, created: Any
) -> dict[str | None, list[Credential]]:
    """Access keys or signing certificates of the account by owner (None: root), oldest first."""
    c = table.c
    found: dict[str | None, list[Credential]] = {}
    for row in tx.execute(select(table).where(c.account_id == account_id).order_by(created, c.id)):
        mapping = row._mapping
        found.setdefault(row.user_id, []).append(
            Credential(
                active=row.status == "Active",
                created=common.utc(mapping[created.key]),  # type: ignore[arg-type]
                last_used=common.utc(mapping.get("last_used_at")),
                last_used_region=mapping.get("last_used_region"),
                last_used_service=mapping.get("last_used_service"),
            )
        )
    return found


def collect(tx: Connection, account_id: str) -> tuple[list[Subject], int | None]:
    """The account's root user and IAM users (by name), and the password policy's MaxPasswordAge."""
    account = accounts.require(tx, account_id)
    keys = _credentials(tx, t.access_keys, account_id, t.access_keys.c.created_at)
    certs = _credentials(tx, t.signing_certificates, account_id, t.signing_certificates.c.uploaded_at)
    d = t.mfa_devices.c
    mfa_rows = tx.execute(
        select(d.user_id, d.assigned_to_root).where(d.account_id == account_id, d.enabled_at.is_not(None))
    ).all()
    mfa_users = {row.user_id for row in mfa_rows if row.user_id is not None}
    root = Subject(
        name=ROOT_NAME,
        arn=root_arn(account_id),
        created=account.created,
        is_root=True,
        mfa_active=any(row.assigned_to_root for row in mfa_rows),
        keys=tuple(keys.get(None, ())),
        certs=tuple(certs.get(None, ())),
    )
    u, lp = t.users.c, t.login_profiles.c
    query = (
        select(u.id, u.name, u.arn, u.created_at, u.password_last_used, lp.password_changed_at)
        .outerjoin(t.login_profiles, lp.user_id == u.id)
        .where(u.account_id == account_id)
        .order_by(u.name_lower)
    )
    subjects = [root]
    for row in tx.execute(query):
        subjects.append(
            Subject(
                name=row.name,
                arn=row.arn,
                created=common.utc(row.created_at),  # type: ignore[arg-type]
                password_changed=common.utc(row.password_changed_at),
                password_last_used=common.utc(row.password_last_used),
                mfa_active=row.id in mfa_users,
                keys=tuple(keys.get(row.id, ())),
                certs=tuple(certs.get(row.id, ())),
            )
        )
    policy = account.password_policy
    return subjects, policy.max_password_age if policy is not None else None


# ---------------------------------------------------------------------------------------------
# operations


def _report_id(account_id: str) -> str:
    return f"{KIND}:{account_id}"


def _account_resource(ctx: CallContext, params: dict[str, Any]) -> str:
    return "*"


@operation("iam", "GenerateCredentialReport", resource=_account_resource, read_only=False)
def generate_credential_report(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    rows.lock_row(ctx.tx, t.accounts, ctx.account_id)  # one report per account, even under races
    jobs = t.report_jobs.c
    mine = (jobs.account_id == ctx.account_id, jobs.kind == KIND)
    existed = ctx.tx.execute(select(jobs.id).where(*mine)).first() is not None
    subjects, max_age = collect(ctx.tx, ctx.account_id)
    ctx.tx.execute(delete(t.report_jobs).where(*mine))
    ctx.tx.execute(
        insert(t.report_jobs).values(
            id=_report_id(ctx.account_id),
            account_id=ctx.account_id,
            kind=KIND,
            subject=None,
            status="COMPLETE",
            created_at=ctx.now,
            completed_at=ctx.now,
            result=render_csv(subjects, max_age),
        )
    )
    if existed:
        return {"State": "COMPLETE"}
    return {"State": "STARTED", "Description": STARTED_DESCRIPTION}


@operation("iam", "GetCredentialReport", resource=_account_resource)
def get_credential_report(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    jobs = t.report_jobs.c
    row = ctx.tx.execute(
        select(t.report_jobs).where(jobs.account_id == ctx.account_id, jobs.kind == KIND)
    ).first()
    if row is None:
        raise ReportNotPresent(
            "The request was rejected because the credential report does not exist. "
            "To generate a credential report, use GenerateCredentialReport."
        )
    if row.status != "COMPLETE" or row.result is None:
        raise ReportInProgress(
            "The request was rejected because the credential report is still being generated."
        )
    generated: datetime = common.utc(row.completed_at or row.created_at)  # type: ignore[assignment]
    if ctx.now - generated > REPORT_LIFETIME:
        raise ReportExpired(
            "The request was rejected because the most recent credential report has expired. "
            "To generate a new credential report, use GenerateCredentialReport."
        )
    return {"Content": row.result.encode("utf-8"), "ReportFormat": REPORT_FORMAT, "GeneratedTime": generated}
