"""Fixtures for the HTTP-level cache tests (the app's key space `app_keyspace`, a `scene` and
the `sql` statement counter are tests/integration/conftest.py's)."""

from __future__ import annotations

import pytest

from collabcache_api.pagination import PageRequest
from collabcache_shared.settings import ApiSettings


@pytest.fixture(scope="session")
def page_variant(api_settings: ApiSettings) -> str:
    """The hash field variant of a first page of the default size."""
    return PageRequest(limit=api_settings.default_page_size, after=None).variant
