"""Interleavings worth a name, played step by step by the controlled scheduler over the real
`CacheManager`, Lua scripts and Redis (README, "The fenced cache protocol"); the explorers of
`test_interleavings.py` look for the ones nobody named. Actors are named by replica and order
(`A.r1`, `B.r2`), writers `W1`, the invalidator's drop of W1's commit `I.W1`; a script lists
the steps released in order (each actor must be parked at that step), then every actor runs on
in turn. Each ends with the same checks as the explorers (`Played.problems`).
"""

from __future__ import annotations

import pytest

from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.cache.store import AnyRedis
from tests.integration.cache.scheduler import script
from tests.integration.cache.test_interleavings import LOST_FENCE, without
from tests.integration.cache.world import Played, Scenario, play


def steps(*lines: str) -> list[tuple[str, str]]:
    """`steps("A.r1: start lookup", "W1: fence")`: (actor, label) pairs, released in order."""
    pairs = []
    for line in lines:
        actor, labels = line.split(":")
        pairs += [(actor, label) for label in labels.split()]
    return pairs


async def play_script(
    redis: AnyRedis, keyspace: KeySpace, scenario: Scenario, *lines: str
) -> Played:
    return await play(redis, keyspace, scenario, script(steps(*lines)))


async def test_a_joiner_that_starts_after_a_write_does_not_take_a_load_that_began_before_it(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    """A.r1 loads the standing (v0) and stalls; a write on replica B completes; A.r2 starts,
    misses and joins A.r1's flight; A.r1's fill is refused (the fence dropped its lease). A.r2
    must not answer v0: the flight was not certified after it joined, so it loads again.
    Sharing the flight's result unconditionally answers v0 there (the standing race)."""
    actors = ("A reads standing", "A reads standing", "B writes standing+members")
    script_lines = (
        "A.r1: start lookup lease read loaded",
        "W1: fence commit clear",
        "A.r2: start lookup",
        "A.r1: fill",
    )
    played = await play_script(redis, keyspace, Scenario(actors), *script_lines)
    assert not played.problems, played.describe()
    assert played.read_by("A.r2", "standing") == (1, "MISS")
    assert played.counters["A"]["flight_not_shared"] == 1

    uncertified = Scenario(actors, share_unconditionally=True)
    played = await play_script(redis, keyspace, uncertified, *script_lines)
    assert played.read_by("A.r2", "standing") == (0, "MISS")
    assert played.problems[0].startswith("STALE: A.r2 started at step 9,"), played.describe()


async def test_a_joiner_shares_a_load_whose_fill_redis_accepted_after_it_joined(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    """A.r2 joins A.r1's flight while A.r1 holds the lease; A.r1's fill lands: A.r2 answers
    with it, and the database is read once."""
    played = await play_script(
        redis,
        keyspace,
        Scenario(("A reads members", "A reads members")),
        "A.r1: start lookup lease",
        "A.r2: start lookup",
        "A.r1: read loaded fill",
    )
    assert played.read_by("A.r2") == (0, "MISS")
    assert played.counters["A"]["flight_joined"] == 1 and played.database_reads() == 1


async def test_a_joiner_shares_a_value_its_flight_looked_up_after_it_joined(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    """A.r3 joins A.r2's flight; A.r2 finds B.r1's lease and waits; B.r1 fills; A.r2's next
    lookup finds the value, which certifies the flight: A.r3 shares it (one database read)."""
    played = await play_script(
        redis,
        keyspace,
        Scenario(("B reads members", "A reads members", "A reads members")),
        "B.r1: start lookup lease",
        "A.r2: start lookup",
        "A.r3: start lookup",
        "A.r2: lease",
        "B.r1: read loaded fill",
        "A.r2: lookup",
    )
    assert played.read_by("A.r3") == (0, "MISS") and played.read_by("A.r2") == (0, "HIT"), (
        played.describe()
    )
    assert played.counters["A"]["flight_joined"] == 1 and played.database_reads() == 1


async def test_a_fill_whose_lease_a_fence_dropped_is_refused(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    """B.r1 leases and reads v0; a write fences the entry, which drops the lease: the fill is
    refused, and a read after the write loads v1."""
    played = await play_script(
        redis,
        keyspace,
        Scenario(("B reads members", "A writes members", "B reads members")),
        "B.r1: start lookup lease read loaded",
        "W1: fence",
        "B.r1: fill",
        "W1: commit clear",
        "B.r2: start lookup",
    )
    assert not played.problems, played.describe()
    assert played.counters["B"]["fill_refused"] == 1 and played.read_by("B.r2") == (1, "MISS")


async def test_a_reader_that_meets_a_fence_answers_from_the_database_and_stores_nothing(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    """While a write's fence is up, a reader is refused a lease: it answers what it reads
    (v0, the write has not completed) and stores nothing; after the clear, v1 is filled."""
    played = await play_script(
        redis,
        keyspace,
        Scenario(("A writes members", "B reads members", "B reads members")),
        "W1: fence",
        "B.r1: start lookup lease read loaded",
        "W1: commit clear",
        "B.r2: start lookup lease read loaded fill",
    )
    assert not played.problems, played.describe()
    assert played.read_by("B.r1") == (0, "MISS") and played.read_by("B.r2") == (1, "MISS")
    assert played.counters["B"]["fill_fenced"] == 1 and played.counters["B"]["fill"] == 1


async def test_the_invalidators_late_drop_leaves_the_next_writes_fence_up(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    """W1's event reaches the invalidator after W2 fenced the entry: the drop leaves W2's
    fence up, so a reader still cannot fill until W2 clears it."""
    played = await play_script(
        redis,
        keyspace,
        Scenario(("A writes members", "A writes members", "B reads members")),
        "W1: fence commit clear",
        "W2: fence",
        "I.W1: invalidate",
        "B.r1: start lookup lease read loaded",
    )
    assert not played.problems, played.describe()
    assert played.read_by("B.r1") == (1, "MISS") and played.counters["B"]["fill_fenced"] == 1


async def test_a_lost_clear_is_retried_and_the_fence_holds_until_then(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    """W1's first clear is lost: its fence stays up (readers fill nothing) until the retry."""
    played = await play_script(
        redis,
        keyspace,
        Scenario(("A writes members", "B reads members"), lose_first_clear=True),
        "W1: fence commit clear",
        "B.r1: start lookup lease read loaded",
        "W1: clear",
    )
    assert not played.problems, played.describe()
    assert played.counters["A"]["clear_retried"] == 1 and played.counters["B"]["fill_fenced"] == 1


async def test_a_writer_that_dies_after_committing_leaves_its_fence_up(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    """W1's replica dies between commit and clear: its fence stays (until it expires), the
    invalidator's drop leaves it, and readers answer from the database, storing nothing."""
    played = await play_script(
        redis,
        keyspace,
        Scenario(("A writes members dies-after-commit", "B reads members")),
        "W1: fence commit",
        "I.W1: invalidate",
    )
    assert not played.problems, played.describe()
    assert played.read_by("B.r1") == (1, "MISS") and played.counters["B"]["fill_fenced"] == 1


async def test_a_restart_that_loses_a_fence_leaves_the_clear_to_drop_a_fill_made_meanwhile(
    redis: AnyRedis, keyspace: KeySpace
) -> None:
    """Redis restarts empty after W1's fence and (the young-server check off) B.r1 leases,
    reads v0 and fills it before the commit; W1's clear drops it, so a read after W1 loads v1."""
    played = await play_script(
        redis,
        keyspace,
        Scenario(LOST_FENCE, invalidator=False, young_after_restart=False),
        "W1: fence",
        "restart: restart",
        "B.r1: start lookup lease read loaded fill",
        "W1: commit clear",
        "B.r2: start lookup",
    )
    assert not played.problems, played.describe()
    assert played.counters["B"]["fill"] == 2 and played.read_by("B.r2") == (1, "MISS")


@pytest.mark.parametrize(
    ("writer", "lose_clear"),
    [("A writes members", True), ("A writes members dies-after-commit", False)],
    ids=["clear-lost", "writer-dies"],
)
async def test_a_restarted_server_grants_no_lease_until_every_lost_fence_would_have_expired(
    redis: AnyRedis, keyspace: KeySpace, writer: str, lose_clear: bool
) -> None:
    """W1 fences, Redis restarts empty (W1's fence is gone), and W1's clear never lands (lost
    until the fence would have expired, or W1's replica dies after the commit). A young server
    refuses leases (README, "The fenced cache protocol"): B.r1 answers from the database and
    stores nothing, so B.r2, after W1, reads v1 with no invalidator to help."""
    actors = (writer, *LOST_FENCE[1:])
    played = await play_script(
        redis,
        keyspace,
        Scenario(actors, invalidator=False, lose_clear=lose_clear),
        "W1: fence",
        "restart: restart",
        "B.r1: start lookup lease read loaded",
        "W1: commit",
        "B.r2: start lookup lease read loaded",
    )
    assert not played.problems, played.describe()
    assert played.read_by("B.r2") == (1, "MISS") and played.counters["B"]["fill"] == 0


@without("no lease from a server younger than the fence period")
@pytest.mark.parametrize(
    ("writer", "lose_clear"),
    [("A writes members", True), ("A writes members dies-after-commit", False)],
    ids=["clear-lost", "writer-dies"],
)
async def test_without_the_young_server_check_a_lost_fence_and_clear_leave_a_stale_entry(
    redis: AnyRedis, keyspace: KeySpace, writer: str, lose_clear: bool
) -> None:
    """As above, but W1's clear never lands: Redis stays unreachable from W1's replica until
    the fence would have expired (W1 answers, B.r2 then hits v0), or that replica dies after
    the commit (v0 stays in Redis). Nothing in Redis remembers the lost fence, and the
    invalidator, stopped here, is the only one left to drop the entry."""
    actors = (writer, *LOST_FENCE[1:])
    played = await play_script(
        redis,
        keyspace,
        Scenario(actors, invalidator=False, lose_clear=lose_clear, young_after_restart=False),
        "W1: fence",
        "restart: restart",
        "B.r1: start lookup lease read loaded fill",
        "W1: commit",
        "B.r2: start lookup",
    )
    assert not played.problems, played.describe()
