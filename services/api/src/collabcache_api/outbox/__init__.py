"""The transactional outbox's relay: database triggers -> `outbox` -> the domain-events stream."""
