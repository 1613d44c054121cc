"""a deleted user's event

Deleting a user (by hand: the API deletes no user) records `user.changed.v1`, so what is
cached for them, the record that they exist included, is dropped and their tokens are refused
(README, "Security"). Captured BEFORE the delete, like the other deletes that cascade.

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

FUNCTION = r"""
CREATE FUNCTION collabcache_on_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM collabcache_emit(jsonb_build_object(
    'type', 'user.changed.v1', 'user_id', OLD.id, 'change', 'deleted'));
  RETURN OLD;
END $$;
"""


def upgrade() -> None:
    op.execute(FUNCTION)
    op.execute(
        "CREATE TRIGGER collabcache_users_before BEFORE DELETE ON users "
        "FOR EACH ROW EXECUTE FUNCTION collabcache_on_user()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS collabcache_users_before ON users")
    op.execute("DROP FUNCTION IF EXISTS collabcache_on_user()")
