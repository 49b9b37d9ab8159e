"""The HTTP server of ``serve``: uvicorn, with the limits a hostile network needs.

uvicorn's own settings give the keep-alive timeout. What it lacks (issue 34), its protocol
class gets here, by subclassing it (uvicorn takes a protocol class as its ``http`` setting):

* a cap on a request's line and headers (``max_header_kb``), answered 431: uvicorn's
  httptools parser has none, and a 150 MB header held the server for half a minute;
* a deadline for a request's headers (``header_timeout_s``, counted from the connection's
  start or the first byte of the next request: 408, then closed) and for its body
  (``body_timeout_s`` after the headers: closed), so slow or idle clients do not hold sockets;
* a cap on open connections per client address (``connections_per_address``, answered 429):
  the reverse proxy's addresses (``--forwarded-allow-ips``) are exempt, as they carry everyone.

At start the open-file limit is raised to its hard limit, and a warning says when it is still
low (each connection is a file).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import resource
import sys
from collections import Counter
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..config import ServiceConfig

__all__ = ["MIN_OPEN_FILES", "raise_open_files", "run"]

MIN_OPEN_FILES = 4096  # below this the service warns at start (see README: systemd)
SHUTDOWN_S = 3  # a stop closes connections still open (live streams) after this


def run(
    app: Any,
    settings: ServiceConfig,
    *,
    host: str,
    port: int,
    forwarded_allow_ips: str | None,
) -> None:
    """Serve ``app`` on ``host:port`` until stopped, with ``settings``' limits."""
    limit = raise_open_files()
    if limit < MIN_OPEN_FILES:
        print(
            f"warning: the open-file limit is {limit}: a few hundred idle connections could "
            f"refuse everyone; raise it to {MIN_OPEN_FILES} or more (systemd: "
            "LimitNOFILE=65536; a shell: ulimit -n 65536)",
            file=sys.stderr,
            flush=True,
        )
    uvicorn.run(
        app,
        host=host,
        port=port,
        http=guarded_protocol(settings, forwarded_allow_ips),
        timeout_keep_alive=settings.keep_alive_s,
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
        server_header=False,
        # open event streams never end by themselves: a stop waits this long for them
        timeout_graceful_shutdown=SHUTDOWN_S,
        log_level="warning",
    )


def raise_open_files() -> int:
    """Raise this process's open-file limit to its hard limit; the limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def guarded_protocol(settings: ServiceConfig, trusted: str | None) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with ``settings``' limits; connections from ``trusted``
    (the proxy's addresses, as ``--forwarded-allow-ips`` gives them) are not capped."""
    exempt = _Exempt(trusted)
    open_by_address: Counter[str] = Counter()

    class Guarded(_GuardedProtocol):
        limits = settings
        counts = open_by_address
        is_exempt = exempt

    return Guarded


class _Exempt:
    """Addresses, networks or ``*``, as uvicorn's ``--forwarded-allow-ips`` takes them."""

    def __init__(self, spec: str | None) -> None:
        items = [s.strip() for s in (spec or "").split(",") if s.strip()]
        self.everyone = "*" in items
        self.networks = []
        for item in items:
            if item != "*":
                try:
                    self.networks.append(ipaddress.ip_network(item, strict=False))
                except ValueError:  # a socket path or a name: never a TCP peer's address
                    continue

    def __call__(self, address: str) -> bool:
        if self.everyone:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


class _GuardedProtocol(HttpToolsProtocol):
    limits: ServiceConfig
    counts: Counter[str]
    is_exempt: _Exempt

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._address = self.client[0] if self.client else ""
        self._counted = False
        self._deadline: asyncio.TimerHandle | None = None
        self._in_head = True  # waiting for a request's line and headers
        self._head_bytes = 0
        if not self.is_exempt(self._address):
            if self.counts[self._address] >= self.limits.connections_per_address:
                self._answer(429, "too many open connections from this address", retry=10)
                return
            self.counts[self._address] += 1
            self._counted = True
        self._arm(self.limits.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._counted:
            self._counted = False
            self.counts[self._address] -= 1
            if self.counts[self._address] <= 0:
                del self.counts[self._address]
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
            if self._deadline is None:  # the next request on a kept-alive connection begins
                self._arm(self.limits.header_timeout_s)
        super().data_received(data)
        if (
            self._in_head
            and self._head_bytes > self.limits.max_header_kb * 1024
            and not self.transport.is_closing()
        ):
            self._answer(431, f"the request's headers are over {self.limits.max_header_kb} KB")

    # parser callbacks: the head is in, then the body

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        self._arm(self.limits.body_timeout_s)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_head = True
        super().on_message_complete()

    # deadlines

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._in_head and self._head_bytes:  # part of a request came: say why it ends
            self._answer(408, "the request did not arrive in time")
        else:  # idle, or a body too slow while the app waits for it: just close
            self.transport.close()

    def _answer(self, status: int, reason: str, *, retry: int | None = None) -> None:
        """Answer ``status`` with ``reason`` as JSON, outside the app, and close."""
        body = json.dumps({"error": reason}).encode()
        phrases = {408: "Request Timeout", 429: "Too Many Requests",
                   431: "Request Header Fields Too Large"}  # fmt: skip
        head = [
            f"HTTP/1.1 {status} {phrases[status]}",
            "content-type: application/json",
            f"content-length: {len(body)}",
            "cache-control: no-store",
            "connection: close",
        ]
        if retry is not None:
            head.append(f"retry-after: {retry}")
        self._disarm()
        self._in_head = False
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        self.transport.close()
