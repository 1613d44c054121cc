"""A team or study created by hand under an id somebody was refused just before is seen by
everyone who may see it within the pipeline's bound: a refusal is never cached (README,
"Security"), so no stale 404 can outlive the creation."""

from __future__ import annotations

import uuid
from functools import partial

from tests.integration.builders import Person
from tests.integration.pipeline.conftest import MakePipeline
from tests.integration.pipeline.stack import Pipeline, eventually
from tests.integration.pipeline.test_sql_changes import PIPELINE_BOUND_S


async def _refused_from_the_cache(p: Pipeline, who: Person, path: str) -> None:
    for _ in range(2):
        assert (await p.client.get(path, headers=who.headers)).status_code == 404, path
    await p.settle()


async def _answers(p: Pipeline, who: Person, path: str) -> bool:
    return (await p.client.get(path, headers=who.headers)).status_code == 200


async def test_a_team_and_a_study_made_under_refused_ids_are_seen_at_once(
    make_pipeline: MakePipeline,
) -> None:
    p = await make_pipeline()
    owner, admin, member = [await p.build.user(n) for n in ("owner", "admin", "member")]
    org = await p.build.org(owner)
    await p.build.member(org, admin, "admin")
    await p.build.member(org, member)
    team_id, study_id = uuid.uuid4(), uuid.uuid4()
    team = f"/api/teams/{team_id}/members"
    study = f"/api/collaboration/studies/{study_id}/permissions"
    for who in (owner, admin, member):
        await _refused_from_the_cache(p, who, team)
    for who in (owner, admin):
        await _refused_from_the_cache(p, who, study)

    await p.db.execute(
        "INSERT INTO studies (id, organization_id, title, created_by) "
        "VALUES ($1, $2, 'made by hand', $3)",
        study_id,
        org,
        owner.id,
    )
    for who in (owner, admin):
        await eventually(partial(_answers, p, who, study), PIPELINE_BOUND_S, f"study {who.email}")
    # The plain member may not see a study nobody shared with them: still refused.
    assert (await p.client.get(study, headers=member.headers)).status_code == 404

    await p.db.execute(
        "INSERT INTO teams (id, organization_id, name) VALUES ($1, $2, 'made by hand')",
        team_id,
        org,
    )
    for who in (owner, admin, member):
        await eventually(partial(_answers, p, who, team), PIPELINE_BOUND_S, f"team {who.email}")
