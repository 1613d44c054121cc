"""Tracing and logging, set up once per service in its composition root.

- `settings.TelemetrySettings`: the standard `OTEL_*` variables plus `LOG_FORMAT` / `LOG_LEVEL`.
- `tracing`: a `TracerProvider` per service (resource `service.name`, `service.version`,
  `deployment.environment`; spans batched to `OTEL_EXPORTER_OTLP_ENDPOINT` over OTLP
  HTTP/protobuf), or None when no endpoint is configured: then nothing is instrumented and
  tracing costs nothing. Helpers for the Redis client and FastStream brokers take the provider
  explicitly.
- `propagation`: the W3C `traceparent` a write stores with its outbox row and the relay sends
  with its stream message, so the relay's and the invalidator's spans join the request's trace.
- `logs`: JSON (production) or text lines carrying the active span's `trace_id` / `span_id`.
"""
