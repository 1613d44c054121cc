"""The compact standing records (README, "Standing records"): every role combination encodes to
a few bytes that decide access as the domain's rules do, and GET .../permissions renders from
them the very JSON the domain's `PermissionsPublic` makes."""

from __future__ import annotations

import itertools
import uuid

import pytest

from collabcache_api.access import StudyRoles
from collabcache_api.caching.access_records import (
    ORG_ROLE_CODES,
    STUDY_ROLE_CODES,
    decode_org_standing,
    decode_study_standing,
    decode_team_standing,
    encode_org_standing,
    encode_study_standing,
    encode_team_standing,
    org_standing,
    render_study_permissions,
    standing_field,
    study_standing,
    team_standing,
)
from collabcache_api.models import OrgRole, StudyRole
from collabcache_api.studies.service import permissions_of

STUDY_ROLES: list[StudyRole | None] = [*StudyRole, None]
ORG_ROLES: list[OrgRole | None] = [*OrgRole, None]
COMBINATIONS = list(itertools.product(STUDY_ROLES, ORG_ROLES))


def test_every_role_has_a_distinct_one_byte_code() -> None:
    for codes, roles in ((ORG_ROLE_CODES, OrgRole), (STUDY_ROLE_CODES, StudyRole)):
        assert set(codes) == set(roles)
        assert len(set(codes.values())) == len(codes)
        assert all(len(code) == 1 and code != b"-" for code in codes.values())


@pytest.mark.parametrize(("study_role", "org_role"), COMBINATIONS)
def test_a_study_record_renders_the_domains_permissions_json(
    study_role: StudyRole | None, org_role: OrgRole | None
) -> None:
    """Byte for byte what the loader cached and the endpoint answered before: the domain's
    `PermissionsPublic` for these roles; and `allows` is the domain's `can_view`."""
    roles = StudyRoles(study_role, org_role)
    record = encode_study_standing(study_role, org_role)
    study_id, user_id = uuid.uuid4(), uuid.uuid4()

    assert len(record) == 2
    assert decode_study_standing(record) == roles
    assert study_standing(study_id).allows(record) is roles.can_view
    if roles.can_view:  # only a standing that lets the user see the study is ever stored
        expected = (
            permissions_of(roles, study_id=study_id, user_id=user_id).model_dump_json().encode()
        )
        assert render_study_permissions(record, study_id=study_id, user_id=user_id) == expected


@pytest.mark.parametrize("role", list(OrgRole))
def test_org_and_team_records_round_trip_and_let_the_member_in(role: OrgRole) -> None:
    org_id = uuid.uuid4()
    org_record, team_record = encode_org_standing(role), encode_team_standing(role, org_id)

    assert len(org_record) == 1 and len(team_record) == 17
    assert decode_org_standing(org_record) is role
    assert decode_team_standing(team_record) == (role, org_id)
    assert org_standing(org_id).allows(org_record)
    assert team_standing(uuid.uuid4()).allows(team_record)


@pytest.mark.parametrize("record", [b"", b"x", b"-", b"--", b"m" + bytes(15), b'{"can_view":true}'])
def test_a_record_that_is_no_standing_lets_nobody_in(record: bytes) -> None:
    for standing in (org_standing, team_standing, study_standing):
        assert not standing(uuid.uuid4()).allows(record)


def test_a_standings_field_is_short_and_names_its_kind_and_resource() -> None:
    resource = uuid.uuid4()
    fields = {standing_field(kind, resource) for kind in ("org", "team", "study")}
    assert len(fields) == 3
    assert all(len(field) == 23 for field in fields)
    assert standing_field("org", resource) != standing_field("org", uuid.uuid4())
    assert "user" not in fields
