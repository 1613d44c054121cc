from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StrictBool, StringConstraints, model_validator

from ..schemas import Body, PatchBody, Public, StorableText

# Generous but bounded: an oversized body is a 422, never a 5xx or a truncated comment.
MAX_COMMENT_LENGTH = 10_000
CommentText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_COMMENT_LENGTH),
    StorableText,
]


class CommentCreate(Body):
    body: CommentText = Field(examples=["The second replicate matches; ready to review."])


class CommentUpdate(PatchBody):
    body: CommentText | None = None
    # Strict: `0`, `"no"` or `"false"` are not the boolean the schema asks for.
    resolved: StrictBool | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> CommentUpdate:
        if self.body is None and self.resolved is None:
            raise ValueError("Give a body, resolved, or both")
        return self


class CommentPublic(Public):
    id: uuid.UUID
    study_id: uuid.UUID
    author_id: uuid.UUID | None
    author_name: str | None
    body: str
    resolved: bool
    created_at: datetime
    updated_at: datetime
