"""How long the audit trail is kept: ``IRONKEEP_AUDIT_RETENTION_DAYS`` (default 90, as CloudTrail's
event history); ``0`` keeps every event.

:func:`prune` deletes the events older than the retention period, with their names, in batches
of their own transactions (a SQLite writer is never held up for long). :class:`Pruner` runs it
at start and then once an hour in a daemon thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select

from ironkeep.store import schema as t

log = logging.getLogger("ironkeep.audit")

RETENTION_ENV = "IRONKEEP_AUDIT_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 90
PRUNE_INTERVAL = timedelta(hours=1)
BATCH = 2000


class RetentionSettingError(ValueError):
    """``IRONKEEP_AUDIT_RETENTION_DAYS`` is not a whole number of days ≥ 0 (a start-up error)."""


def retention_days(env: Mapping[str, str]) -> int:
    """The retention period in days from ``env`` (0: keep every event)."""
    raw = env.get(RETENTION_ENV, "").strip()
    if not raw:
        return DEFAULT_RETENTION_DAYS
    try:
        days = int(raw)
    except ValueError:
        raise RetentionSettingError(f"{RETENTION_ENV} must be a whole number of days, not {raw!r}") from None
    if days < 0:
        raise RetentionSettingError(f"{RETENTION_ENV} must be 0 (keep every event) or more, not {days}")
    return days


def prune(store: Any, now: datetime, days: int, *, batch: int = BATCH) -> int:
    """Delete the events (and their ``audit_event_names`` rows) older than ``days`` days before
    ``now``, in every account; return how many records. ``days == 0`` deletes nothing."""
    if days <= 0:
        return 0
    cutoff = now - timedelta(days=days)
    events, names = t.audit_events, t.audit_event_names
    # a row holds a record or a run of them, one per line (record_texts): count the lines
    record = events.c.record
    held = func.length(record) - func.length(func.replace(record, "\n", "")) + 1
    oldest = select(events.c.event_id, held).where(events.c.event_time < cutoff).limit(batch)
    removed = 0
    while True:
        with store.transaction(write=True) as tx:
            rows = tx.execute(oldest).all()
            ids = [event_id for event_id, _ in rows]
            if ids:
                tx.execute(delete(names).where(names.c.event_id.in_(ids)))
                tx.execute(delete(events).where(events.c.event_id.in_(ids)))
        removed += sum(count for _, count in rows)
        if len(rows) < batch:
            return removed


class Pruner:
    """Runs :func:`prune` now and then every ``interval`` until :meth:`stop`."""

    def __init__(
        self,
        store: Any,
        days: int,
        *,
        clock: Callable[[], datetime] | None = None,
        interval: timedelta = PRUNE_INTERVAL,
    ) -> None:
        self.store = store
        self.days = days
        self.clock = clock or (lambda: datetime.now(UTC))
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ironkeep-audit-retention", daemon=True)

    def start(self) -> Pruner:
        if self.days > 0:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                removed = prune(self.store, self.clock(), self.days)
                if removed:
                    log.info("audit retention: deleted %d events older than %d days", removed, self.days)
            except Exception:
                log.exception("audit retention: pruning failed")
            self._stop.wait(self.interval.total_seconds())
