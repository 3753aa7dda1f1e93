"""Writing the audit trail: one CloudTrail record per call, in the call's own transaction.

A successful call's record is inserted in the same transaction as its change, so a committed
change always has its record. A failed call (authentication, validation, authorization, or the
handler's own error) rolled its transaction back; its record is written in a transaction of its
own. Records are built by :mod:`ironkeep.audit.records`, which removes every secret.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, insert

from ironkeep.audit import records
from ironkeep.audit.lookup import index_fields
from ironkeep.services.context import Caller
from ironkeep.store import schema as t

_TYPES = {"Root", "IAMUser", "AssumedRole", "FederatedUser", "WebIdentityUser", "SAMLUser"}


def audit_caller(caller: Caller | None) -> records.Caller | None:
    """The record's ``userIdentity`` for an authenticated caller (None: authentication failed)."""
    if caller is None or caller.kind == "Anonymous":
        return None
    session = caller.session
    issuer = None
    created = None
    mfa = False
    source_identity = None
    if session is not None:
        created = session.issued_at
        mfa = session.mfa_authenticated
        source_identity = session.source_identity
        if session.role_arn:
            issuer = records.SessionIssuer(
                type="Role",
                principal_id=session.issuer_id or "",
                arn=session.role_arn,
                account_id=session.account_id,
                user_name=session.role_arn.rsplit("/", 1)[-1],
            )
    return records.Caller(
        type=caller.kind if caller.kind in _TYPES else "Unknown",
        principal_id=caller.principal_id,
        arn=caller.arn,
        account_id=caller.account_id,
        user_name=caller.user_name,
        session_issuer=issuer,
        session_created=created,
        mfa_authenticated=mfa,
        source_identity=source_identity,
    )


def build(
    *,
    service: str,
    operation: str,
    now: datetime,
    request_id: str,
    account_id: str,
    read_only: bool,
    caller: Caller | None,
    access_key_id: str | None,
    parameters: dict[str, Any] | None,
    output: dict[str, Any] | None,
    error: Any = None,
    region: str = "",
    source_ip: str = "",
    user_agent: str = "",
) -> dict[str, Any]:
    return records.build_record(
        records.CallRecordInput(
            service=service,
            operation=operation,
            time=now,
            request_id=request_id,
            recipient_account_id=account_id,
            read_only=read_only,
            parameters=parameters or {},
            output=output,
            error_code=getattr(error, "code", None),
            error_message=getattr(error, "message", None),
            caller=audit_caller(caller),
            access_key_id=access_key_id,
            region=region,
            source_ip=source_ip,
            user_agent=user_agent,
        )
    )


def write(tx: Connection, record: dict[str, Any]) -> None:
    fields = index_fields(record)
    tx.execute(
        insert(t.audit_events).values(
            event_id=fields["event_id"],
            account_id=fields["account_id"] or "",
            event_time=fields["event_time"],
            event_name=fields["event_name"] or "",
            event_source=fields["event_source"] or "",
            username=fields["username"],
            access_key_id=fields["access_key_id"],
            read_only=fields["read_only"],
            error_code=record.get("errorCode"),
            record=orjson.dumps(record).decode(),
        )
    )
    names = [("username", name) for name in fields["usernames"]]
    names += [("resource_type", value) for value in fields["resource_types"]]
    names += [("resource_name", value) for value in fields["resource_names"]]
    if names:
        tx.execute(
            insert(t.audit_event_names),
            [
                {"event_id": fields["event_id"], "kind": kind, "value": value}
                for kind, value in dict.fromkeys(names)
            ],
        )
