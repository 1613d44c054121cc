"""The demo dataset's content: studies, their collaborators, comments and the activity log.

Part of the pure generator of `seed` (same seed and `now`, same rows). Activity entries use the
verbs and object types the API records: "created"/"updated" on a study, "collaborator_added"
on a user, "comment_added"/"comment_resolved" on a comment.
"""

from __future__ import annotations

import uuid
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import accumulate

from .seed_dataset import DAY, Dataset, Org, People, Randomness, SeedConfig

STATUSES = ("draft", "active", "completed", "archived")
STATUS_WEIGHTS = (15, 45, 25, 15)
# How much a study of each status is commented on, relative to an active one.
STATUS_CHATTER = {"draft": 0.3, "active": 1.0, "completed": 0.6, "archived": 0.2}
EXTRA_ROLES = ("owner", "editor", "viewer")
EXTRA_ROLE_WEIGHTS = (8, 55, 37)
OUTSIDER_SHARE = 0.1  # collaborators who are not members of the study's organization
OWNER_JOINS = 0.35  # share of the studies in owner@'s organizations that owner@ works on
MEMBER_JOINS = 0.25  # the same for member@ in its organization
COMMENT_WINDOW = 90 * DAY
TOPICS = (
    "sleep and memory",
    "urban air quality",
    "gut microbiome",
    "reading fluency",
    "coral bleaching",
    "remote work",
    "heart rate variability",
    "soil carbon",
    "vaccine uptake",
    "language acquisition",
)
KINDS = (
    "Longitudinal study of",
    "Pilot on",
    "Survey of",
    "Trial on",
    "Replication:",
    "Meta-review:",
)
REMARKS = (
    "Can we double-check the sampling frame?",
    "Added the revised consent form.",
    "The effect size looks smaller after cleaning.",
    "Please review section 3 before Friday.",
    "Uploaded the new figures.",
    "I think we need a power analysis here.",
    "Fixed the outliers in wave 2.",
    "Agreed, let's go with the preregistered plan.",
)


@dataclass
class StudyDraft:
    id: uuid.UUID
    org: Org
    status: str
    created_at: datetime
    owner: uuid.UUID
    # user id -> (role, since)
    collaborators: dict[uuid.UUID, tuple[str, datetime]] = field(default_factory=dict)


def add_content(r: Randomness, data: Dataset, people: People, config: SeedConfig) -> None:
    # Studies land in organizations in proportion to their size.
    cum = list(accumulate(len(org.members) for org in people.orgs))
    studies = [_study(r, data, people, cum) for _ in range(config.studies)]
    for study in studies:
        _collaborators(r, data, people, study)
    _comments(r, data, people, studies, config.comments)


def _study(r: Randomness, data: Dataset, people: People, cum: list[int]) -> StudyDraft:
    orgs = people.orgs
    org = orgs[r.rng.choices(range(len(orgs)), cum_weights=cum)[0]]
    owner = _creator(r, org, people)
    created = max(org.joined[owner] + timedelta(hours=1), r.days_ago(0.05, 240))
    status = r.rng.choices(STATUSES, weights=STATUS_WEIGHTS)[0]
    study = StudyDraft(r.new_id(), org, status, created, owner)
    study.collaborators[owner] = ("owner", created)
    title = f"{r.rng.choice(KINDS)} {r.rng.choice(TOPICS)} #{len(data.studies) + 1}"
    updated = created
    _activity(
        r, data, "created", "study", study_id=study.id, actor=owner, object_id=study.id, at=created
    )
    if status != "draft":
        updated = r.between(created, r.now)
        _activity(
            r,
            data,
            "updated",
            "study",
            study_id=study.id,
            actor=owner,
            object_id=study.id,
            at=updated,
        )
    data.studies.append((study.id, org.id, title, status, owner, created, updated))
    return study


def _creator(r: Randomness, org: Org, people: People) -> uuid.UUID:
    if people.owner in org.members and r.rng.random() < 0.1:
        return people.owner
    return r.rng.choice(list(org.members))


def _collaborators(r: Randomness, data: Dataset, people: People, study: StudyDraft) -> None:
    org = study.org
    members = list(org.members)
    wanted = min(int(r.rng.expovariate(1 / 3)), 25)
    candidates = []
    for _ in range(wanted):
        pool = people.generic_users if r.rng.random() < OUTSIDER_SHARE else members
        candidates.append(r.rng.choice(pool))
    for person, chance in ((people.owner, OWNER_JOINS), (people.member, MEMBER_JOINS)):
        if person in org.members and r.rng.random() < chance:
            candidates.append(person)
    until = min(study.created_at + 30 * DAY, r.now)
    for uid in candidates:
        if uid in study.collaborators:
            continue
        role = r.rng.choices(EXTRA_ROLES, weights=EXTRA_ROLE_WEIGHTS)[0]
        since = r.between(study.created_at, until)
        study.collaborators[uid] = (role, since)
        _activity(
            r,
            data,
            "collaborator_added",
            "user",
            study_id=study.id,
            actor=study.owner,
            object_id=uid,
            at=since,
        )
    for uid, (role, since) in study.collaborators.items():
        data.study_collaborators.append((study.id, uid, role, since, since))


def _comments(
    r: Randomness, data: Dataset, people: People, studies: list[StudyDraft], count: int
) -> None:
    """Comments by the owners and editors of a study (the roles that may comment), spread over
    the last 90 days with a heavy tail of busy studies; some are resolved."""
    writers = {s.id: _writers(s, people.owner) for s in studies}
    heat = [r.rng.paretovariate(1.2) * STATUS_CHATTER[s.status] for s in studies]
    picks = r.rng.choices(studies, cum_weights=list(accumulate(heat)), k=count)
    for study in picks:
        authors, cum = writers[study.id]
        author = authors[bisect_right(cum, r.rng.random() * cum[-1])]
        _comment(r, data, study, author)


def _writers(study: StudyDraft, favourite: uuid.UUID) -> tuple[list[uuid.UUID], list[int]]:
    """Who may comment on the study, and cumulative weights favouring owner@ (the demo user)."""
    authors = [u for u, (role, _) in study.collaborators.items() if role != "viewer"]
    return authors, list(accumulate(4 if u == favourite else 1 for u in authors))


def _comment(r: Randomness, data: Dataset, study: StudyDraft, author: uuid.UUID) -> None:
    end = r.now - timedelta(seconds=30)
    start = min(max(study.collaborators[author][1], r.now - COMMENT_WINDOW), end)
    created = r.between(start, end)
    resolve_chance = 0.6 if study.status in {"completed", "archived"} else 0.25
    resolved = r.rng.random() < resolve_chance
    updated = r.between(created, r.now) if resolved else created
    comment_id = r.new_id()
    body = r.rng.choice(REMARKS)
    data.comments.append((comment_id, study.id, author, body, resolved, created, updated))
    _activity(
        r,
        data,
        "comment_added",
        "comment",
        study_id=study.id,
        actor=author,
        object_id=comment_id,
        at=created,
    )
    if resolved:
        resolver = author if r.rng.random() < 0.6 else study.owner
        _activity(
            r,
            data,
            "comment_resolved",
            "comment",
            study_id=study.id,
            actor=resolver,
            object_id=comment_id,
            at=updated,
        )


def _activity(
    r: Randomness,
    data: Dataset,
    verb: str,
    object_type: str,
    *,
    study_id: uuid.UUID,
    actor: uuid.UUID,
    object_id: uuid.UUID,
    at: datetime,
) -> None:
    data.activity.append((r.new_id(), study_id, actor, verb, object_type, object_id, at))
