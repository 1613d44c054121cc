"""Refresh-ahead's bounds: at most so many refreshes a second, only families it may refresh."""

from __future__ import annotations

from collabcache_api.caching.refresh_ahead import ELIGIBLE, TokenBucket
from collabcache_shared.cache.keys import POLICIES, Family


def test_the_bucket_allows_its_rate_then_refills_with_time() -> None:
    now = [0.0]
    bucket = TokenBucket(2, clock=lambda: now[0])
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    now[0] = 0.5
    assert [bucket.take() for _ in range(2)] == [True, False]
    now[0] = 100.0  # never more than one second's worth
    assert [bucket.take() for _ in range(3)] == [True, True, False]


def test_standings_and_entries_served_stale_are_not_refreshed_ahead() -> None:
    assert Family.USER_PERMISSIONS not in ELIGIBLE
    assert not {f for f in ELIGIBLE if POLICIES[f].serve_stale}
    assert {Family.STUDY_COMMENTS, Family.ORGANIZATION_MEMBERS} <= ELIGIBLE
