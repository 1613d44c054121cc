"""Every event schema of collabcache, versioned, with the streams and groups that carry them.

Domain events describe a committed change and carry the identifiers its cache invalidation
fans out to (an organization's members, a study's collaborators...), so a consumer needs no
database. Cache events describe one cache lookup, and `InvalidationApplied` one domain event the
invalidator applied, both for the metrics service.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

# Stream names are relative to the deployment's key prefix (`KeySpace.stream(...)`).
DOMAIN_EVENTS_STREAM = "stream:domain-events"
DOMAIN_EVENTS_DEAD_LETTER_STREAM = "stream:domain-events:dead-letter"
CACHE_EVENTS_STREAM = "stream:cache-events"
# One `InvalidationApplied` per domain event the invalidator applied, for the metrics service.
INVALIDATION_EVENTS_STREAM = "stream:invalidations"
INVALIDATOR_GROUP = "invalidator"
METRICS_GROUP = "metrics"


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class MembershipChanged(_Payload):
    type: Literal["membership.changed.v1"] = "membership.changed.v1"
    organization_id: uuid.UUID
    user_id: uuid.UUID
    change: Literal["added", "role_changed", "removed"]
    # teams of the organization the user was removed from along with the membership
    team_ids: list[uuid.UUID] = Field(default_factory=list)


class OrganizationChanged(_Payload):
    type: Literal["organization.changed.v1"] = "organization.changed.v1"
    organization_id: uuid.UUID
    change: Literal["created", "renamed", "deleted"]
    member_ids: list[uuid.UUID] = Field(default_factory=list)


class TeamChanged(_Payload):
    type: Literal["team.changed.v1"] = "team.changed.v1"
    organization_id: uuid.UUID
    team_id: uuid.UUID
    change: Literal["created", "renamed", "deleted"]
    # on deletion: the organization's members, whose cached standing on the team goes with it
    member_ids: list[uuid.UUID] = Field(default_factory=list)


class TeamMembershipChanged(_Payload):
    type: Literal["team_membership.changed.v1"] = "team_membership.changed.v1"
    organization_id: uuid.UUID
    team_id: uuid.UUID
    user_id: uuid.UUID
    change: Literal["added", "removed"]


class StudyChanged(_Payload):
    type: Literal["study.changed.v1"] = "study.changed.v1"
    organization_id: uuid.UUID
    study_id: uuid.UUID
    change: Literal["created", "updated", "deleted"]
    collaborator_ids: list[uuid.UUID] = Field(default_factory=list)


class CollaborationChanged(_Payload):
    type: Literal["collaboration.changed.v1"] = "collaboration.changed.v1"
    organization_id: uuid.UUID
    study_id: uuid.UUID
    user_id: uuid.UUID
    change: Literal["added", "role_changed", "removed"]


class CommentChanged(_Payload):
    type: Literal["comment.changed.v1"] = "comment.changed.v1"
    organization_id: uuid.UUID
    study_id: uuid.UUID
    comment_id: uuid.UUID
    author_id: uuid.UUID | None
    change: Literal["added", "edited", "resolved", "reopened", "deleted"]
    # the author's teams in the study's organization (their team analytics change)
    author_team_ids: list[uuid.UUID] = Field(default_factory=list)


class UserChanged(_Payload):
    """A user deleted (by hand: the API deletes no user); their tokens are refused from then
    on, which drops what is cached for them."""

    type: Literal["user.changed.v1"] = "user.changed.v1"
    user_id: uuid.UUID
    change: Literal["deleted"]


DomainPayload = Annotated[
    MembershipChanged
    | OrganizationChanged
    | TeamChanged
    | TeamMembershipChanged
    | StudyChanged
    | CollaborationChanged
    | CommentChanged
    | UserChanged,
    Field(discriminator="type"),
]


class DomainEvent(BaseModel):
    """The envelope on the stream."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    source: str = "api"
    traceparent: str | None = None
    payload: DomainPayload

    @property
    def type(self) -> str:
        return self.payload.type


class CacheEvent(BaseModel):
    """One cache lookup, as the metrics service aggregates it."""

    model_config = ConfigDict(frozen=True)

    type: Literal["cache.lookup.v1"] = "cache.lookup.v1"
    at_ms: int
    endpoint: str  # the route template, never a raw path
    family: str
    outcome: Literal["HIT", "MISS", "BYPASS", "STALE"]
    latency_ms: float
    size: int


class InvalidationApplied(BaseModel):
    """One domain event applied by the invalidator, as the metrics service aggregates it."""

    model_config = ConfigDict(frozen=True)

    type: Literal["invalidation.applied.v1"] = "invalidation.applied.v1"  # INVALIDATION_APPLIED
    at_ms: int  # when its cache entries were invalidated
    event_type: str  # the domain event's type, e.g. "membership.changed.v1"
    keys: int  # how many cache entries it invalidated
    lag_ms: float  # from the change (`DomainEvent.occurred_at`) to `at_ms`


INVALIDATION_APPLIED = "invalidation.applied.v1"


def invalidation_applied_json(at_ms: int, event_type: str, keys: int, lag_ms: float) -> bytes:
    """`InvalidationApplied(...).model_dump_json()`, as bytes, without building the model (the
    invalidator reports every event it applies); the same fields in the same order."""
    return orjson.dumps(
        {
            "type": INVALIDATION_APPLIED,
            "at_ms": at_ms,
            "event_type": event_type,
            "keys": keys,
            "lag_ms": lag_ms,
        }
    )
