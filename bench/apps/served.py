"""Serve an application factory in worker processes as production serves the API
(`collabcache_api.server.serve`: each worker listens on a socket of its own with
`SO_REUSEPORT`, so the kernel spreads new connections over them; README, "Running on more
cores"). `uvicorn --workers` shares one socket, and a client's keep-alive connections then
stay with whichever worker accepted them.

Usage: `python -m bench.apps.served FACTORY` with `API_HOST`, `API_PORT` and `API_WORKERS` in
the environment (bench.pipeline_stack.Service sets them).
"""

from __future__ import annotations

import sys

from collabcache_api.server import serve, server_config
from collabcache_shared.settings import ApiSettings


def main(factory: str) -> None:
    settings = ApiSettings()
    serve(server_config(settings, factory, factory=True, workers=settings.api_workers))


if __name__ == "__main__":
    main(sys.argv[1])
