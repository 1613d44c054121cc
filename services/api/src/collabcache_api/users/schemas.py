from __future__ import annotations

import uuid

from ..schemas import Public


class UserPublic(Public):
    id: uuid.UUID
    email: str
    name: str
    is_platform_admin: bool
