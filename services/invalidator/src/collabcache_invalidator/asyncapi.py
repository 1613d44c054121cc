"""The invalidator's AsyncAPI document, generated from its FastStream application.

`python -m collabcache_invalidator.asyncapi PATH` (what `make asyncapi` runs) writes it. The
deployment-specific parts are fixed so the document only changes when the service does: the
default key prefix, a placeholder server, and a placeholder for the per-process consumer name.
"""

from __future__ import annotations

import sys
from pathlib import Path

from collabcache_shared.settings import InvalidatorSettings, RedisSettings

from .bootstrap import build
from .main import app_of

DOCUMENTED_REDIS = "redis://localhost:6379/0"
DOCUMENTED_PREFIX = "cc"
DOCUMENTED_CONSUMER = "<hostname>-<pid>-<random>"


def render() -> str:
    invalidator = build(
        RedisSettings(url=DOCUMENTED_REDIS, key_prefix=DOCUMENTED_PREFIX),
        InvalidatorSettings(),
        consumer=DOCUMENTED_CONSUMER,
    )
    return app_of(invalidator).schema.to_specification().to_yaml()


def main(argv: list[str]) -> None:
    document = render()
    if len(argv) > 1:
        Path(argv[1]).parent.mkdir(parents=True, exist_ok=True)
        Path(argv[1]).write_text(document, encoding="utf-8")
    else:
        sys.stdout.write(document)


if __name__ == "__main__":
    main(sys.argv)
