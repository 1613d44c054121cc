"""Keys made from one UUID are reused (the invalidator makes the same ones over and over):
a reused key is the same key, and identifiers are still validated."""

from __future__ import annotations

import uuid

import pytest

from collabcache_shared.cache import keys
from collabcache_shared.cache.keys import (
    SCHEMA_VERSION,
    CacheKey,
    Family,
    InvalidIdentifier,
    KeySpace,
)


def test_a_reused_key_is_equal_to_one_made_from_the_text() -> None:
    org = uuid.uuid4()

    made = CacheKey.of(Family.ORGANIZATION_ANALYTICS, org)

    assert made is CacheKey.of(Family.ORGANIZATION_ANALYTICS, uuid.UUID(str(org)))
    assert made == CacheKey.of(Family.ORGANIZATION_ANALYTICS, str(org).upper())
    assert made != CacheKey.of(Family.ORGANIZATION_MEMBERS, org)
    assert KeySpace("p").entry(made) == f"p:v{SCHEMA_VERSION}:{{org:{org}:analytics}}"


def test_the_reuse_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys, "_ONE_ID_KEYS", {})
    monkeypatch.setattr(keys, "_ONE_ID_KEYS_SIZE", 3)
    ids = [uuid.uuid4() for _ in range(10)]

    made = [CacheKey.of(Family.TEAM_MEMBERS, i) for i in ids]

    assert len(keys._ONE_ID_KEYS) <= 3
    assert [k.ids for k in made] == [(str(i),) for i in ids]


@pytest.mark.parametrize("bad", ["*", "x:{y}", "", "1234"])
def test_identifiers_are_still_validated(bad: str) -> None:
    with pytest.raises(InvalidIdentifier):
        CacheKey.of(Family.TEAM_MEMBERS, bad)
    with pytest.raises(InvalidIdentifier):
        CacheKey.of(Family.TEAM_MEMBERS, uuid.uuid4(), uuid.uuid4())
