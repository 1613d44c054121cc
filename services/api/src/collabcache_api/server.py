"""Serving the API with uvicorn (README, "Security"): a bounded request head, forwarded
headers trusted only from the proxies `FORWARDED_ALLOW_IPS` names (none by default), and a
bounded wait for the requests in flight at shutdown (`API_GRACEFUL_SHUTDOWN_SECONDS`).

uvicorn's httptools protocol reads a request's head whole before the application sees it, so a
limit on headers must live here, in the server: a head longer than `MAX_HEADER_BYTES` is
answered 431 and the connection closed before the parser holds it.
"""

from __future__ import annotations

import gc
import socket
from typing import Any, cast

from uvicorn import Config, Server
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from collabcache_shared.settings import ApiSettings

TOO_LARGE = b"Request header fields too large"
HEAD_END = b"\r\n\r\n"


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """Counts a request's head as it arrives (up to the blank line that ends it) and refuses
    it before the parser buffers more than `max_header_bytes` of it."""

    max_header_bytes = 16 * 1024

    def __init__(self, config: Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.max_header_bytes = getattr(config, "max_header_bytes", self.max_header_bytes)
        self._head_bytes = 0
        self._in_head = True
        self._tail = b""  # the last bytes of the head so far: its end may span two reads

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes, self._tail = True, 0, b""  # a pipelined request

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            seen = self._tail + data
            end = seen.find(HEAD_END)
            self._head_bytes += len(data) if end < 0 else end + len(HEAD_END) - len(self._tail)
            self._tail = seen[-(len(HEAD_END) - 1) :]
            if self._head_bytes > self.max_header_bytes:
                if not self.transport.is_closing():
                    self._refuse_head()
                return
        super().data_received(data)

    def _refuse_head(self) -> None:
        self.logger.info("request head over %d bytes: 431", self.max_header_bytes)
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(TOO_LARGE), TOO_LARGE)
        )
        self.transport.close()


class ApiConfig(Config):
    """uvicorn's configuration, which sets up the service's logging again in each worker
    process it is sent to (uvicorn's own setup there knows nothing of it)."""

    in_workers = False  # set once the configuration is about to be sent to workers
    max_header_bytes = BoundedHttpToolsProtocol.max_header_bytes

    def configure_logging(self) -> None:
        super().configure_logging()
        if self.in_workers:
            from collabcache_shared.telemetry.logs import configure_logging
            from collabcache_shared.telemetry.settings import TelemetrySettings

            configure_logging(TelemetrySettings(), "collabcache-api")

    def load(self) -> None:
        """The app imported (in each worker); then what it took to get here (the modules,
        the app) is moved out of the garbage collector's sight: a full collection, which stops
        the worker, then walks only what requests left alive (README, "Running on more
        cores")."""
        super().load()
        gc.collect()
        gc.freeze()


def server_config(settings: ApiSettings, app: Any, **options: Any) -> ApiConfig:
    """The uvicorn configuration production runs (`app` an import string or an app). It
    travels to worker processes pickled: the protocol is a module-level class, and its limit
    travels on the configuration."""
    proxies = settings.forwarded_allow_ips
    config = ApiConfig(
        app,
        host=settings.api_host,
        port=settings.api_port,
        http=BoundedHttpToolsProtocol,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
        server_header=False,
        access_log=settings.access_log,
        timeout_graceful_shutdown=settings.api_graceful_shutdown_seconds,
        log_config=None,  # uvicorn's loggers propagate to the root handler configured
        **options,
    )
    config.max_header_bytes = settings.max_header_bytes
    return config


def serve(config: ApiConfig) -> None:
    """Serve `config` (README, "Running on more cores"): in this process, or in `workers`
    processes, each listening on a socket of its own on the same port (`OwnListener`);
    uvicorn's supervisor replaces a worker that dies and stops them all on SIGINT/SIGTERM."""
    if config.workers <= 1:
        Server(config).run()
        return
    config.in_workers = True
    listen_reusing_port(config.host, config.port).close()  # the port is free: fail here, once
    listener = OwnListener(config.host, config.port)
    Multiprocess(config, sockets=[cast(socket.socket, listener)]).run()


class OwnListener:
    """A worker's listening socket, made in the worker: it travels to the worker pickled, and
    unpickling it there binds a socket of that process's own with `SO_REUSEPORT`, so the kernel
    spreads new connections over the workers. One socket shared by every worker leaves each
    connection with whichever worker accepted it first: a client's (or proxy's) pool of
    keep-alive connections opened in a burst then lands on one worker while the others idle."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def __reduce__(self) -> tuple[Any, tuple[str, int]]:
        return listen_reusing_port, (self.host, self.port)


def listen_reusing_port(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port` that others of this user may bind too (`SO_REUSEPORT`);
    uvicorn makes it listen."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock
