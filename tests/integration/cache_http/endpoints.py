"""Every cached GET of the API, with the registry key and the hash field it must be stored under."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from collabcache_api.caching.access_records import standing_field
from collabcache_shared.cache.entry import DATA
from collabcache_shared.cache.keys import CacheKey, Family, KeySpace
from tests.integration.builders import Person, Scene

F = Family
STUDY = "/api/collaboration/studies/{study_id}"


@dataclass(frozen=True)
class CachedGet:
    route: str  # the OpenAPI path template
    family: Family
    paginated: bool = True

    def path(self, s: Scene) -> str:
        return self.route.format(org_id=s.org_id, team_id=s.team_id, study_id=s.study_id)

    def caller(self, s: Scene) -> Person:
        """Who may read it in a scene: the organization's owner, or a platform admin."""
        return s.platform_admin if self.family is F.SYSTEM_STATS else s.owner

    def key(self, s: Scene, caller: Person) -> CacheKey:
        ids: dict[Family, tuple[uuid.UUID, ...]] = {
            F.USER_ORGANIZATIONS: (caller.id,),
            F.USER_COLLABORATIVE_STUDIES: (caller.id,),
            F.USER_PERMISSIONS: (caller.id,),
            F.ORGANIZATION_MEMBERS: (s.org_id,),
            F.ORGANIZATION_TEAMS: (s.org_id,),
            F.ORGANIZATION_ANALYTICS: (s.org_id,),
            F.TEAM_MEMBERS: (s.team_id,),
            F.TEAM_ANALYTICS: (s.team_id,),
            F.STUDY_COLLABORATORS: (s.study_id,),
            F.STUDY_COMMENTS: (s.study_id,),
            F.STUDY_ACTIVITY: (s.study_id,),
            F.SYSTEM_STATS: (),
        }
        return CacheKey.of(self.family, *ids[self.family])

    def field(self, s: Scene, page_variant: str) -> str:
        """The hash field holding the response (`DATA` + the variant)."""
        if self.family is F.USER_PERMISSIONS:
            return DATA + standing_field("study", s.study_id)  # the response renders the standing
        return DATA + (page_variant if self.paginated else "-")

    def redis_key(self, keyspace: KeySpace, s: Scene) -> str:
        return keyspace.entry(self.key(s, self.caller(s)))


CACHED_GETS: list[CachedGet] = [
    CachedGet("/api/organizations", F.USER_ORGANIZATIONS),
    CachedGet("/api/organizations/{org_id}/members", F.ORGANIZATION_MEMBERS),
    CachedGet("/api/organizations/{org_id}/teams", F.ORGANIZATION_TEAMS),
    CachedGet("/api/organizations/{org_id}/analytics", F.ORGANIZATION_ANALYTICS, paginated=False),
    CachedGet("/api/teams/{team_id}/members", F.TEAM_MEMBERS),
    CachedGet("/api/teams/{team_id}/analytics", F.TEAM_ANALYTICS, paginated=False),
    CachedGet("/api/collaboration/studies", F.USER_COLLABORATIVE_STUDIES),
    CachedGet(STUDY + "/collaborators", F.STUDY_COLLABORATORS),
    CachedGet(STUDY + "/comments", F.STUDY_COMMENTS),
    CachedGet(STUDY + "/activity", F.STUDY_ACTIVITY),
    CachedGet(STUDY + "/permissions", F.USER_PERMISSIONS, paginated=False),
    CachedGet("/api/admin/system-stats", F.SYSTEM_STATS, paginated=False),
]
BY_ROUTE = {g.route: g for g in CACHED_GETS}
# GETs that are deliberately not cached: the caller's own profile (one primary-key read), and
# the cache's own live metrics (read from the metrics aggregates in Redis).
UNCACHED_GETS = {"/api/me", "/api/admin/cache-metrics"}
