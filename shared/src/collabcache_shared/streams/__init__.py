"""The stream-worker kit: one consumer-group worker for the invalidator and the metrics service
(ARCHITECTURE, "Stream workers"). A service keeps its batch handler, its settings and its
composition root; the kit does the rest:

- `group`: the group's Redis commands (created from the stream's start, batches, claims with
  delivery counts, dead letters, leaving, the backlog);
- `reader`: a stream's new entries read in batches, for as long as the worker runs, the group
  created again when Redis lost it;
- `claims`: entries other consumers left pending, claimed once idle, or abandoned past
  `max_deliveries`;
- `worker`: readers and claims together, and a clean stop (batches in flight finished, own
  pending entries settled when asked, the group left);
- `broker`, `app`, `health`: FastStream as the dispatcher, the ASGI application, its probes.

Why the kit reads with redis-py and FastStream only dispatches. FastStream 0.7.8's Redis stream
subscriber (`faststream/redis/subscriber/usecases/stream_subscriber.py`, `basic.py`) forced a
workaround in each service for each of these:

1. `start` creates the group at `$` (`group_create_id = "$" if self.last_id == ">"`): what was
   published before the first consumer ran is never read (ag2ai/faststream#2694). Each service
   created the group from 0 itself before the subscriber started.
2. `_consume` pings Redis before its first read and a failed start takes the application down,
   so each service ran a "waiting broker" that pinged until Redis answered.
3. On NOGROUP (a Redis restarted without its data) the subscriber stops for good and exits the
   application (`_stop_on_terminal_error`; by design, ag2ai/faststream#2855, #3115); after any
   other failed read it sleeps `CONSUME_ERROR_BACKOFF_SECONDS` (5 s). Each service's claim loop
   recreated the group and restarted the subscriber (`resume_consuming`, `redis_lost`).
4. `TasksMixin.stop` cancels the reading task without awaiting it: a read cut off after Redis
   answered it leaves entries pending to a consumer that then left its group, and a read still
   reaching Redis after XGROUP DELCONSUMER re-adds it (ag2ai/faststream#2462 on lists). Each
   service noted its subscribers' tasks, waited for them, and the metrics service applied its
   own pending entries before leaving.
5. Claiming: a `min_idle_time` subscriber only claims, one entry per XAUTOCLAIM, and
   `claim_min_idle_time` (XREADGROUP CLAIM) needs Redis 8.4; Redis here is 7. Each service ran
   a claim loop beside the subscriber ("FastStream 0.7 cannot do this").
6. The batch parser JSON-decodes every entry and encodes the whole batch again as one JSON
   body (`RedisBatchStreamParser`): both services replaced it (the invalidator decodes each
   entry on its own, `decoding.py`; the metrics service folds the raw entries).

All six concern reading. What FastStream does well is what happens to a batch once read, and
around it: the AsyncAPI document generated from the subscriber declaration, `TestRedisBroker`
publishing straight into a handler, its OpenTelemetry middleware (a `<stream> process` span per
batch, linked to each message's trace), FastDepends, and the ASGI application with its
lifespan. So the services still declare their batch subscribers on a FastStream broker, and the
kit (plain redis-py XREADGROUP, XAUTOCLAIM, XPENDING, XACK) hands every batch it reads or
claims to that subscriber (`broker.dispatch_to`); the broker gets its subscribers ready without
starting FastStream's reading (`broker.DispatchingRedisBroker`). Points 1 to 5 are gone; the
parsers of point 6 stay in the services, which know their entries.
"""
