"""The read-your-writes table: every write endpoint, and every cached GET it changes."""

from __future__ import annotations

from tests.integration.cache_http.cases_organizations import ORGANIZATION_CASES
from tests.integration.cache_http.cases_studies import STUDY_CASES
from tests.integration.cache_http.writes import Case

CASES: list[Case] = [*ORGANIZATION_CASES, *STUDY_CASES]
