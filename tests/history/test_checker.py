"""The history checker on hand-made histories: what it must flag, what it must not."""

from __future__ import annotations

from tests.history.history import (
    History,
    Observation,
    Outcome,
    Read,
    Report,
    Write,
    check,
    timeline,
)

U = "user-1"


def add(start: float, end: float, outcome: Outcome = Outcome.APPLIED, value: bool = True) -> Write:
    return Write("member", U, value, start, end, outcome, replica=0, status=201)


def remove(start: float, end: float, outcome: Outcome = Outcome.APPLIED) -> Write:
    return add(start, end, outcome, value=False)


def saw(value: bool, start: float, end: float, view: str = "R", user: str = U) -> Observation:
    read = Read(view, replica=1, start=start, end=end, status=200, x_cache="HIT")
    return Observation(read, user, value)


def run(writes: list[Write], *observations: Observation) -> Report:
    return check(History(t0=0.0, writes=writes, observations=list(observations)))


def test_a_read_after_a_completed_write_that_misses_it_is_stale() -> None:
    report = run([add(1.0, 1.1)], saw(False, 1.2, 1.3))
    assert len(report.stale) == 1
    assert report.checked["R"] == 1
    assert report.stale_by_view == {"R": 1}


def test_a_read_agreeing_with_the_last_completed_write_is_fresh() -> None:
    report = run([add(1.0, 1.1), remove(2.0, 2.1)], saw(True, 1.2, 1.3), saw(False, 2.2, 2.3))
    assert report.stale == []
    assert report.checked["R"] == 2


def test_before_any_write_the_register_is_absent() -> None:
    report = run([], saw(True, 0.1, 0.2, view="M"), saw(False, 0.3, 0.4, view="F"))
    assert [f.observation.read.view for f in report.stale] == ["M"]


def test_a_read_overlapping_a_write_is_not_judged() -> None:
    # started before the write answered, or ended after the write began: either value is fine
    report = run([add(1.0, 1.1)], saw(False, 1.05, 1.2), saw(True, 0.9, 1.05))
    assert report.stale == []
    assert report.skipped["in flight"] == 2
    assert sum(report.checked.values()) == 0


def test_a_read_that_started_before_the_response_is_not_held_to_it() -> None:
    # the read began 1 ms before the write returned and ended after: in flight, not stale
    report = run([add(1.0, 1.1)], saw(False, 1.099, 1.2))
    assert report.stale == []


def test_an_unknown_outcome_makes_the_register_ambiguous_until_the_next_applied_write() -> None:
    writes = [add(1.0, 1.1, Outcome.UNKNOWN), remove(2.0, 2.1)]
    ambiguous = [saw(True, 1.5, 1.6), saw(False, 1.7, 1.8)]
    after = saw(True, 2.2, 2.3)  # the removal completed: this one is stale
    report = run(writes, *ambiguous, after)
    assert report.skipped["ambiguous"] == 2
    assert len(report.stale) == 1
    assert report.stale[0].observation is after


def test_a_conflict_also_leaves_the_register_ambiguous() -> None:
    writes = [add(1.0, 1.1, Outcome.CONFLICT)]
    report = run(writes, saw(True, 1.5, 1.6), saw(False, 1.7, 1.8))
    assert report.stale == [] and report.skipped["ambiguous"] == 2


def test_writes_that_were_not_applied_change_nothing() -> None:
    writes = [add(1.0, 1.1), remove(2.0, 2.1, Outcome.NOT_APPLIED)]
    report = run(writes, saw(True, 2.2, 2.3), saw(False, 2.4, 2.5))
    assert len(report.stale) == 1
    assert report.stale[0].observation.value is False


def test_a_503_that_was_applied_after_all_is_reported_apart() -> None:
    writes = [add(1.0, 1.1), remove(2.0, 2.1, Outcome.REFUSED)]
    report = run(writes, saw(True, 2.2, 2.3), saw(False, 2.4, 2.5))
    assert report.stale == []
    assert len(report.applied_503) == 1
    assert report.applied_503[0].kind == "503 applied"


def test_a_conflict_right_after_a_503_of_the_same_value_is_a_503_applied() -> None:
    writes = [remove(2.0, 2.1, Outcome.REFUSED), remove(2.2, 2.3, Outcome.CONFLICT)]
    writes.insert(0, add(1.0, 1.1))
    report = run(writes)
    assert len(report.conflicts_after_503) == 1


def test_registers_are_per_view_kind_and_per_user() -> None:
    collab = Write("collab", U, True, 1.0, 1.1, Outcome.APPLIED, replica=0)
    other_user = Write("member", "user-2", True, 1.0, 1.1, Outcome.APPLIED, replica=0)
    report = run([collab, other_user], saw(False, 1.2, 1.3, view="M"), saw(True, 1.2, 1.3, "C"))
    assert report.stale == []
    assert report.checked == {"M": 1, "C": 1}


def test_the_timeline_names_the_read_its_replica_and_the_writes_around_it() -> None:
    report = run([remove(0.5, 0.6), add(1.0, 1.1)], saw(False, 1.2, 1.3))
    text = timeline(report.stale[0], t0=0.0)
    assert "STALE: view R" in text and "replica 1" in text and "X-Cache HIT" in text
    assert "100.0 ms after the last applied write returned" in text
    assert "*write member=True" in text and "write member=False" in text
