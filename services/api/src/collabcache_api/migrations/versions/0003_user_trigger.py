"""a deleted user's event; creations drop the standings of those who may see the new row

Deleting a user (by hand: the API deletes no user) records `user.changed.v1`, so what is
cached for them, the record that they exist included, is dropped and their tokens are refused
(README, "Security"). Captured BEFORE the delete, like the other deletes that cascade.

A missing team or study is refused by a cached standing, like a hidden one. Should a row be
created under an id somebody was refused, its event now names everyone who may see it, whose
standings go: a team's organization members (`member_ids`), a study's organization owners and
admins (`manager_ids`).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEAM_MEMBERS = """(SELECT coalesce(jsonb_agg(user_id ORDER BY user_id), '[]'::jsonb)
       FROM organization_members WHERE organization_id = r.organization_id)"""
STUDY_MANAGERS = """(SELECT coalesce(jsonb_agg(user_id ORDER BY user_id), '[]'::jsonb)
       FROM organization_members WHERE organization_id = r.organization_id
       AND role IN ('owner', 'admin'))"""


def _team_function(member_ids_when: str) -> str:
    return rf"""
CREATE OR REPLACE FUNCTION collabcache_on_team() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r teams; change text;
BEGIN
  IF TG_OP = 'INSERT' THEN r := NEW; change := 'created';
  ELSIF TG_OP = 'DELETE' THEN r := OLD; change := 'deleted';
  ELSIF NEW.name IS DISTINCT FROM OLD.name THEN r := NEW; change := 'renamed';
  ELSE RETURN NULL;
  END IF;
  -- Every member of the organization may hold a cached standing on the team.
  PERFORM collabcache_emit(jsonb_build_object(
    'type', 'team.changed.v1', 'organization_id', r.organization_id, 'team_id', r.id,
    'change', change,
    'member_ids', CASE WHEN {member_ids_when} THEN {TEAM_MEMBERS} ELSE '[]'::jsonb END));
  RETURN NULL;
END $$;
"""


def _study_function(managers: str) -> str:
    return rf"""
CREATE OR REPLACE FUNCTION collabcache_on_study() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r studies; change text;
BEGIN
  IF TG_OP = 'INSERT' THEN r := NEW; change := 'created';
  ELSIF TG_OP = 'DELETE' THEN r := OLD; change := 'deleted';
  ELSE r := NEW; change := 'updated';
  END IF;
  PERFORM collabcache_emit(jsonb_build_object(
    'type', 'study.changed.v1', 'organization_id', r.organization_id, 'study_id', r.id,
    'change', change,
    'collaborator_ids', (SELECT coalesce(jsonb_agg(user_id ORDER BY user_id), '[]'::jsonb)
                         FROM study_collaborators WHERE study_id = r.id){managers}));
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NULL END;
END $$;
"""


FUNCTION = r"""
CREATE FUNCTION collabcache_on_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM collabcache_emit(jsonb_build_object(
    'type', 'user.changed.v1', 'user_id', OLD.id, 'change', 'deleted'));
  RETURN OLD;
END $$;
"""


def upgrade() -> None:
    op.execute(_team_function("TG_OP IN ('INSERT', 'DELETE')"))
    managers = f",\n    'manager_ids', CASE WHEN TG_OP = 'INSERT' THEN {STUDY_MANAGERS} ELSE '[]'::jsonb END"
    op.execute(_study_function(managers))
    op.execute(FUNCTION)
    op.execute(
        "CREATE TRIGGER collabcache_users_before BEFORE DELETE ON users "
        "FOR EACH ROW EXECUTE FUNCTION collabcache_on_user()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS collabcache_users_before ON users")
    op.execute("DROP FUNCTION IF EXISTS collabcache_on_user()")
    op.execute(_team_function("TG_OP = 'DELETE'"))
    op.execute(_study_function(""))
