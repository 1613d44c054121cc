"""Request-body building blocks shared by the resource schemas."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class Body(BaseModel):
    """Base of every request body: unknown fields are refused with a 422, not ignored."""

    model_config = ConfigDict(extra="forbid")


class Public(BaseModel):
    """Base of every response model (read from ORM rows or SQL rows)."""

    model_config = ConfigDict(from_attributes=True)
