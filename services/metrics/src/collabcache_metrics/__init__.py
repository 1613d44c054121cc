"""collabcache metrics: aggregates cache lookups and invalidations into rolling statistics."""

__version__ = "0.1.0"
