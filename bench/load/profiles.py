"""How long and how hard: the smoke, quick and full profiles of the load benchmark."""

from __future__ import annotations

from dataclasses import dataclass

# The bench-scale dataset (README, "Benchmarks"; COPY-loaded by the seed command in ~6-9 s).
BENCH_SEED = ["--orgs", "100", "--users", "10000", "--teams", "1000"]
BENCH_SEED += ["--studies", "5000", "--comments", "100000"]
SMOKE_SEED = ["--orgs", "10", "--users", "300", "--teams", "30", "--studies", "150"]
SMOKE_SEED += ["--comments", "1500"]


@dataclass(frozen=True)
class Phase:
    name: str
    rate: float  # requests per second, fixed arrival rate
    seconds: float


@dataclass(frozen=True)
class Profile:
    name: str
    seed_args: list[str]
    # The first phase starts from a cold cache: its hit rate per second is the warming curve.
    phases: tuple[Phase, ...]
    oracle_share: float  # share of the GETs the oracle reads again
    # Start every variant's processes at once (their imports overlap): quicker, but the idle
    # processes share the machine; only for the smoke run, whose figures do not count.
    start_all_first: bool = False
    # API worker processes per variant; None: `API_WORKERS` or the product's default.
    api_workers: int | None = None
    # The warm command's arguments (README, "Cache warming"), run during the first phase: the
    # hot set it fills. The Zipf mix draws every user of the bench dataset (the 4,528 with no
    # activity included, 6% of the draws) and their studies: it fills all 10,000 users and
    # 5,000 studies.
    warm_args: tuple[str, ...] = ("--users", "10000", "--studies", "5000")


PROFILES = {
    "smoke": Profile(
        "smoke",
        SMOKE_SEED,
        (Phase("warming", 20, 2), Phase("normal", 20, 1), Phase("peak", 40, 1)),
        0.2,
        start_all_first=True,
        api_workers=1,  # eight processes would start at once on a CI machine
        warm_args=("--users", "100", "--studies", "50"),
    ),
    "quick": Profile(
        "quick",
        BENCH_SEED,
        (
            Phase("warming", 50, 6),
            # 500-2,000 requests a phase: a p99 over 200 would be the second-slowest request.
            Phase("normal", 50, 10),
            Phase("peak", 200, 10),
            Phase("sustained", 100, 10),
        ),
        0.1,
    ),
    "full": Profile(
        "full",
        BENCH_SEED,
        (
            Phase("warming", 50, 300),
            Phase("normal", 50, 600),
            Phase("peak", 200, 300),
            Phase("sustained", 100, 1800),
        ),
        0.05,
    ),
}
