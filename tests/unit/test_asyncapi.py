"""The committed AsyncAPI documents match what the applications generate (`make asyncapi`)."""

from __future__ import annotations

from pathlib import Path

import yaml

from collabcache_invalidator import asyncapi as invalidator_asyncapi

DOCS = Path(__file__).resolve().parents[2] / "docs" / "asyncapi"


def test_the_invalidator_document_is_up_to_date() -> None:
    committed = (DOCS / "invalidator.yaml").read_text(encoding="utf-8")

    assert invalidator_asyncapi.render() == committed, "run `make asyncapi` and commit the result"


def test_the_invalidator_document_describes_the_domain_events_channel() -> None:
    document = yaml.safe_load(invalidator_asyncapi.render())

    (channel,) = document["channels"].values()
    assert channel["address"] == "cc:stream:domain-events"
    assert channel["bindings"]["redis"]["groupName"] == "invalidator"
    assert channel["bindings"]["redis"]["method"] == "xreadgroup"
    schemas = document["components"]["schemas"]
    assert {"DomainEvent", "MembershipChanged", "CommentChanged"} <= set(schemas)
