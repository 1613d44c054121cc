"""Sample domain events (every payload type and its fan-out variants) and fakes of the
invalidator's dependencies, for its unit and integration tests."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable

from collabcache_invalidator.batches import BatchApplier
from collabcache_invalidator.decoding import Delivery
from collabcache_invalidator.handlers import Report
from collabcache_invalidator.metrics import InvalidatorMetrics
from collabcache_invalidator.settlement import Settlement
from collabcache_invalidator.tracing import EventTracing
from collabcache_shared.cache.keys import CacheKey
from collabcache_shared.cache.store import Certificates
from collabcache_shared.events import (
    CollaborationChanged,
    CommentChanged,
    DomainEvent,
    MembershipChanged,
    OrganizationChanged,
    StudyChanged,
    TeamChanged,
    TeamMembershipChanged,
)
from collabcache_shared.streams.group import Fields


def ids(n: int) -> list[uuid.UUID]:
    return [uuid.uuid4() for _ in range(n)]


def sample_payloads() -> dict[str, object]:
    org, study, team, user, comment = ids(5)
    return {
        "membership.added": MembershipChanged(organization_id=org, user_id=user, change="added"),
        "membership.removed_with_teams": MembershipChanged(
            organization_id=org, user_id=user, change="removed", team_ids=ids(2)
        ),
        "organization.renamed": OrganizationChanged(
            organization_id=org, change="renamed", member_ids=ids(2)
        ),
        "organization.deleted": OrganizationChanged(
            organization_id=org, change="deleted", member_ids=ids(3)
        ),
        "team.created": TeamChanged(organization_id=org, team_id=team, change="created"),
        "team.deleted": TeamChanged(
            organization_id=org, team_id=team, change="deleted", member_ids=ids(2)
        ),
        "team_membership.added": TeamMembershipChanged(
            organization_id=org, team_id=team, user_id=user, change="added"
        ),
        "study.updated": StudyChanged(
            organization_id=org, study_id=study, change="updated", collaborator_ids=ids(2)
        ),
        "study.deleted": StudyChanged(
            organization_id=org, study_id=study, change="deleted", collaborator_ids=ids(1)
        ),
        "collaboration.role_changed": CollaborationChanged(
            organization_id=org, study_id=study, user_id=user, change="role_changed"
        ),
        "comment.added": CommentChanged(
            organization_id=org,
            study_id=study,
            comment_id=comment,
            author_id=user,
            change="added",
            author_team_ids=ids(2),
        ),
    }


def sample_events() -> dict[str, DomainEvent]:
    return {name: DomainEvent(payload=p) for name, p in sample_payloads().items()}


class RecordingStore:
    """An entry store holding a set of live keys; records every invalidation call."""

    def __init__(self, live: Iterable[CacheKey] = ()) -> None:
        self.live = set(live)
        self.calls: list[tuple[set[CacheKey], int]] = []
        self.certificates: list[Certificates | None] = []

    async def invalidate(
        self, keys: Iterable[CacheKey], now_ms: int, certified: Certificates | None = None
    ) -> int:
        batch = set(keys)
        self.calls.append((batch, now_ms))
        self.certificates.append(certified)
        self.live -= batch
        return len(batch)


class FailingStore:
    """An entry store whose every invalidation fails (Redis down, a bug...)."""

    def __init__(self) -> None:
        self.attempts = 0

    async def invalidate(
        self, keys: Iterable[CacheKey], now_ms: int, certified: Certificates | None = None
    ) -> int:
        self.attempts += 1
        raise RuntimeError("the entry store is broken")


class RecordingStreamOps:
    """The stream side of a settlement: records acks and dead letters."""

    def __init__(self, deliveries: int = 1) -> None:
        self.delivery_count = deliveries
        self.acked: list[bytes] = []
        self.dead: list[dict[str, object]] = []

    async def ack(self, *entry_ids: bytes) -> None:
        self.acked.extend(entry_ids)

    async def deliveries(self, entry_id: bytes) -> int:
        return self.delivery_count

    async def dead_letter(
        self, entry_id: bytes, fields: Fields, *, reason: str, error: str, deliveries: int
    ) -> None:
        self.dead.append(
            {
                "id": entry_id,
                "fields": dict(fields),
                "reason": reason,
                "error": error,
                "deliveries": deliveries,
            }
        )


def batch_applier(
    store: RecordingStore,
    report: Report | None = None,
    clock: Callable[[], float] = time.time,
) -> tuple[BatchApplier, RecordingStreamOps, InvalidatorMetrics]:
    """The invalidator's `BatchApplier` over `store`, with recording stream operations (three
    deliveries allowed) and metrics of its own."""
    ops, metrics = RecordingStreamOps(), InvalidatorMetrics()
    settlement = Settlement(ops, 3, metrics)
    applier = BatchApplier(store, metrics, settlement, EventTracing(), report, clock)
    return applier, ops, metrics


def delivery(entry_id: bytes, event: DomainEvent) -> Delivery:
    return Delivery(entry_id, {b"k": entry_id}, event)
