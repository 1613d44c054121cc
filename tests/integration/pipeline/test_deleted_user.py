"""A user deleted by hand (the API deletes none) loses the API at once through the pipeline:
`user.changed.v1` drops what is cached for them, the record that they exist included, and their
still-valid token is answered 401, a user with no membership (nothing else would drop their
cached empty lists) as much as a member. Without an invalidator, the cache would go on
answering them: the event is what refuses them (README, "Security")."""

from __future__ import annotations

import asyncio

from tests.integration.builders import Person
from tests.integration.pipeline.conftest import MakePipeline
from tests.integration.pipeline.stack import Pipeline, eventually
from tests.integration.pipeline.test_sql_changes import PIPELINE_BOUND_S


async def _warm(p: Pipeline, who: Person, paths: list[str]) -> None:
    for path in paths:
        await p.client.get(path, headers=who.headers)
        hit = await p.client.get(path, headers=who.headers)
        assert (hit.status_code, hit.headers.get("x-cache")) == (200, "HIT"), path


async def _cast(p: Pipeline) -> tuple[Person, Person, list[str]]:
    owner, loner, member = [await p.build.user(n) for n in ("owner", "loner", "member")]
    org = await p.build.org(owner)
    await p.build.member(org, member)
    return loner, member, [f"/api/organizations/{org}/members"]


async def test_a_deleted_users_token_is_refused_once_the_event_is_applied(
    make_pipeline: MakePipeline,
) -> None:
    p = await make_pipeline()
    loner, member, member_paths = await _cast(p)
    own = ["/api/organizations", "/api/collaboration/studies"]
    await _warm(p, loner, own)
    await _warm(p, member, own + member_paths)
    await p.settle()

    for person in (loner, member):
        await p.db.execute("DELETE FROM users WHERE id = $1", person.id)

    await eventually(lambda: _all_refused(p, loner, own), PIPELINE_BOUND_S, "the loner")
    everything = own + member_paths
    await eventually(lambda: _all_refused(p, member, everything), PIPELINE_BOUND_S, "the member")


async def test_without_the_invalidator_the_cache_would_still_answer_them(
    make_pipeline: MakePipeline,
) -> None:
    p = await make_pipeline(invalidator=False)
    loner, _, _ = await _cast(p)
    own = ["/api/organizations", "/api/collaboration/studies"]
    await _warm(p, loner, own)
    await p.db.execute("DELETE FROM users WHERE id = $1", loner.id)
    await asyncio.sleep(PIPELINE_BOUND_S)
    await p.settle()  # the event is on the stream; nobody applied it
    for path in own:
        answer = await p.client.get(path, headers=loner.headers)
        assert (answer.status_code, answer.headers.get("x-cache")) == (200, "HIT"), path
    await p.start_invalidator()
    await eventually(
        lambda: _all_refused(p, loner, own), PIPELINE_BOUND_S, "refused once it is applied"
    )


async def _all_refused(p: Pipeline, who: Person, paths: list[str]) -> bool:
    return all([(await p.client.get(x, headers=who.headers)).status_code == 401 for x in paths])
