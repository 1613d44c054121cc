"""The demo dataset generator: deterministic, sized as asked, skewed, and consistent with the
constraints and access rules of the API (owners everywhere, members inside their org)."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Any

import pytest

from collabcache_api.seed import ADMIN_EMAIL, MEMBER_EMAIL, OWNER_EMAIL, generate
from collabcache_api.seed_dataset import TABLE_COLUMNS, Dataset, SeedConfig

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
API_VERBS = {
    "created",
    "updated",
    "collaborator_added",
    "collaborator_role_changed",
    "collaborator_removed",
    "comment_added",
    "comment_edited",
    "comment_resolved",
    "comment_reopened",
    "comment_deleted",
}
PRIMARY_KEYS = {
    "users": ("id",),
    "organizations": ("id",),
    "organization_members": ("organization_id", "user_id"),
    "teams": ("id",),
    "team_members": ("team_id", "user_id"),
    "studies": ("id",),
    "study_collaborators": ("study_id", "user_id"),
    "comments": ("id",),
    "activity": ("id",),
}


def rows(data: Dataset, table: str) -> list[dict[str, Any]]:
    return [dict(zip(TABLE_COLUMNS[table], row, strict=True)) for row in getattr(data, table)]


@pytest.fixture(scope="module")
def default_data() -> Dataset:
    return generate(SeedConfig(), NOW)


# Every invariant holds at the default size and at the smallest one the generator allows.
@pytest.fixture(scope="module", params=[1.0, 0.0001], ids=["default", "smallest"])
def data(request: pytest.FixtureRequest, default_data: Dataset) -> Dataset:
    return default_data if request.param == 1.0 else generate(SeedConfig.scaled(request.param), NOW)


def memberships(data: Dataset) -> dict[uuid.UUID, dict[uuid.UUID, str]]:
    """user id -> {organization id: role}"""
    result: dict[uuid.UUID, dict[uuid.UUID, str]] = defaultdict(dict)
    for m in rows(data, "organization_members"):
        result[m["user_id"]][m["organization_id"]] = m["role"]
    return result


def test_same_seed_gives_identical_rows_and_another_seed_different_ones() -> None:
    config = SeedConfig.scaled(0.2, seed=7)
    first, second = generate(config, NOW), generate(config, NOW)
    assert first == second
    other = generate(SeedConfig.scaled(0.2, seed=8), NOW)
    assert {r[0] for r in other.users}.isdisjoint({r[0] for r in first.users})
    assert other.organization_members != first.organization_members


def test_default_sizes_scale_and_explicit_counts() -> None:
    assert SeedConfig.scaled(1.0) == SeedConfig()
    data = generate(SeedConfig(), NOW).counts()
    expected = {"organizations": 50, "users": 2000, "teams": 300, "studies": 1000}
    assert {k: data[k] for k in expected} == expected
    assert data["comments"] == 20_000
    doubled = SeedConfig.scaled(2.0)
    assert (doubled.organizations, doubled.users, doubled.comments) == (100, 4000, 40_000)
    mixed = SeedConfig.scaled(0.5, users=123, comments=0)
    assert (mixed.organizations, mixed.users, mixed.studies, mixed.comments) == (25, 123, 500, 0)
    tiny = SeedConfig.scaled(0.0001)
    assert (tiny.organizations, tiny.users, tiny.studies) == (3, 10, 1)
    with pytest.raises(ValueError):
        SeedConfig.scaled(1.0, organizations=2)
    with pytest.raises(ValueError):
        SeedConfig.scaled(0)


def test_organization_sizes_are_skewed(default_data: Dataset) -> None:
    sizes = Counter(m["organization_id"] for m in rows(default_data, "organization_members"))
    assert len(sizes) == 50
    assert max(sizes.values()) >= 10 * median(sizes.values())
    # Users belong to one or several organizations.
    per_user = Counter(m["user_id"] for m in rows(default_data, "organization_members"))
    assert per_user.most_common(1)[0][1] >= 3
    assert Counter(per_user.values())[1] > len(per_user) / 3


def test_no_duplicate_keys_and_uuid4_ids(data: Dataset) -> None:
    for table, key in PRIMARY_KEYS.items():
        keys = [tuple(r[c] for c in key) for r in rows(data, table)]
        assert len(keys) == len(set(keys)), table
    assert len({r[1].lower() for r in data.users}) == len(data.users)
    team_names = [(t["organization_id"], t["name"]) for t in rows(data, "teams")]
    assert len(team_names) == len(set(team_names))
    ids = [
        r[0]
        for table in ("users", "organizations", "teams", "studies", "comments", "activity")
        for r in getattr(data, table)
    ]
    assert all(isinstance(i, uuid.UUID) and i.version == 4 for i in ids)


def test_references_point_at_existing_rows(data: Dataset) -> None:
    users, orgs = {r[0] for r in data.users}, {r[0] for r in data.organizations}
    studies = {r[0] for r in data.studies}
    teams = {r[0] for r in data.teams}
    assert {r[0] for r in data.organization_members} <= orgs
    assert {r[1] for r in data.organization_members} <= users
    assert {r[1] for r in data.teams} <= orgs
    assert {r[0] for r in data.team_members} <= teams
    assert {r[1] for r in data.studies} <= orgs
    assert {r[1] for r in data.comments} <= studies
    assert {r[1] for r in data.activity} <= studies
    assert {r[2] for r in data.activity} <= users


def test_every_organization_has_an_owner(data: Dataset) -> None:
    roles_by_org: dict[uuid.UUID, set[str]] = defaultdict(set)
    for m in rows(data, "organization_members"):
        roles_by_org[m["organization_id"]].add(m["role"])
    assert set(roles_by_org) == {r[0] for r in data.organizations}
    assert all("owner" in roles for roles in roles_by_org.values())
    assert set().union(*roles_by_org.values()) <= {"owner", "admin", "member"}


def test_the_three_named_users(data: Dataset) -> None:
    by_email = {r[1]: r for r in data.users}
    admin = by_email[ADMIN_EMAIL]
    assert (admin[2], admin[3]) == ("Ada Admin", True)
    assert [r[1] for r in data.users if r[3]] == [ADMIN_EMAIL]
    member_of = memberships(data)
    owner, member = data.user_id(OWNER_EMAIL), data.user_id(MEMBER_EMAIL)
    sizes = Counter(r[0] for r in data.organization_members)
    owned = [org for org, role in member_of[owner].items() if role == "owner"]
    assert any(sizes[org] == max(sizes.values()) for org in owned), "owner@ owns the largest"
    assert len(member_of[owner]) >= 3
    assert len(member_of[member]) == 1
    assert set(member_of[member]) <= set(member_of[owner])
    assert member_of[member][next(iter(member_of[member]))] == "member"


def test_owner_collaborates_on_many_studies_and_comments(default_data: Dataset) -> None:
    owner = default_data.user_id(OWNER_EMAIL)
    studies = [c for c in rows(default_data, "study_collaborators") if c["user_id"] == owner]
    assert len(studies) >= len(default_data.studies) // 20
    assert sum(1 for c in default_data.comments if c[2] == owner) >= 100
    member = default_data.user_id(MEMBER_EMAIL)
    assert any(c["user_id"] == member for c in rows(default_data, "study_collaborators"))


def test_team_members_belong_to_the_team_organization(data: Dataset) -> None:
    member_of = memberships(data)
    team_org = {t["id"]: t["organization_id"] for t in rows(data, "teams")}
    assert data.team_members or not data.teams
    for tm in rows(data, "team_members"):
        assert team_org[tm["team_id"]] in member_of[tm["user_id"]]


def test_every_study_has_an_owner_who_created_it(data: Dataset) -> None:
    roles: dict[uuid.UUID, dict[uuid.UUID, str]] = defaultdict(dict)
    for c in rows(data, "study_collaborators"):
        roles[c["study_id"]][c["user_id"]] = c["role"]
    member_of = memberships(data)
    for s in rows(data, "studies"):
        assert roles[s["id"]].get(s["created_by"]) == "owner"
        assert s["organization_id"] in member_of[s["created_by"]]
        assert s["status"] in {"draft", "active", "completed", "archived"}
    assert set().union(*(set(r.values()) for r in roles.values())) <= {"owner", "editor", "viewer"}


def test_collaborators_come_mostly_from_the_study_organization(default_data: Dataset) -> None:
    member_of = memberships(default_data)
    study_org = {s[0]: s[1] for s in default_data.studies}
    inside = [study_org[c[0]] in member_of[c[1]] for c in default_data.study_collaborators]
    assert 0.8 < sum(inside) / len(inside) < 1.0  # a few outside collaborators too


def test_comments_by_commenting_collaborators_over_the_last_90_days(data: Dataset) -> None:
    roles = {(c[0], c[1]): c[2] for c in data.study_collaborators}
    for c in rows(data, "comments"):
        assert roles[(c["study_id"], c["author_id"])] in {"owner", "editor"}
        assert NOW - timedelta(days=90) <= c["created_at"] <= c["updated_at"] <= NOW
    if len(data.comments) >= 1000:
        recent = sum(1 for c in data.comments if c[5] >= NOW - timedelta(days=30))
        assert 0.2 < recent / len(data.comments) < 0.6
        resolved = sum(1 for c in data.comments if c[4])
        assert 0.1 < resolved / len(data.comments) < 0.6


def test_activity_records_what_the_api_would(data: Dataset) -> None:
    verbs = Counter(a[3] for a in data.activity)
    assert set(verbs) <= API_VERBS
    assert verbs["created"] == len(data.studies)
    assert verbs["comment_added"] == len(data.comments)
    assert verbs["comment_resolved"] == sum(1 for c in data.comments if c[4])
    assert verbs["collaborator_added"] == len(data.study_collaborators) - len(data.studies)
    kinds = {"created": "study", "updated": "study", "collaborator_added": "user"}
    kinds |= {"comment_added": "comment", "comment_resolved": "comment"}
    assert all(a[4] == kinds[a[3]] for a in data.activity)
    assert all(a[6] <= NOW for a in data.activity)
