"""UTCDateTime: every time comes back aware and in UTC, the same instant that went in, on both
dialects; its one-function result processor gives what SQLAlchemy's generic chain gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeDecorator

from ironkeep.store.dialect import UTCDateTime

DIALECTS = {"sqlite": sqlite.dialect(), "postgresql": postgresql.psycopg.dialect()}
moments = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
) | st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.builds(timezone, st.integers(-14 * 60, 14 * 60).map(lambda m: timedelta(minutes=m))),
)


@settings(max_examples=300)
@given(moment=moments, dialect=st.sampled_from(sorted(DIALECTS)), offset=st.integers(-12, 12))
def test_a_time_comes_back_the_same_instant_in_utc(moment, dialect, offset) -> None:
    d = DIALECTS[dialect]
    impl = UTCDateTime().dialect_impl(d)
    stored = impl.bind_processor(d)(moment)  # SQLite: the text it keeps
    if dialect == "postgresql":
        stored = stored.astimezone(timezone(timedelta(hours=offset)))  # psycopg hands back any zone
    back = impl.result_processor(d, None)(stored)
    generic = TypeDecorator.result_processor(impl, d, None)
    assert back == moment and back.tzinfo is UTC
    assert back == (generic(stored) if generic else impl.process_result_value(stored, d))
    assert impl.result_processor(d, None)(None) is None
