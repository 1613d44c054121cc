"""A worker of the product's server, once it has loaded the app, has moved what it took to get
there out of the garbage collector's sight (`server.ApiConfig.load`): a full collection walks
only what requests left alive. Checked in a process of its own: a frozen heap would stay
frozen in the test process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from collabcache_shared.settings import ApiSettings

LOAD_AS_A_WORKER_DOES = """
import gc, json
from collabcache_api.server import server_config
from collabcache_shared.settings import ApiSettings
config = server_config(ApiSettings(), "collabcache_api.main:create_app", factory=True)
config.load()
print(json.dumps([gc.get_freeze_count(), len(gc.get_objects())]))
"""


def test_a_worker_leaves_the_loaded_app_out_of_full_collections(
    api_settings: ApiSettings,
) -> None:
    env = {**os.environ, "DATABASE_URL": api_settings.database_url}
    command = [sys.executable, "-c", LOAD_AS_A_WORKER_DOES]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    frozen, walked = json.loads(done.stdout.strip().splitlines()[-1])
    assert frozen > 10 * walked, (frozen, walked)
