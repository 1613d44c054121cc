"""The cluster of the history check: one per module, torn down whatever the tests did."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.history.cluster import Cluster


@pytest.fixture(scope="module")
def cluster(servers: dict[str, str]) -> Iterator[Cluster]:
    with Cluster(servers["postgres"]) as running:
        yield running
