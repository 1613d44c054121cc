"""transactional outbox and change triggers

Every change to the tables below inserts a domain event (the `DomainEvent` envelope of
`collabcache_shared.events`, as JSON) into `outbox` in the same transaction, whatever made the
change: the API or a statement typed by hand. `pg_notify` only wakes the relay; the outbox row is
the record. Payloads carry the identifiers their invalidation fans out to, computed here, so
consumers need no database. Deletes that cascade are captured BEFORE the cascade runs (a study's
collaborators, an organization's members); child rows deleted by a cascade whose parent is already
gone emit nothing, since the parent's own event covers them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "collabcache_outbox"

FUNCTIONS = r"""
CREATE FUNCTION collabcache_emit(payload jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO outbox (event) VALUES (jsonb_build_object(
    'id', gen_random_uuid(),
    'occurred_at', now(),
    'source', coalesce(nullif(current_setting('collabcache.source', true), ''), 'sql'),
    'traceparent', nullif(current_setting('collabcache.traceparent', true), ''),
    'payload', payload));
  PERFORM pg_notify('collabcache_outbox', '');
END $$;

CREATE FUNCTION collabcache_on_organization_member() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r organization_members; change text;
BEGIN
  IF TG_OP = 'INSERT' THEN r := NEW; change := 'added';
  ELSIF TG_OP = 'DELETE' THEN r := OLD; change := 'removed';
  ELSIF NEW.role IS DISTINCT FROM OLD.role THEN r := NEW; change := 'role_changed';
  ELSE RETURN NULL;
  END IF;
  PERFORM collabcache_emit(jsonb_build_object(
    'type', 'membership.changed.v1', 'organization_id', r.organization_id,
    'user_id', r.user_id, 'change', change, 'team_ids', '[]'::jsonb));
  RETURN NULL;
END $$;

CREATE FUNCTION collabcache_on_organization() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r organizations; change text;
BEGIN
  IF TG_OP = 'INSERT' THEN r := NEW; change := 'created';
  ELSIF TG_OP = 'DELETE' THEN r := OLD; change := 'deleted';
  ELSIF NEW.name IS DISTINCT FROM OLD.name THEN r := NEW; change := 'renamed';
  ELSE RETURN NULL;
  END IF;
  PERFORM collabcache_emit(jsonb_build_object(
    'type', 'organization.changed.v1', 'organization_id', r.id, 'change', change,
    'member_ids', (SELECT coalesce(jsonb_agg(user_id ORDER BY user_id), '[]'::jsonb)
                   FROM organization_members WHERE organization_id = r.id)));
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NULL END;
END $$;

CREATE FUNCTION collabcache_on_team() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r teams; change text;
BEGIN
  IF TG_OP = 'INSERT' THEN r := NEW; change := 'created';
  ELSIF TG_OP = 'DELETE' THEN r := OLD; change := 'deleted';
  ELSIF NEW.name IS DISTINCT FROM OLD.name THEN r := NEW; change := 'renamed';
  ELSE RETURN NULL;
  END IF;
  -- On delete, every member of the organization may hold a cached standing on the team.
  PERFORM collabcache_emit(jsonb_build_object(
    'type', 'team.changed.v1', 'organization_id', r.organization_id, 'team_id', r.id,
    'change', change,
    'member_ids', CASE WHEN TG_OP = 'DELETE' THEN
      (SELECT coalesce(jsonb_agg(user_id ORDER BY user_id), '[]'::jsonb)
       FROM organization_members WHERE organization_id = r.organization_id)
      ELSE '[]'::jsonb END));
  RETURN NULL;
END $$;

CREATE FUNCTION collabcache_on_team_member() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r team_members; org uuid;
BEGIN
  r := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
  SELECT organization_id INTO org FROM teams WHERE id = r.team_id;
  IF org IS NULL THEN RETURN NULL; END IF;  -- the team is being deleted: its event covers this
  PERFORM collabcache_emit(jsonb_build_object(
    'type', 'team_membership.changed.v1', 'organization_id', org, 'team_id', r.team_id,
    'user_id', r.user_id, 'change', CASE WHEN TG_OP = 'DELETE' THEN 'removed' ELSE 'added' END));
  RETURN NULL;
END $$;

CREATE FUNCTION collabcache_on_study() RETURNS trigger LANGUAGE plpgsql AS $$
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
                         FROM study_collaborators WHERE study_id = r.id)));
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NULL END;
END $$;

CREATE FUNCTION collabcache_on_study_collaborator() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r study_collaborators; org uuid; change text;
BEGIN
  IF TG_OP = 'INSERT' THEN r := NEW; change := 'added';
  ELSIF TG_OP = 'DELETE' THEN r := OLD; change := 'removed';
  ELSIF NEW.role IS DISTINCT FROM OLD.role THEN r := NEW; change := 'role_changed';
  ELSE RETURN NULL;
  END IF;
  SELECT organization_id INTO org FROM studies WHERE id = r.study_id;
  IF org IS NULL THEN RETURN NULL; END IF;  -- the study is being deleted: its event covers this
  PERFORM collabcache_emit(jsonb_build_object(
    'type', 'collaboration.changed.v1', 'organization_id', org, 'study_id', r.study_id,
    'user_id', r.user_id, 'change', change));
  RETURN NULL;
END $$;

CREATE FUNCTION collabcache_on_comment() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r comments; org uuid; change text;
BEGIN
  IF TG_OP = 'INSERT' THEN r := NEW; change := 'added';
  ELSIF TG_OP = 'DELETE' THEN r := OLD; change := 'deleted';
  ELSIF NEW.body IS DISTINCT FROM OLD.body THEN r := NEW; change := 'edited';
  ELSIF NEW.resolved AND NOT OLD.resolved THEN r := NEW; change := 'resolved';
  ELSIF OLD.resolved AND NOT NEW.resolved THEN r := NEW; change := 'reopened';
  ELSE r := NEW; change := 'edited';
  END IF;
  SELECT organization_id INTO org FROM studies WHERE id = r.study_id;
  IF org IS NULL THEN RETURN NULL; END IF;  -- the study is being deleted: its event covers this
  PERFORM collabcache_emit(jsonb_build_object(
    'type', 'comment.changed.v1', 'organization_id', org, 'study_id', r.study_id,
    'comment_id', r.id, 'author_id', r.author_id, 'change', change,
    'author_team_ids', (SELECT coalesce(jsonb_agg(tm.team_id ORDER BY tm.team_id), '[]'::jsonb)
                        FROM team_members tm JOIN teams t ON t.id = tm.team_id
                        WHERE tm.user_id = r.author_id AND t.organization_id = org)));
  RETURN NULL;
END $$;
"""

# (table, function, timing): deletes that cascade are captured before the cascade runs.
TRIGGERS = [
    ("organization_members", "collabcache_on_organization_member", "AFTER INSERT OR UPDATE OR DELETE"),
    ("organizations", "collabcache_on_organization", "AFTER INSERT OR UPDATE"),
    ("organizations", "collabcache_on_organization", "BEFORE DELETE"),
    ("teams", "collabcache_on_team", "AFTER INSERT OR UPDATE OR DELETE"),
    ("team_members", "collabcache_on_team_member", "AFTER INSERT OR DELETE"),
    ("studies", "collabcache_on_study", "AFTER INSERT OR UPDATE"),
    ("studies", "collabcache_on_study", "BEFORE DELETE"),
    ("study_collaborators", "collabcache_on_study_collaborator", "AFTER INSERT OR UPDATE OR DELETE"),
    ("comments", "collabcache_on_comment", "AFTER INSERT OR UPDATE OR DELETE"),
]


def _trigger_name(table: str, timing: str) -> str:
    return f"collabcache_{table}_{timing.split()[0].lower()}"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE outbox (
            id bigserial PRIMARY KEY,
            xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
            event jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX ix_outbox_xid ON outbox (xid)")
    for function in FUNCTIONS.split("\n\n"):
        op.execute(function)
    for table, function, timing in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {_trigger_name(table, timing)} {timing} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()"
        )


def downgrade() -> None:
    for table, _, timing in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {_trigger_name(table, timing)} ON {table}")
    for function in sorted({f for _, f, _ in TRIGGERS}) + ["collabcache_emit"]:
        op.execute(f"DROP FUNCTION IF EXISTS {function} CASCADE")
    op.execute("DROP TABLE IF EXISTS outbox")
