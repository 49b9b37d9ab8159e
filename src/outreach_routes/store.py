"""The service's database: accounts, login codes, sessions, check-ins, scene requests, audit.

SQLite through the standard library, in WAL mode with ``synchronous=FULL``: a write the
service has acknowledged is on disk, so a crash or a ``kill -9`` loses nothing it answered for.
Each call opens its own short connection, so the service's threads never share one. The schema
version is ``PRAGMA user_version``; a database made by a newer version of this program is
refused with the fix. Back up with :func:`backup` (SQLite's online backup), never a file copy
while the service runs.

Secrets are never stored: a token, a login code or a session id is kept as its SHA-256, looked
up by it, and compared with :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import InputDataError

__all__ = ["ROLES", "Store", "User", "digest"]

SCHEMA_VERSION = 1
ROLES = ("coordinator", "dispatch", "team")

_SCHEMA = """
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    team TEXT,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE login_codes (
    code_sha256 TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name),
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE TABLE sessions (
    id_sha256 TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name),
    expires_at TEXT NOT NULL
);
CREATE TABLE checkins (
    client_id TEXT PRIMARY KEY,
    team TEXT NOT NULL,
    night TEXT NOT NULL,
    stop_id TEXT,
    status TEXT NOT NULL,
    tapped_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    reason TEXT,
    lat REAL,
    lon REAL,
    scene_request_id TEXT,
    late INTEGER NOT NULL,
    user TEXT NOT NULL
);
CREATE INDEX checkins_by_team ON checkins (team, received_at);
CREATE TABLE scene_requests (
    id TEXT PRIMARY KEY,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    place TEXT NOT NULL,
    asked_by TEXT NOT NULL,
    note TEXT NOT NULL,
    nearest_team TEXT,
    created_at TEXT NOT NULL,
    user TEXT NOT NULL
);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE failed_logins (
    address TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX failed_logins_by_address ON failed_logins (address, at);
"""


def digest(secret: str) -> str:
    """SHA-256 of a token, code or session id: what the database keeps instead."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class User:
    name: str
    role: str
    team: str | None


class Store:
    """The service's SQLite database at ``path`` (made, with its schema, when missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.transaction() as db:  # one writer at a time: two workers may start at once
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise InputDataError(
                    f"{self.path}: database schema version {version} is newer than this "
                    f"outreach-routes knows ({SCHEMA_VERSION}); upgrade outreach-routes, or "
                    "point --db at another file"
                )
            if version == 0:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection for one unit of work, committed on success, rolled back on error."""
        try:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise InputDataError(f"{self.path}: cannot open the database ({exc})") from exc
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            db.execute("PRAGMA foreign_keys = ON")
            yield db
        finally:
            db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # --- accounts -----------------------------------------------------------------------------

    def add_user(self, name: str, role: str, team: str | None, now: dt.datetime) -> str:
        """Create an account; returns its token (shown once, never stored)."""
        if role not in ROLES:
            raise InputDataError(f"role {role!r}: give one of {', '.join(ROLES)}")
        if (role == "team") != (team is not None):
            raise InputDataError(
                f"user {name!r}: a team account needs --team (the team's name in the plan), "
                "and only a team account takes one"
            )
        token = secrets.token_urlsafe(32)
        try:
            with self.transaction() as db:
                db.execute(
                    "INSERT INTO users (name, role, team, token_sha256, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (name, role, team, digest(token), now.isoformat()),
                )
        except sqlite3.IntegrityError as exc:
            raise InputDataError(
                f"user {name!r} exists already; revoke it first or choose another name"
            ) from exc
        return token

    def users(self) -> list[dict[str, Any]]:
        with self.connect() as db:
            rows = db.execute(
                "SELECT name, role, team, created_at, revoked_at FROM users ORDER BY name"
            ).fetchall()
        return [dict(r) for r in rows]

    def revoke(self, name: str, now: dt.datetime) -> None:
        with self.transaction() as db:
            done = db.execute(
                "UPDATE users SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                (now.isoformat(), name),
            ).rowcount
            db.execute("DELETE FROM sessions WHERE user = ?", (name,))
        if not done:
            raise InputDataError(f"user {name!r}: no such active user (see `users list`)")

    def user_by_token(self, token: str) -> User | None:
        return self._user("token_sha256", token)

    def _user(self, column: str, secret: str) -> User | None:
        wanted = digest(secret)
        with self.connect() as db:
            row = db.execute(
                f"SELECT name, role, team, {column} AS kept FROM users "
                f"WHERE {column} = ? AND revoked_at IS NULL",
                (wanted,),
            ).fetchone()
        if row is None or not hmac.compare_digest(row["kept"], wanted):
            return None
        return User(row["name"], row["role"], row["team"])

    def login_code(self, name: str, now: dt.datetime, minutes: int = 15) -> str:
        """A one-time login code for ``name``, valid ``minutes``."""
        code = secrets.token_urlsafe(24)
        with self.transaction() as db:
            row = db.execute(
                "SELECT 1 FROM users WHERE name = ? AND revoked_at IS NULL", (name,)
            ).fetchone()
            if row is None:
                raise InputDataError(f"user {name!r}: no such active user (see `users list`)")
            expires = now + dt.timedelta(minutes=minutes)
            db.execute(
                "INSERT INTO login_codes (code_sha256, user, expires_at) VALUES (?, ?, ?)",
                (digest(code), name, expires.isoformat()),
            )
        return code

    def redeem(self, code: str, now: dt.datetime, days: int = 14) -> tuple[User, str] | None:
        """Exchange a login code (once, before it expires) for a session id."""
        wanted = digest(code)
        with self.transaction() as db:
            row = db.execute(
                "SELECT c.code_sha256, c.user, c.expires_at, c.used_at, u.role, u.team "
                "FROM login_codes c JOIN users u ON u.name = c.user "
                "WHERE c.code_sha256 = ? AND u.revoked_at IS NULL",
                (wanted,),
            ).fetchone()
            if (
                row is None
                or not hmac.compare_digest(row["code_sha256"], wanted)
                or row["used_at"] is not None
                or dt.datetime.fromisoformat(row["expires_at"]) < now
            ):
                return None
            db.execute(
                "UPDATE login_codes SET used_at = ? WHERE code_sha256 = ?",
                (now.isoformat(), wanted),
            )
            session = secrets.token_urlsafe(32)
            db.execute(
                "INSERT INTO sessions (id_sha256, user, expires_at) VALUES (?, ?, ?)",
                (digest(session), row["user"], (now + dt.timedelta(days=days)).isoformat()),
            )
        return User(row["user"], row["role"], row["team"]), session

    def user_by_session(self, session: str, now: dt.datetime) -> User | None:
        wanted = digest(session)
        with self.connect() as db:
            row = db.execute(
                "SELECT s.id_sha256, s.expires_at, u.name, u.role, u.team FROM sessions s "
                "JOIN users u ON u.name = s.user WHERE s.id_sha256 = ? AND u.revoked_at IS NULL",
                (wanted,),
            ).fetchone()
        if (
            row is None
            or not hmac.compare_digest(row["id_sha256"], wanted)
            or dt.datetime.fromisoformat(row["expires_at"]) < now
        ):
            return None
        return User(row["name"], row["role"], row["team"])

    def failed_login(self, address: str, now: dt.datetime, window_min: int = 15) -> int:
        """Record a failed login from ``address``; the number in the last ``window_min``."""
        since = (now - dt.timedelta(minutes=window_min)).isoformat()
        with self.transaction() as db:
            db.execute("INSERT INTO failed_logins VALUES (?, ?)", (address, now.isoformat()))
            db.execute("DELETE FROM failed_logins WHERE at < ?", (since,))
            return db.execute(
                "SELECT COUNT(*) FROM failed_logins WHERE address = ? AND at >= ?",
                (address, since),
            ).fetchone()[0]

    def recent_failures(self, address: str, now: dt.datetime, window_min: int = 15) -> int:
        since = (now - dt.timedelta(minutes=window_min)).isoformat()
        with self.connect() as db:
            return db.execute(
                "SELECT COUNT(*) FROM failed_logins WHERE address = ? AND at >= ?",
                (address, since),
            ).fetchone()[0]

    # --- check-ins, scene requests, audit -----------------------------------------------------

    def add_checkin(self, row: dict[str, Any]) -> bool:
        """Store a check-in; False when its ``client_id`` was stored before (a repeat)."""
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self.transaction() as db:
            done = db.execute(
                f"INSERT OR IGNORE INTO checkins ({columns}) VALUES ({marks})",
                tuple(row.values()),
            ).rowcount
        return bool(done)

    def checkins(self, team: str | None = None, since: str | None = None) -> list[dict]:
        query, args = "SELECT * FROM checkins WHERE 1 = 1", []
        if team is not None:
            query += " AND team = ?"
            args.append(team)
        if since is not None:
            query += " AND received_at >= ?"
            args.append(since)
        with self.connect() as db:
            rows = db.execute(query + " ORDER BY received_at, client_id", args).fetchall()
        return [dict(r) for r in rows]

    def add_scene_request(self, row: dict[str, Any]) -> None:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self.transaction() as db:
            db.execute(
                f"INSERT INTO scene_requests ({columns}) VALUES ({marks})",
                tuple(row.values()),
            )

    def scene_requests(self, since: str) -> list[dict]:
        with self.connect() as db:
            rows = db.execute(
                "SELECT * FROM scene_requests WHERE created_at >= ? ORDER BY created_at",
                (since,),
            ).fetchall()
        return [dict(r) for r in rows]

    def audit(self, user: str, action: str, detail: str, now: dt.datetime) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO audit (at, user, action, detail) VALUES (?, ?, ?, ?)",
                (now.isoformat(), user, action, detail),
            )

    def audit_log(self, limit: int = 500) -> list[dict]:
        with self.connect() as db:
            rows = db.execute(
                "SELECT at, user, action, detail FROM audit ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [dict(r) for r in rows]

    def forget(self, now: dt.datetime, keep_positions_days: int, keep_days: int = 182) -> None:
        """Retention: positions older than ``keep_positions_days`` are cleared; check-ins,
        scene requests and the audit log are kept ``keep_days`` (at least 26 weeks)."""
        positions = (now - dt.timedelta(days=keep_positions_days)).isoformat()
        rest = (now - dt.timedelta(days=max(keep_days, 182))).isoformat()
        with self.transaction() as db:
            db.execute(
                "UPDATE checkins SET lat = NULL, lon = NULL WHERE received_at < ?", (positions,)
            )
            db.execute("DELETE FROM checkins WHERE received_at < ?", (rest,))
            db.execute("DELETE FROM audit WHERE at < ?", (rest,))
            db.execute("DELETE FROM scene_requests WHERE created_at < ?", (rest,))
            db.execute("DELETE FROM login_codes WHERE expires_at < ?", (now.isoformat(),))
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (now.isoformat(),))


def backup(source: str | Path, target: str | Path) -> None:
    """Copy the database with SQLite's online backup: safe while the service writes."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
