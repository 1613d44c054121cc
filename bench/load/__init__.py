"""Comparative load benchmarks (README, "Benchmarks"): one seeded database, four variants of the
API, an open-loop generator at fixed arrival rates, and an oracle for stale reads. See
`bench.run`."""
