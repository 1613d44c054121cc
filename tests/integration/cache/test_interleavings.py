"""Interleavings, explored: readers, writers, the invalidator and faults, stepped by a controlled
scheduler over the real `CacheManager`, the real Lua scripts and a real Redis (README, "The
fenced cache protocol"). No read that starts after a write completed may return what the
database held before it (nor anything older than a read that ended before it started
returned), and no value left in Redis may differ from the database.

Two explorers: Hypothesis drawing schedules of probabilistic concurrency testing (actor ranks
and a few change points; rich scenarios, derandomized), and every schedule within two delays
of the sequential one (small scenarios, exhaustive). Each mechanism of the protocol switched
off makes both fail (the strict xfails): a single flight that shares uncertified results, and
writes without a fence whose plain invalidation is lost. So does a fence lost with Redis's
data whose clear is lost too (a restart, then the writer's replica dies or loses Redis):
that one is a limit of the protocol, not a switch of the test.

Interleavings worth a name are played step by step in `test_interleavings_scripted.py`.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.cache.store import AnyRedis
from tests.integration.cache.scheduler import delay_bounded, delays, priorities
from tests.integration.cache.world import Scenario, play

# The explorers run on the standalone Redis only (the scripted interleavings run on both).
STANDALONE = pytest.mark.parametrize("redis_settings_for", ["standalone"], indirect=True)
DELAY_BUDGET = 2
MAX_ACTORS = 10  # ranks drawn per schedule (actors spawned later rank 0)


def without(mechanism: str) -> pytest.MarkDecorator:
    """The explorer must find a stale read or entry when `mechanism` is missing."""
    return pytest.mark.xfail(strict=True, raises=AssertionError, reason=f"without {mechanism}")


TWO_REPLICAS = (
    "A reads members",
    "A reads members",
    "A reads standing+members",
    "A writes standing+members",
    "B reads standing",
    "B reads members",
)
TWO_WRITES = (
    "A reads standing",
    "A reads standing",
    "A writes standing+members",
    "B writes standing",
    "A reads members",
    "B reads standing+members",
)
RESTART = ("A reads members", "A reads members", "A writes members", "restart", "B reads members")
DIES = (
    "A reads standing",
    "A writes standing+members dies-after-commit",
    "A reads standing",
    "B writes standing dies-before-commit",
    "B reads standing+members",
)
UNFENCED = ("A reads members", "A writes standing+members", "B reads members", "B reads standing")
LOST_FENCE = ("A writes members", "restart", "B reads members", "B reads members")
DIES_AFTER_RESTART = (
    "A writes members dies-after-commit",
    "restart",
    "B reads members",
    "B reads members",
)

EXPLORED = [
    pytest.param(Scenario(TWO_REPLICAS), id="two-replicas"),
    pytest.param(Scenario(TWO_WRITES), id="two-writes"),
    pytest.param(Scenario(RESTART, lose_first_clear=True), id="restart-and-lost-first-clear"),
    pytest.param(Scenario(DIES), id="writers-die"),
    pytest.param(
        Scenario(TWO_REPLICAS, share_unconditionally=True),
        id="uncertified-joins",
        marks=without("certified joins"),
    ),
    pytest.param(
        Scenario(UNFENCED, fenced=False, lose_invalidation=True),
        id="unfenced-lost-invalidation",
        marks=without("write fences"),
    ),
]

JOINERS = ("A reads members", "A reads members", "A writes members", "B reads members")
# The joiner spawned after the write is two delays from joining a load older than it.
JOINER_AFTER_WRITE = ("A reads members", "A writes members", "A reads members")
STANDING = ("A reads standing", "A reads standing+members", "B writes standing+members")
ENUMERATED = [
    pytest.param(Scenario(JOINERS), id="page-joiners"),
    pytest.param(Scenario(JOINER_AFTER_WRITE), id="joiner-after-write"),
    pytest.param(Scenario(STANDING), id="standing-joiners"),
    pytest.param(Scenario((*STANDING, "restart")), id="standing-restart"),
    pytest.param(Scenario(LOST_FENCE, lose_first_clear=True), id="lost-fence-first-clear-lost"),
    pytest.param(
        Scenario(JOINER_AFTER_WRITE, share_unconditionally=True),
        id="uncertified-joins",
        marks=without("certified joins"),
    ),
    pytest.param(
        Scenario(UNFENCED[:3], fenced=False, lose_invalidation=True),
        id="unfenced-lost-invalidation",
        marks=without("write fences"),
    ),
    pytest.param(
        Scenario(LOST_FENCE, invalidator=False, lose_clear=True),
        id="lost-fence-then-lost-clear",
    ),
    pytest.param(
        Scenario(DIES_AFTER_RESTART, invalidator=False),
        id="lost-fence-then-writer-dies",
    ),
    pytest.param(
        Scenario(LOST_FENCE, invalidator=False, lose_clear=True, young_after_restart=False),
        id="lost-fence-then-lost-clear-no-young-server",
        marks=without("no lease from a server younger than the fence period"),
    ),
    pytest.param(
        Scenario(DIES_AFTER_RESTART, invalidator=False, young_after_restart=False),
        id="lost-fence-then-writer-dies-no-young-server",
        marks=without("no lease from a server younger than the fence period"),
    ),
]


@STANDALONE
@pytest.mark.parametrize("scenario", EXPLORED)
@settings(
    max_examples=100,
    derandomize=True,  # the same schedules on every run
    database=None,
    deadline=None,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    ranks=st.lists(st.integers(0, 15), min_size=MAX_ACTORS, max_size=MAX_ACTORS),
    change_points=st.lists(st.integers(0, 60), max_size=4),
)
async def test_no_explored_interleaving_reads_what_a_completed_write_replaced(
    redis: AnyRedis,
    keyspace: KeySpace,
    scenario: Scenario,
    ranks: list[int],
    change_points: list[int],
) -> None:
    """Schedules of probabilistic concurrency testing: actors by rank, a few change points."""
    played = await play(redis, keyspace, scenario, priorities(ranks, change_points))
    assert not played.problems, played.describe()


@STANDALONE
@pytest.mark.parametrize("scenario", ENUMERATED)
async def test_no_schedule_within_two_delays_reads_what_a_completed_write_replaced(
    redis: AnyRedis, keyspace: KeySpace, scenario: Scenario
) -> None:
    """Every schedule at most `DELAY_BUDGET` delays away from the sequential one (a delay: the
    actor that would go on waits for the next parked one), each played once."""
    frontier: list[dict[int, int]] = [{}]
    while frontier:
        overrides = frontier.pop()
        played = await play(redis, keyspace, scenario, delays(overrides))
        assert not played.problems, played.describe()
        frontier.extend(delay_bounded(played.widths, overrides, DELAY_BUDGET))
