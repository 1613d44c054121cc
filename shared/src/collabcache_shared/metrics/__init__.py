"""Cache and invalidation metrics aggregated in Redis: written by the metrics service (`writer`,
from batches folded by `fold`), read by it and by the API's admin endpoint (`reader`).
`writer`'s docstring argues why the aggregates live in Redis and why they are exact."""
