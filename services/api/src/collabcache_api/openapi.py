"""The API's OpenAPI document, as the TypeScript client is generated from it.

`python -m collabcache_api.openapi PATH` (what `make client` runs) writes it, keys sorted, so it
only changes when the API does (README, "Calling the API from a frontend").
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from collabcache_shared.settings import ApiSettings, CacheSettings, RedisSettings

from .main import create_app


def render() -> str:
    app = create_app(ApiSettings(environment="test"), RedisSettings(), CacheSettings())
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> None:
    document = render()
    if len(argv) > 1:
        Path(argv[1]).write_text(document, encoding="utf-8")
    else:
        sys.stdout.write(document)


if __name__ == "__main__":
    main(sys.argv)
