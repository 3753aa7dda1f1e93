"""The keys that seal STS session tokens: kept in the store (sealed by the master key), cached in
memory, rotated daily. Retired keys stay usable until every session they sealed has expired, so a
token is verified on any node without a store round trip once its key is cached."""

from __future__ import annotations

import secrets
import threading
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select, update

from ironkeep.auth.secrets import SecretBox
from ironkeep.store import schema as t

ROTATE_AFTER = timedelta(hours=24)
# the longest session (GetSessionToken / GetFederationToken: 36 hours) must outlive its key's use
KEEP_RETIRED = timedelta(hours=36) + ROTATE_AFTER


def _aad(key_id: str) -> bytes:
    return f"session-key:{key_id}".encode()


class SessionKeys:
    def __init__(self, box: SecretBox) -> None:
        self.box = box
        self._keys: dict[str, bytes] = {}
        self._current: tuple[str, datetime] | None = None
        self._lock = threading.Lock()

    def current(self, tx: Connection, now: datetime) -> tuple[str, bytes]:
        """The key new sessions are sealed with; a new one is made when the newest is a day old."""
        cached = self._current
        if cached is not None and now - cached[1] < ROTATE_AFTER:
            return cached[0], self._keys[cached[0]]
        row = tx.execute(
            select(t.session_keys)
            .where(t.session_keys.c.retired_at.is_(None))
            .order_by(t.session_keys.c.created_at.desc())
        ).first()
        if row is not None and now - row.created_at < ROTATE_AFTER:
            key = self._remember(row.id, row.key_sealed)
            self._current = (row.id, row.created_at)
            return row.id, key
        key_id, key = secrets.token_hex(8), secrets.token_bytes(32)
        tx.execute(
            insert(t.session_keys).values(
                id=key_id, key_sealed=self.box.seal(key, aad=_aad(key_id)), created_at=now, retired_at=None
            )
        )
        if row is not None:
            tx.execute(update(t.session_keys).where(t.session_keys.c.id == row.id).values(retired_at=now))
        # Not cached here: only once it is read back committed, so that a call that rolls back
        # leaves no node using a key that the store does not hold.
        return key_id, key

    def lookup(self, tx: Connection, key_id: str, now: datetime) -> bytes | None:
        """The key with that id, from memory; from the store only the first time a node sees it."""
        key = self._keys.get(key_id)
        if key is not None:
            return key
        row = tx.execute(select(t.session_keys).where(t.session_keys.c.id == key_id)).first()
        if row is None or (row.retired_at is not None and now - row.retired_at > KEEP_RETIRED):
            return None
        return self._remember(row.id, row.key_sealed)

    def _remember(self, key_id: str, sealed: bytes) -> bytes:
        key = self.box.open(sealed, aad=_aad(key_id))
        with self._lock:
            self._keys[key_id] = key
        return key
