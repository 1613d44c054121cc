"""The bench's database reads per request count what requests' tasks read after their
responses (refresh-ahead, refreshes of stale entries): each API process's growth over a phase."""

from __future__ import annotations

from bench.load.figures import background_reads, reads_per_request
from bench.load.generator import Sample


def sample(reads: int, worker: int, background: int) -> Sample:
    return Sample("GET /x", False, 0.0, 1.0, 200, "HIT", reads, reads, 0.0, 0.0,
                  worker=worker, background_reads=background)  # fmt: skip


def test_each_process_adds_what_its_background_read_over_the_samples() -> None:
    samples = [sample(1, 10, 100), sample(0, 11, 7), sample(2, 10, 104), sample(1, 11, 9)]
    assert background_reads(samples) == (104 - 100) + (9 - 7)
    assert reads_per_request(samples) == round((4 + 6) / 4, 3)


def test_without_background_headers_it_is_the_mean_of_the_requests_own_reads() -> None:
    plain = Sample("GET /x", False, 0.0, 1.0, 200, "MISS", 3, 3, 0.0, 0.0)
    assert reads_per_request([plain, plain]) == 3.0 and background_reads([plain]) == 0
