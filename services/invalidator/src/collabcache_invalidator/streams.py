"""The invalidator's group on the domain-events stream: the kit's `GroupStream`, whose
acknowledgements carry the waiting invalidation reports (`reports`) in their round trip."""

from __future__ import annotations

from collabcache_shared.cache.keys import KeySpace
from collabcache_shared.cache.store import AnyRedis
from collabcache_shared.events import (
    DOMAIN_EVENTS_DEAD_LETTER_STREAM,
    DOMAIN_EVENTS_STREAM,
    INVALIDATOR_GROUP,
)
from collabcache_shared.streams.group import GroupState, GroupStream
from collabcache_shared.streams.names import GroupNames

from .reports import AppliedReports

__all__ = ["EventStream", "GroupState", "names_under"]


def names_under(keyspace: KeySpace, consumer: str) -> GroupNames:
    return GroupNames(
        stream=keyspace.stream(DOMAIN_EVENTS_STREAM),
        group=INVALIDATOR_GROUP,
        consumer=consumer,
        dead_letter=keyspace.stream(DOMAIN_EVENTS_DEAD_LETTER_STREAM),
    )


class EventStream(GroupStream):
    def __init__(
        self,
        redis: AnyRedis,
        names: GroupNames,
        dead_letter_maxlen: int,
        reports: AppliedReports | None = None,
    ) -> None:
        super().__init__(redis, names, dead_letter_maxlen)
        self.reports = reports  # sent with each acknowledgement, in its round trip

    async def ack(self, *ids: bytes) -> None:
        """XACK, with the waiting invalidation reports in the same pipelined round trip (a
        report that fails is dropped; the acknowledgement's own failure raises)."""
        if self.reports is None or not self.reports.pending:
            await super().ack(*ids)
            return
        if not ids:
            return
        pipe = self.redis.pipeline(transaction=False)
        pipe.xack(self.names.stream, self.names.group, *ids)
        self.reports.drain_into(pipe)
        acked, *reported = await pipe.execute(raise_on_error=False)
        self.reports.sent(reported)
        if isinstance(acked, Exception):
            raise acked
