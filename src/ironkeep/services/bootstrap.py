"""First start: create the account and its root credentials.

Root credentials come from ``IRONKEEP_ROOT_ACCESS_KEY_ID`` / ``IRONKEEP_ROOT_SECRET_ACCESS_KEY``
when set; otherwise a key is generated and written once, 0600, to ``root-credentials`` in the
data directory, in the AWS CLI's credentials-file format (profile ``ironkeep``).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select

from ironkeep.auth.keys import new_access_key_id, new_secret_access_key
from ironkeep.auth.secrets import SecretBox, write_secret_file
from ironkeep.services.principals import secret_aad
from ironkeep.store import schema as t

CREDENTIALS_FILE = "root-credentials"


def create_account(tx: Connection, account_id: str | None, now: datetime) -> str:
    account_id = account_id or str(secrets.randbelow(9 * 10**11) + 10**11)
    tx.execute(insert(t.accounts).values(id=account_id, created_at=now, generation=0))
    return account_id


def add_root_key(
    tx: Connection, box: SecretBox, account_id: str, key_id: str, secret: str, now: datetime
) -> None:
    tx.execute(
        insert(t.access_keys).values(
            id=key_id,
            account_id=account_id,
            user_id=None,
            secret_sealed=box.seal(secret.encode(), aad=secret_aad(key_id)),
            status="Active",
            created_at=now,
        )
    )


def ensure_account(store: Any, box: SecretBox, settings: Any) -> str:
    """Make sure the first account and its root key exist; return the account id."""
    now = datetime.now(UTC)
    with store.transaction() as tx:
        account_id = tx.execute(select(t.accounts.c.id).order_by(t.accounts.c.created_at).limit(1)).scalar()
        created = account_id is None
        if created:
            account_id = create_account(tx, settings.account_id, now)
        if settings.root_access_key_id:
            exists = tx.execute(
                select(t.access_keys.c.id).where(t.access_keys.c.id == settings.root_access_key_id)
            ).first()
            if exists is None:
                add_root_key(
                    tx, box, account_id, settings.root_access_key_id, settings.root_secret_access_key, now
                )
            return account_id
        if created:
            key_id, secret = new_access_key_id(), new_secret_access_key()
            add_root_key(tx, box, account_id, key_id, secret, now)
            path = Path(settings.data_dir) / CREDENTIALS_FILE
            write_secret_file(
                path,
                f"[ironkeep]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n",
            )
            print(
                f"ironkeep: account {account_id} created; root credentials written to {path} (mode 0600)",
                flush=True,
            )
    return account_id
