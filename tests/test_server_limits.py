"""The server's own limits (issue 34, points 1 and 2), on a real process over real sockets:
a header size cap, deadlines for a request's headers and body, idle connections closed, a cap
on open connections per client address, and the open-file limit checked at start.

The deadlines are set to 1 s in these servers' config; a socket timeout of 20 s only keeps a
failing test from hanging (no test measures how long anything took).
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_serve import NOW, Server, add_user, served_runs

SHORT = """[service]
header_timeout_s = 1
body_timeout_s = 1
keep_alive_s = 1
connections_per_address = 3
"""
GUARD_S = 20  # a socket read never waits longer than this


@pytest.fixture(scope="module")
def limited(plan_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A server with 1-second deadlines and 3 connections per address, and a dispatch token."""
    root = tmp_path_factory.mktemp("limits")
    runs = served_runs(plan_dir, root)
    token = add_user(runs, "disp", "dispatch")
    config = root / "service.toml"
    config.write_text(SHORT, "utf-8")
    server = Server(runs, "--config", str(config))
    server.start()
    yield server, token
    server.stop()


def _connect(server: Server, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket()
    sock.settimeout(GUARD_S)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", server.port))
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def _where(server: Server, token: str, source: str = "127.0.0.1") -> bytes:
    with _connect(server, source) as sock:
        sock.sendall(
            b"GET /api/where?near=39.99,-75.15 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Authorization: Bearer " + token.encode() + b"\r\n\r\n"
        )
        return _read_all(sock)


def _free_slots(server: Server, token: str) -> None:
    """Wait until the server has seen this address's sockets close (it counts them)."""
    for _ in range(100):
        if _where(server, token).startswith(b"HTTP/1.1 200"):
            return
        time.sleep(0.1)
    raise AssertionError("the server still counts closed connections")


def test_a_huge_header_without_a_login_is_refused_with_431(limited):
    server, token = limited
    with _connect(server) as sock:
        sock.sendall(b"GET /api/where HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ")
        try:
            for _ in range(64):  # 4 MB, in 64 KB pieces: the server answers before the end
                sock.sendall(b"a" * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]
    assert b"over 64 KB" in answer
    assert _where(server, token).startswith(b"HTTP/1.1 200")


def test_a_header_under_the_cap_is_read(limited):
    server, token = limited
    with _connect(server) as sock:
        sock.sendall(
            b"GET /api/where?near=39.99,-75.15 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"X-Padding: " + b"p" * 40_000 + b"\r\n"
            b"Authorization: Bearer " + token.encode() + b"\r\n\r\n"
        )
        assert _read_all(sock).startswith(b"HTTP/1.1 200")


def test_half_sent_headers_get_408_and_the_connection_closes(limited):
    server, token = limited
    with _connect(server) as sock:
        sock.sendall(b"GET /api/where?near=39.99,-75.15 HTTP/1.1\r\nHost: x\r\n")
        answer = _read_all(sock)  # the server closes it; without a deadline, recv times out
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:80]
    _free_slots(server, token)


def test_a_connection_that_sends_nothing_is_closed(limited):
    server, token = limited
    with _connect(server) as sock:
        assert _read_all(sock) == b""
    _free_slots(server, token)


def test_a_half_sent_body_is_cut_off(limited):
    server, token = limited
    with _connect(server) as sock:
        sock.sendall(
            b"POST /api/scene-requests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\nAuthorization: Bearer " + token.encode() + b"\r\n\r\n{"
        )
        answer = _read_all(sock)
    assert not answer.startswith(b"HTTP/1.1 2")
    _free_slots(server, token)


def test_an_idle_keep_alive_connection_is_closed(limited):
    server, token = limited
    with _connect(server) as sock:
        sock.sendall(
            b"GET /api/where?near=39.99,-75.15 HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer " + token.encode() + b"\r\n\r\n"
        )
        answer = _read_all(sock)  # the answer, then the close once the connection idles
    assert answer.startswith(b"HTTP/1.1 200")
    _free_slots(server, token)


def test_a_trickled_next_request_on_a_kept_connection_is_cut_off(limited):
    """After one answer, the next request's first bytes stop the keep-alive timer: the header
    deadline takes over, however the bytes trickle in."""
    server, token = limited
    with _connect(server) as sock:
        sock.sendall(
            b"GET /api/where?near=39.99,-75.15 HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer " + token.encode() + b"\r\n\r\n"
        )
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /api/where HTTP/1.1\r\n")
        rest = b""
        try:
            for _ in range(GUARD_S * 2):
                sock.sendall(b"X-A: b\r\n")
                time.sleep(0.5)
                sock.setblocking(False)
                try:
                    chunk = sock.recv(65536)
                except BlockingIOError:
                    chunk = None
                finally:
                    sock.setblocking(True)
                    sock.settimeout(GUARD_S)
                if chunk is not None:
                    rest += chunk
                    if not chunk:
                        break
        except (BrokenPipeError, ConnectionResetError):
            pass
    assert b"HTTP/1.1 408 " in rest or rest == b"", rest[:80]
    _free_slots(server, token)


def test_open_connections_are_capped_per_address(limited):
    server, token = limited
    held = [_connect(server) for _ in range(3)]
    try:
        time.sleep(0.2)  # not a timing assertion: lets the server accept the three first
        answer = _where(server, token)
        assert answer.startswith(b"HTTP/1.1 429 "), answer[:80]
        assert b"retry-after: 10" in answer.lower()
        # another address is not held back by this one's connections
        assert _where(server, token, source="127.0.0.2").startswith(b"HTTP/1.1 200")
    finally:
        for sock in held:
            sock.close()
    _free_slots(server, token)


def test_the_proxy_address_is_not_capped(plan_dir: Path, tmp_path: Path):
    runs = served_runs(plan_dir, tmp_path)
    token = add_user(runs, "disp", "dispatch")
    config = tmp_path / "service.toml"
    config.write_text(SHORT, "utf-8")
    server = Server(runs, "--config", str(config), "--forwarded-allow-ips", "127.0.0.1")
    server.start()
    try:
        held = [_connect(server) for _ in range(5)]
        try:
            assert _where(server, token).startswith(b"HTTP/1.1 200")
        finally:
            for sock in held:
                sock.close()
    finally:
        server.stop()


def test_a_low_open_file_limit_is_raised_or_warned_about(plan_dir: Path, tmp_path: Path):
    runs = served_runs(plan_dir, tmp_path)
    server = Server(runs)

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))

    process = subprocess.Popen(
        [sys.executable, "-m", "outreach_routes", "serve", "--runs-dir", str(runs),
         "--port", str(server.port)],
        env={**os.environ, "OUTREACH_ROUTES_NOW": NOW}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, preexec_fn=low_limit,
    )  # fmt: skip
    try:
        server.process = process
        server.wait_for_port()
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
    assert "warning: the open-file limit is 1024" in output
    assert "LimitNOFILE=65536" in output
