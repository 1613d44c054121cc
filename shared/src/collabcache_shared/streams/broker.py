"""FastStream as the stream workers' dispatcher, never their reader (ARCHITECTURE, "Stream
workers"; the evidence is in this package's docstring).

A worker declares its batch subscriber on a FastStream broker as usual: the AsyncAPI document,
FastStream's test broker, its telemetry middleware (a span per batch, linked to every message it
holds) and the subscriber's parser, decoder and middlewares all come from that declaration. The
kit reads the stream itself and hands each batch to the subscriber (`dispatch_to`), exactly as
FastStream's own read would. Starting this broker therefore gets every subscriber ready to be
handed batches (what FastStream's own test broker does) without starting FastStream's reading
task: no XGROUP CREATE at `$`, no XREADGROUP of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from faststream import AckPolicy
from faststream._internal.endpoint.subscriber import SubscriberUsecase
from faststream.redis import RedisBroker, RedisClusterBroker, StreamSub
from faststream.redis.message import BatchStreamMessage
from faststream.redis.subscriber.usecases.stream_subscriber import StreamBatchSubscriber

from ..telemetry.logs import BROKER_LOGGER
from .group import Entry
from .names import GroupNames
from .reader import Handle


async def _ready_for_batches(subscriber: SubscriberUsecase[Any]) -> None:
    # A Redis subscriber's own `start` is this (its lock, its handlers' call models), then a
    # reading task: the kit reads instead.
    await SubscriberUsecase.start(subscriber)
    subscriber._post_start()


class _DispatchesOnly(RedisBroker):
    async def start(self) -> None:
        await self.connect()
        for subscriber in self.subscribers:
            await _ready_for_batches(subscriber)
        for publisher in self.publishers:
            await publisher.start()
        self.running = True


class DispatchingRedisBroker(_DispatchesOnly):
    pass


class DispatchingRedisClusterBroker(_DispatchesOnly, RedisClusterBroker):
    pass


def dispatching_broker(url: str, *, cluster: bool, **options: Any) -> RedisBroker:
    """Its lines go through the process's logging (a plain logger: FastStream's own would
    write ANSI colours and bypass the format). Connecting sends nothing to Redis."""
    options.setdefault("logger", logging.getLogger(BROKER_LOGGER))
    kind = DispatchingRedisClusterBroker if cluster else DispatchingRedisBroker
    return kind(url, **options)


waiting_broker = dispatching_broker  # its earlier name, which tests/unit/test_log_output.py uses


def batch_subscriber(
    broker: RedisBroker, names: GroupNames, batch_size: int, **options: Any
) -> StreamBatchSubscriber:
    """A group's batch subscriber, declared for the AsyncAPI document and for `dispatch_to`:
    the handler settles each entry itself (manual acknowledgement) and answers nothing.
    `options`: its parser, decoder, title and description."""
    subscriber = broker.subscriber(
        stream=StreamSub(
            names.stream,
            group=names.group,
            consumer=names.consumer,
            batch=True,
            max_records=batch_size,
        ),
        ack_policy=AckPolicy.MANUAL,
        no_reply=True,
        **options,
    )
    assert isinstance(subscriber, StreamBatchSubscriber)
    return subscriber


def dispatch_to(subscriber: SubscriberUsecase[Any], stream: str) -> Handle:
    """The worker's batch handler: a batch handed to the (batch) subscriber as its own read
    would be. Whatever the handling raises, FastStream's middlewares have seen and logged it
    (the subscriber swallows it): the entries it did not settle stay pending."""

    async def handle(entries: Sequence[Entry]) -> None:
        message = BatchStreamMessage(
            type="bstream",
            channel=stream,
            message_ids=[entry.id for entry in entries],
            data=[entry.fields for entry in entries],
        )
        await subscriber.consume(message)

    return handle
