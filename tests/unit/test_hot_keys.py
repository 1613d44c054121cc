"""`HotKeys`: what was read often lately is hot; the table never grows past its capacity."""

from __future__ import annotations

from collabcache_shared.cache.hot_keys import HotKeys


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def table(clock: Clock, capacity: int = 4) -> HotKeys[str, str]:
    return HotKeys(capacity, threshold=3, period_s=10, clock=clock)


def test_an_entry_read_threshold_times_is_hot_with_its_latest_way_to_load() -> None:
    hot = table(Clock())
    for reader in ("ann", "bob", "cy"):
        hot.note("comments", reader)
    hot.note("members", "ann")
    assert hot.hot(["members", "comments", "never-read"]) == [("comments", "cy")]


def test_the_hottest_comes_first() -> None:
    hot = table(Clock())
    for _ in range(3):
        hot.note("a", "x")
    for _ in range(5):
        hot.note("b", "y")
    assert [key for key, _ in hot.hot(["a", "b"])] == ["b", "a"]


def test_counts_halve_each_period_so_old_reads_fade() -> None:
    clock = Clock()
    hot = table(clock)
    for _ in range(4):
        hot.note("comments", "ann")
    clock.now = 10
    hot.note("other", "bob")  # the halving happens on a read: 4 -> 2
    assert hot.hot(["comments"]) == []
    clock.now = 40
    hot.note("other", "bob")
    hot.note("other", "bob")
    assert "comments" not in [k for k, _ in hot.hot(["comments"])] and len(hot) <= 2


def test_a_full_table_takes_no_new_entry_until_a_halving_frees_room() -> None:
    clock = Clock()
    hot = table(clock, capacity=2)
    hot.note("a", "x")
    hot.note("b", "x")
    for _ in range(5):
        hot.note("c", "x")
    assert len(hot) == 2 and hot.hot(["c"]) == []
    clock.now = 10
    hot.note("a", "x")  # halving: b (1 -> 0.5) stays, nothing leaves yet
    clock.now = 20
    hot.note("a", "x")  # b (0.5 -> 0.25) leaves
    for _ in range(3):
        hot.note("c", "x")
    assert hot.hot(["c"]) == [("c", "x")]
