"""Who reads what: a stream's key, its consumer group, this process's consumer name in it, and
where its dead letters go."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass


def unique_consumer_name() -> str:
    """Unique per process, readable in XINFO CONSUMERS: `<hostname>-<pid>-<random>`."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class GroupNames:
    stream: str  # the stream's Redis key
    group: str
    consumer: str  # this process (`unique_consumer_name` unless a test names it)
    dead_letter: str | None = None  # the dead-letter stream's key (None: nothing dead-letters)
