"""collabcache invalidator: consumes domain events and invalidates the cache entries they affect."""

__version__ = "0.1.0"
