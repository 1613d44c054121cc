"""Domain events of the current unit of work: recorded by services, applied after commit.

Services describe what they changed (`record`); once the transaction has committed, the
request scope turns the events into cache invalidations through the shared rules table,
before the response is sent (read-your-writes).
"""

from __future__ import annotations

from collabcache_shared.events import _Payload
from sqlalchemy.ext.asyncio import AsyncSession

_KEY = "collabcache.events"


def record(session: AsyncSession, *payloads: _Payload) -> None:
    session.info.setdefault(_KEY, []).extend(payloads)


def take(session: AsyncSession) -> list[_Payload]:
    events: list[_Payload] = session.info.pop(_KEY, [])
    return events
