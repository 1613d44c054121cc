"""The one table of invalidation rules: which cache entries a committed change affects.

The API applies it inline for its own writes before it responds (read-your-writes); the
invalidator applies it again for every event on the stream, writes made outside the API
included. Applying it twice is harmless: deleting a missing entry is a no-op.

Every write also records activity and changes platform counts, so SYSTEM_STATS is in every
rule. The analytics families are marked stale rather than deleted (see `FamilyPolicy`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .cache.keys import CacheKey, Family
from .events import (
    CollaborationChanged,
    CommentChanged,
    DomainEvent,
    MembershipChanged,
    OrganizationChanged,
    StudyChanged,
    TeamChanged,
    TeamMembershipChanged,
    UserChanged,
    _Payload,
)

F = Family


_k = CacheKey.of  # (a family, its ids): ids are validated, as everywhere
_SYSTEM_STATS = CacheKey.of(F.SYSTEM_STATS)


def _membership(e: MembershipChanged) -> list[CacheKey]:
    keys = [
        _k(F.ORGANIZATION_MEMBERS, e.organization_id),
        _k(F.ORGANIZATION_ANALYTICS, e.organization_id),
        _k(F.USER_ORGANIZATIONS, e.user_id),
        _k(F.USER_PERMISSIONS, e.user_id),
    ]
    if e.team_ids:
        keys.append(_k(F.ORGANIZATION_TEAMS, e.organization_id))
    for team in e.team_ids:
        keys += [_k(F.TEAM_MEMBERS, team), _k(F.TEAM_ANALYTICS, team)]
    return keys


def _organization(e: OrganizationChanged) -> list[CacheKey]:
    keys = [_k(F.ORGANIZATION_ANALYTICS, e.organization_id)]
    if e.change == "deleted":
        keys += [
            _k(F.ORGANIZATION_MEMBERS, e.organization_id),
            _k(F.ORGANIZATION_TEAMS, e.organization_id),
        ]
    keys += [_k(F.USER_ORGANIZATIONS, member) for member in e.member_ids]
    return keys


def _team(e: TeamChanged) -> list[CacheKey]:
    # A deleted team's analytics would be served stale while its members' cached standing
    # still lets them in: dropping the standing answers 404 at once.
    return [
        _k(F.ORGANIZATION_TEAMS, e.organization_id),
        _k(F.TEAM_MEMBERS, e.team_id),
        _k(F.TEAM_ANALYTICS, e.team_id),
        *(_k(F.USER_PERMISSIONS, member) for member in e.member_ids),
    ]


def _team_membership(e: TeamMembershipChanged) -> list[CacheKey]:
    return [
        _k(F.ORGANIZATION_TEAMS, e.organization_id),
        _k(F.TEAM_MEMBERS, e.team_id),
        _k(F.TEAM_ANALYTICS, e.team_id),
    ]


def _study(e: StudyChanged) -> list[CacheKey]:
    keys = [_k(F.STUDY_ACTIVITY, e.study_id), _k(F.ORGANIZATION_ANALYTICS, e.organization_id)]
    if e.change == "deleted":
        keys += [_k(F.STUDY_COLLABORATORS, e.study_id), _k(F.STUDY_COMMENTS, e.study_id)]
    for collaborator in e.collaborator_ids:
        keys += [
            _k(F.USER_COLLABORATIVE_STUDIES, collaborator),
            _k(F.USER_PERMISSIONS, collaborator),
        ]
    return keys


def _collaboration(e: CollaborationChanged) -> list[CacheKey]:
    return [
        _k(F.STUDY_COLLABORATORS, e.study_id),
        _k(F.STUDY_ACTIVITY, e.study_id),
        _k(F.ORGANIZATION_ANALYTICS, e.organization_id),
        _k(F.USER_COLLABORATIVE_STUDIES, e.user_id),
        _k(F.USER_PERMISSIONS, e.user_id),
    ]


def _comment(e: CommentChanged) -> list[CacheKey]:
    keys = [
        _k(F.STUDY_COMMENTS, e.study_id),
        _k(F.STUDY_ACTIVITY, e.study_id),
        _k(F.ORGANIZATION_ANALYTICS, e.organization_id),
    ]
    keys += [_k(F.TEAM_ANALYTICS, team) for team in e.author_team_ids]
    return keys


def _user(e: UserChanged) -> list[CacheKey]:
    # USER_PERMISSIONS holds the `user` field every cached read checks: without it, the
    # deleted user's token is answered 401.
    return [
        _k(F.USER_PERMISSIONS, e.user_id),
        _k(F.USER_ORGANIZATIONS, e.user_id),
        _k(F.USER_COLLABORATIVE_STUDIES, e.user_id),
    ]


RULES: dict[type[_Payload], Callable[..., list[CacheKey]]] = {
    MembershipChanged: _membership,
    OrganizationChanged: _organization,
    TeamChanged: _team,
    TeamMembershipChanged: _team_membership,
    StudyChanged: _study,
    CollaborationChanged: _collaboration,
    CommentChanged: _comment,
    UserChanged: _user,
}


def keys_for(payload: _Payload) -> list[CacheKey]:
    """Every cache entry a change affects (always including the platform statistics)."""
    keys = RULES[type(payload)](payload)
    keys.append(_SYSTEM_STATS)
    return keys


def keys_for_events(events: Iterable[DomainEvent | _Payload]) -> set[CacheKey]:
    keys: set[CacheKey] = set()
    for event in events:
        keys.update(keys_for(event.payload if isinstance(event, DomainEvent) else event))
    return keys


def certificates_for(events: Iterable[DomainEvent]) -> dict[CacheKey, list[str]]:
    """Per entry the events affect, their ids: what a write's clear certifies the entry for
    and the invalidator's drop of those events looks for (README, "The fenced cache protocol")."""
    return certificates_of((event, dict.fromkeys(keys_for(event.payload))) for event in events)


def certificates_of(
    affected: Iterable[tuple[DomainEvent, Iterable[CacheKey]]],
) -> dict[CacheKey, list[str]]:
    """`certificates_for`, from each event's entries already named (each entry once)."""
    certificates: dict[CacheKey, list[str]] = {}
    for event, keys in affected:
        for key in keys:
            certificates.setdefault(key, []).append(event.id.hex)
    return certificates
