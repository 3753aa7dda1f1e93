"""Property: for any set of names and any page size, Marker pages list every entity exactly
once, by name regardless of case, on both dialects."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest_store import NOW
from ironkeep.store import groups

NAME = st.text(alphabet="aAbBzZ09_+=,.@-", min_size=1, max_size=6)


class _Rollback(Exception):
    pass


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(NAME, max_size=12, unique_by=str.lower), page_size=st.integers(1, 5))
def test_pages_cover_every_group_once_in_order(store, account, names: list[str], page_size: int) -> None:
    try:
        with store.transaction() as tx:
            for n, name in enumerate(names):
                groups.create(tx, account, name, "/", f"AGPA{n:017d}", NOW)
            seen, marker = [], None
            while True:
                page, marker = groups.list(tx, account, marker=marker, max_items=page_size)
                assert len(page) <= page_size
                seen += [g.name for g in page]
                if marker is None:
                    break
            assert seen == sorted(names, key=str.lower)
            raise _Rollback
    except _Rollback:
        pass
