"""Every write endpoint of the API and the cached GETs it changes: the read-your-writes table.

Each `Read` says, as a comparison of the response before and after the write, what the write
must change in it, and which cache families' invalidation makes that change visible (the
negative control drops exactly those and expects the old response back).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from collabcache_shared.cache.keys import Family
from tests.integration.builders import Person, Scene
from tests.integration.cache_http.endpoints import STUDY

F = Family
ORG = "/api/organizations/{org_id}"
TEAM = "/api/teams/{team_id}"


@dataclass(frozen=True)
class Seen:
    status: int
    json: Any
    x_cache: str | None
    age: str | None

    @classmethod
    def of(cls, response: httpx.Response) -> Seen:
        body = response.json() if response.content else None
        headers = response.headers
        return cls(response.status_code, body, headers.get("x-cache"), headers.get("age"))


@dataclass
class Ctx:
    scene: Scene
    extra: dict[str, Person] = field(default_factory=dict)
    written: Any = None  # the write's response body

    def person(self, name: str) -> Person:
        return self.extra[name] if name in self.extra else getattr(self.scene, name)


Changed = Callable[[Seen, Seen, Ctx], bool]  # (before, after, ctx) -> the write is visible


@dataclass(frozen=True)
class Read:
    who: str
    route: str
    changed: Changed
    depends: frozenset[Family]
    what: str

    def __str__(self) -> str:
        return f"{self.who} GET {self.route} ({self.what})"


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    route: str  # the OpenAPI template of the write
    actor: str
    reads: tuple[Read, ...]
    body: Callable[[Ctx], dict[str, Any]] | None = None
    target: str | None = None  # the person `{member_id}` names
    newcomer: bool = False  # a user outside the organization, "newcomer", takes part

    def path(self, ctx: Ctx) -> str:
        s = ctx.scene
        member = ctx.person(self.target).id if self.target else None
        return self.route.format(
            org_id=s.org_id,
            team_id=s.team_id,
            study_id=s.study_id,
            comment_id=s.comment_id,
            member_id=member,
        )


def read(who: str, route: str, changed: Changed, *depends: Family, what: str) -> Read:
    return Read(who, route, changed, frozenset(depends), what)


# -- what a write must change in a response ---------------------------------------------------
def becomes(status: int) -> Changed:
    return lambda before, after, ctx: after.status == status


def items(seen: Seen) -> list[dict[str, Any]]:
    return seen.json["items"] if seen.status == 200 else []


def lists(match: Callable[[dict[str, Any], Ctx], bool]) -> Changed:
    return lambda before, after, ctx: any(match(i, ctx) for i in items(after))


def drops(match: Callable[[dict[str, Any], Ctx], bool]) -> Changed:
    return lambda before, after, ctx: (
        after.status == 200 and not any(match(i, ctx) for i in items(after))
    )


def moves(figure: Callable[[Any, Ctx], int | None], by: int) -> Changed:
    def changed(before: Seen, after: Seen, ctx: Ctx) -> bool:
        if before.status != 200 or after.status != 200:
            return False
        old = figure(before.json, ctx)
        return old is not None and figure(after.json, ctx) == old + by

    return changed


def user_is(name: str) -> Callable[[dict[str, Any], Ctx], bool]:
    return lambda item, ctx: item["user_id"] == str(ctx.person(name).id)


def has(**values: Any) -> Callable[[dict[str, Any], Ctx], bool]:
    return lambda item, ctx: all(item.get(k) == v for k, v in values.items())


def id_is(attr: str, **values: Any) -> Callable[[dict[str, Any], Ctx], bool]:
    """The scene's `attr` (org_id, team_id, study_id, comment_id), with these values."""

    def match(item: dict[str, Any], ctx: Ctx) -> bool:
        return item["id"] == str(getattr(ctx.scene, attr)) and has(**values)(item, ctx)

    return match


def member_of(name: str, role: str) -> Callable[[dict[str, Any], Ctx], bool]:
    return lambda item, ctx: user_is(name)(item, ctx) and item["role"] == role


def written_id(item: dict[str, Any], ctx: Ctx) -> bool:
    return ctx.written is not None and bool(item["id"] == ctx.written["id"])


def team_count(teams: Any, ctx: Ctx) -> int | None:
    counts = [t["member_count"] for t in teams["items"] if t["id"] == str(ctx.scene.team_id)]
    return counts[0] if counts else None


def comments_in_window(analytics: Any, ctx: Ctx) -> int:
    return sum(day["count"] for day in analytics["comments_per_day"])


def activities_of(name: str) -> Callable[[Any, Ctx], int]:
    def figure(analytics: Any, ctx: Ctx) -> int:
        uid = str(ctx.person(name).id)
        rows = [r for r in analytics["most_active_collaborators"] if r["user_id"] == uid]
        return rows[0]["activities"] if rows else 0

    return figure


def role_count(role: str) -> Callable[[Any, Ctx], int]:
    return lambda analytics, ctx: analytics["members_by_role"][role]


def status_count(status: str) -> Callable[[Any, Ctx], int]:
    return lambda figures, ctx: figures["studies_by_status"].get(status, 0)


def platform(name: str) -> Callable[[Any, Ctx], int]:
    return lambda stats, ctx: stats[name]


def member_count(analytics: Any, ctx: Ctx) -> int:
    return int(analytics["member_count"])


def verb(name: str) -> Changed:
    return lists(lambda item, ctx: item["verb"] == name)


def comment_body(text: str) -> Changed:
    return lists(lambda item, ctx: item["body"] == text)


# -- the routes the tables name ---------------------------------------------------------------
MINE = "/api/organizations"
MY_STUDIES = "/api/collaboration/studies"
STATS = "/api/admin/system-stats"
ROOT = "platform_admin"
MEMBERS, TEAMS, ORG_ANALYTICS = ORG + "/members", ORG + "/teams", ORG + "/analytics"
TEAM_MEMBERS, TEAM_ANALYTICS = TEAM + "/members", TEAM + "/analytics"
COLLABORATORS, ACTIVITY = STUDY + "/collaborators", STUDY + "/activity"
COMMENTS, PERMISSIONS = STUDY + "/comments", STUDY + "/permissions"
COMMENT = COMMENTS + "/{comment_id}"
IN_ORG = ("owner", "admin", "member", "editor", "viewer")


def lose_study(who: str, *, also: dict[str, Family] | None = None) -> tuple[Read, ...]:
    """Everything of the study a caller who lost their standing could read before; `also`:
    reads whose data the write invalidates too (their loader then refuses the caller)."""
    gone, also = becomes(404), also or {}
    return tuple(
        read(who, route, gone, F.USER_PERMISSIONS, *filter(None, [also.get(route)]), what="404")
        for route in (COLLABORATORS, COMMENTS, ACTIVITY, PERMISSIONS)
    )
