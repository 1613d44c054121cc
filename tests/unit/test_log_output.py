"""What the services write to their logs: FastStream's lines in the process's format (no ANSI
colour codes in a file), and no line per request unless asked for."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from collabcache_api.server import server_config
from collabcache_shared.settings import ApiSettings, InvalidatorSettings, MetricsSettings
from collabcache_shared.streams.broker import waiting_broker
from collabcache_shared.telemetry.logs import BROKER_LOGGER, configure_logging
from collabcache_shared.telemetry.settings import LogFormat, TelemetrySettings


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root, faststream = logging.getLogger(), logging.getLogger("faststream")
    saved = (list(root.handlers), root.level, list(faststream.handlers), faststream.propagate)
    yield
    root.handlers[:], faststream.handlers[:] = saved[0], saved[2]
    root.setLevel(saved[1])
    faststream.propagate = saved[3]


@pytest.mark.usefixtures("restored_logging")
def test_faststream_lines_come_out_in_the_process_format(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(TelemetrySettings(log_format=LogFormat.JSON), "collabcache-test")
    broker = waiting_broker("redis://127.0.0.1:1/0", cluster=False)
    broker_logger = broker.config.logger.params_storage.get_logger(context=broker.context)
    assert broker_logger is logging.getLogger(BROKER_LOGGER)  # (FastStream's own: colours)
    logging.getLogger("faststream").warning("app line")
    broker_logger.warning("broker line")
    written = capsys.readouterr().err
    assert "\x1b[" not in written
    lines = [line for line in written.splitlines() if "line" in line]
    assert len(lines) == 2 and all(line.startswith("{") for line in lines), written


def test_no_access_log_line_by_default() -> None:
    assert server_config(ApiSettings(), "collabcache_api.main:create_app").access_log is False
    assert not InvalidatorSettings().access_log and not MetricsSettings().access_log
    asked = ApiSettings(access_log=True)
    assert server_config(asked, "collabcache_api.main:create_app").access_log is True
