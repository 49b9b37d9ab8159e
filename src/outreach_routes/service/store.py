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

import contextlib
import datetime as dt
import hashlib
import hmac
import os
import queue
import secrets
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .._errors import InputDataError

__all__ = ["ROLES", "Store", "User", "digest", "read_calls"]

T = TypeVar("T")
SCHEMA_VERSION = 4
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
    tapped_utc TEXT NOT NULL,
    received_at TEXT NOT NULL,
    reason TEXT,
    lat REAL,
    lon REAL,
    scene_request_id TEXT,
    late INTEGER NOT NULL,
    user TEXT NOT NULL
);
CREATE INDEX checkins_by_team ON checkins (team, received_at);
CREATE INDEX checkins_by_tap ON checkins (tapped_utc);
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

# What takes a database of version ``k - 1`` to version ``k`` (statements split at ";").
_MIGRATIONS = {
    2: "CREATE INDEX checkins_by_team_tap ON checkins (team, tapped_utc, received_at)",
    # issue 34: a check-in's `client_id` is unique per account, not across all teams (another
    # team's id no longer collides), and each row has an `id` to page by; the board reads a
    # night's rows through an index; failed logins are counted per address, account and code.
    3: """
CREATE TABLE checkins_v3 (
    id INTEGER PRIMARY KEY,
    client_id TEXT NOT NULL,
    team TEXT NOT NULL,
    night TEXT NOT NULL,
    stop_id TEXT,
    status TEXT NOT NULL,
    tapped_at TEXT NOT NULL,
    tapped_utc TEXT NOT NULL,
    received_at TEXT NOT NULL,
    reason TEXT,
    lat REAL,
    lon REAL,
    scene_request_id TEXT,
    late INTEGER NOT NULL,
    user TEXT NOT NULL,
    UNIQUE (user, client_id)
);
INSERT INTO checkins_v3 (client_id, team, night, stop_id, status, tapped_at, tapped_utc,
    received_at, reason, lat, lon, scene_request_id, late, user)
    SELECT client_id, team, night, stop_id, status, tapped_at, tapped_utc, received_at, reason,
        lat, lon, scene_request_id, late, user FROM checkins ORDER BY received_at, client_id;
DROP TABLE checkins;
ALTER TABLE checkins_v3 RENAME TO checkins;
CREATE INDEX checkins_by_team ON checkins (team, received_at);
CREATE INDEX checkins_by_tap ON checkins (tapped_utc);
CREATE INDEX checkins_by_team_tap ON checkins (team, tapped_utc, received_at);
CREATE INDEX checkins_by_night ON checkins (night, team);
CREATE INDEX checkins_by_user ON checkins (user, received_at);
CREATE INDEX checkins_by_received ON checkins (received_at);
ALTER TABLE failed_logins ADD COLUMN account TEXT;
ALTER TABLE failed_logins ADD COLUMN code_sha256 TEXT;
CREATE INDEX failed_logins_by_account ON failed_logins (account, at);
CREATE INDEX failed_logins_by_code ON failed_logins (code_sha256, at);
CREATE INDEX audit_by_action ON audit (action, id);
CREATE INDEX audit_by_user ON audit (user, id)
""",
    # issue 35: a scene request is a call with states, kept as append-only events (who, when,
    # why); its `state` and `team` are the newest event's, kept beside it for the board. The
    # offer timers are rows with a due time, read by one loop of the server. A request stored
    # before calls had states gets its offer to the nearest team; then, when a team checked in
    # responding to it, its acceptance, else its end as unanswered (no one was asked).
    4: """
ALTER TABLE scene_requests ADD COLUMN state TEXT NOT NULL DEFAULT 'offered';
ALTER TABLE scene_requests ADD COLUMN team TEXT;
ALTER TABLE scene_requests ADD COLUMN eta TEXT;
CREATE INDEX scene_requests_by_created ON scene_requests (created_at);
CREATE INDEX scene_requests_by_state ON scene_requests (state, team);
CREATE TABLE call_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT NOT NULL REFERENCES scene_requests(id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    team TEXT,
    at TEXT NOT NULL,
    by TEXT NOT NULL,
    reason TEXT,
    walk_min REAL,
    distance_km REAL,
    eta TEXT
);
CREATE INDEX call_events_by_call ON call_events (call_id, id);
CREATE TABLE call_timers (
    call_id TEXT NOT NULL REFERENCES scene_requests(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    team TEXT,
    due_at TEXT NOT NULL,
    PRIMARY KEY (call_id, kind)
);
CREATE INDEX call_timers_by_due ON call_timers (due_at);
INSERT INTO call_events (call_id, state, team, at, by, reason)
    SELECT id, 'offered', nearest_team, created_at, user, 'stored before calls had states'
    FROM scene_requests WHERE nearest_team IS NOT NULL ORDER BY created_at;
INSERT INTO call_events (call_id, state, team, at, by, reason, eta)
    SELECT s.id, 'accepted', c.team, MIN(c.tapped_utc), c.user,
        'a responding check-in, before calls had states', MIN(c.tapped_utc)
    FROM scene_requests s JOIN checkins c ON c.scene_request_id = s.id
        AND c.status = 'responding'
    GROUP BY s.id ORDER BY s.created_at;
INSERT INTO call_events (call_id, state, team, at, by, reason)
    SELECT id, 'unanswered', NULL, created_at, 'migration', 'stored before calls had states'
    FROM scene_requests s WHERE NOT EXISTS (
        SELECT 1 FROM call_events e WHERE e.call_id = s.id AND e.state = 'accepted')
    ORDER BY created_at;
UPDATE scene_requests SET
    state = (SELECT e.state FROM call_events e WHERE e.call_id = scene_requests.id
             ORDER BY e.id DESC LIMIT 1),
    team = (SELECT e.team FROM call_events e WHERE e.call_id = scene_requests.id
            ORDER BY e.id DESC LIMIT 1),
    eta = (SELECT e.eta FROM call_events e WHERE e.call_id = scene_requests.id
           AND e.state = 'accepted' ORDER BY e.id DESC LIMIT 1)
""",
}

# What a resend must repeat for it to be the same check-in (not when it arrived).
_CHECKIN_CONTENT = ("team", "night", "stop_id", "status", "tapped_at", "reason", "lat", "lon",
                    "scene_request_id")  # fmt: skip


def utc(when: dt.datetime | str) -> str:
    """A time as the database keeps it: UTC, to the microsecond, so text order is time order."""
    if isinstance(when, str):
        when = dt.datetime.fromisoformat(when)
    return when.astimezone(dt.UTC).isoformat(timespec="microseconds")


def digest(secret: str) -> str:
    """SHA-256 of a token, code or session id: what the database keeps instead."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class User:
    name: str
    role: str
    team: str | None


def account_name(name: str) -> str:
    """``name`` in NFC if it can name an account: printable (no line breaks, tabs or terminal
    escapes), 1-64 characters, no space at either end; else :class:`InputDataError`."""
    name = unicodedata.normalize("NFC", name)
    if not 1 <= len(name) <= 64:
        raise InputDataError(f"user name of {len(name)} characters: give 1 to 64")
    if not name.isprintable() or name != name.strip():
        raise InputDataError(
            f"user name {name[:64]!r}: use printable characters only (no line breaks, tabs or "
            "control codes), with no space at either end"
        )
    return name


def _owner_only(path: Path) -> None:
    """Make the database file its owner's alone (0600) before SQLite opens it, which gives its
    ``-wal`` and ``-shm`` files the same mode; a database of an older version made with the
    process's umask (0644) is put right, with its WAL and shared memory."""
    if not path.exists():
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(OSError):  # missing, or another user's: SQLite says so
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)


class Store:
    """The service's SQLite database at ``path`` (made, with its schema, when missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _owner_only(self.path)
        self._writer: _GroupCommit | None = None
        self._readers = threading.local()
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
                version = 1
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[step].split(";"):
                    if statement.strip():
                        db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection for one unit of work, closed after it."""
        db = self._open()
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """This thread's reading connection, kept open between reads (each read sees every
        write committed before it): the service reads on every request."""
        db = getattr(self._readers, "db", None)
        if db is None:
            db = self._readers.db = self._open()
        yield db

    def _open(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise InputDataError(f"{self.path}: cannot open the database ({exc})") from exc
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA foreign_keys = ON")
        return db

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

    def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in a write transaction and return its result once it is committed:
        through the group-commit writer when one runs (:meth:`start_writer`), else at once."""
        return self.write_soon(work).result()

    def write_soon(self, work: Callable[[sqlite3.Connection], T]) -> Future[T]:
        """:meth:`write`, without waiting: the future is done once ``work`` is committed, and
        the caller does something else meanwhile."""
        if self._writer is not None:
            return self._writer.submit(work)
        future: Future[T] = Future()
        try:
            with self.transaction() as db:
                future.set_result(work(db))
        except Exception as exc:
            future.set_exception(exc)
        return future

    def start_writer(self) -> None:
        """Send this process's writes through one writer thread that commits whatever is
        waiting together, with one sync to disk (group commit): the service's many small
        writes no longer queue for the lock one sync at a time."""
        if self._writer is None:
            self._writer = _GroupCommit(self)

    # --- accounts -----------------------------------------------------------------------------

    def add_user(
        self, name: str, role: str, team: str | None, now: dt.datetime, *, reuse: bool = False
    ) -> str:
        """Create an account; returns its token (shown once, never stored). The name must be
        printable text of 1-64 characters (kept in NFC), unlike every other account's, revoked
        or not, after case and look-alike folding ("Аna" in Cyrillic is "Ana"); a revoked
        account's own name is taken again only with ``reuse``."""
        if role not in ROLES:
            raise InputDataError(f"role {role!r}: give one of {', '.join(ROLES)}")
        name = account_name(name)
        if (role == "team") != (team is not None):
            raise InputDataError(
                f"user {name!r}: a team account needs --team (the team's name in the plan), "
                "and only a team account takes one"
            )
        import confusables  # here, not at the top: 0.08 s the service's start does not need

        token = secrets.token_urlsafe(32)
        with self.transaction() as db:
            for other, revoked in db.execute("SELECT name, revoked_at FROM users"):
                if other == name and revoked is not None and reuse:
                    db.execute("DELETE FROM login_codes WHERE user = ?", (name,))
                    db.execute(
                        "UPDATE users SET role = ?, team = ?, token_sha256 = ?, created_at = ?, "
                        "revoked_at = NULL WHERE name = ?",
                        (role, team, digest(token), utc(now), name),
                    )
                    return token
                if other == name and revoked is not None:
                    raise InputDataError(
                        f"user {name!r} was revoked; to give the name a new account, add it "
                        "again with --reuse"
                    )
                if other == name:
                    raise InputDataError(f"user {name!r} exists already; choose another name")
                if other.casefold() == name.casefold() or confusables.is_confusable(other, name):
                    raise InputDataError(
                        f"user {name!r} looks like the account {other!r}; choose a name no one "
                        "can mistake for another"
                    )
            db.execute(
                "INSERT INTO users (name, role, team, token_sha256, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (name, role, team, digest(token), utc(now)),
            )
        return token

    def users(self) -> list[dict[str, Any]]:
        with self._read() as db:
            rows = db.execute(
                "SELECT name, role, team, created_at, revoked_at FROM users ORDER BY name"
            ).fetchall()
        return [dict(r) for r in rows]

    def revoke(self, name: str, now: dt.datetime) -> None:
        with self.transaction() as db:
            done = db.execute(
                "UPDATE users SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                (utc(now), name),
            ).rowcount
            db.execute("DELETE FROM sessions WHERE user = ?", (name,))
        if not done:
            raise InputDataError(f"user {name!r}: no such active user (see `users list`)")

    def user_by_token(self, token: str) -> User | None:
        return self._user("token_sha256", token)

    def _user(self, column: str, secret: str) -> User | None:
        wanted = digest(secret)
        with self._read() as db:
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
                (digest(code), name, utc(expires)),
            )
        return code

    def user_by_session(self, session: str, now: dt.datetime) -> User | None:
        wanted = digest(session)
        with self._read() as db:
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

    def log_in(
        self,
        code: str | None,
        address: str,
        now: dt.datetime,
        *,
        limit: int = 10,
        window_min: int = 15,
        days: int = 14,
    ) -> tuple[str, tuple[User, str] | None]:
        """Try a login code from ``address``, in one write transaction (so concurrent tries are
        counted exactly): ``("ok", (user, session id))`` for a valid code whose account and
        code are not locked; else the failure is recorded and ``("bad", None)``, or
        ``("locked", None)`` once ``address``, the code's account or the code itself has
        ``limit`` failures in ``window_min`` minutes. A locked address still takes a valid
        code: a lockout never blocks another account's link (carrier NAT, a proxy)."""
        wanted = digest(code) if code else None
        since = utc(now - dt.timedelta(minutes=window_min))

        def work(db: sqlite3.Connection) -> tuple[str, tuple[User, str] | None]:
            row = None
            if wanted is not None:
                row = db.execute(
                    "SELECT c.code_sha256, c.user, c.expires_at, c.used_at, u.role, u.team "
                    "FROM login_codes c JOIN users u ON u.name = c.user "
                    "WHERE c.code_sha256 = ? AND u.revoked_at IS NULL",
                    (wanted,),
                ).fetchone()
            account = row["user"] if row is not None else None

            def failures(column: str, value: str | None) -> int:
                if value is None:
                    return 0
                return db.execute(
                    f"SELECT COUNT(*) FROM failed_logins WHERE {column} = ? AND at >= ?",
                    (value, since),
                ).fetchone()[0]

            locked_account = failures("account", account) >= limit
            locked_code = failures("code_sha256", wanted) >= limit
            valid = (
                row is not None
                and hmac.compare_digest(row["code_sha256"], wanted or "")
                and row["used_at"] is None
                and dt.datetime.fromisoformat(row["expires_at"]) >= now
            )
            if valid and not locked_account and not locked_code:
                db.execute(
                    "UPDATE login_codes SET used_at = ? WHERE code_sha256 = ?", (utc(now), wanted)
                )
                session = secrets.token_urlsafe(32)
                db.execute(
                    "INSERT INTO sessions (id_sha256, user, expires_at) VALUES (?, ?, ?)",
                    (digest(session), account, utc(now + dt.timedelta(days=days))),
                )
                return "ok", (User(account, row["role"], row["team"]), session)
            locked = locked_account or locked_code or failures("address", address) >= limit
            db.execute(
                "INSERT INTO failed_logins (address, at, account, code_sha256) VALUES (?, ?, ?, ?)",
                (address, utc(now), account, wanted),
            )
            db.execute("DELETE FROM failed_logins WHERE at < ?", (since,))
            return ("locked" if locked else "bad"), None

        return self.write(work)

    # --- check-ins, scene requests, audit -----------------------------------------------------

    def add_checkin(self, row: dict[str, Any]) -> tuple[str, list[str]]:
        """Store a check-in: ``("stored", [])``; ``("repeat", [])`` when its account sent this
        ``client_id`` before with the same content (a resend: nothing changes);
        ``("conflict", fields)`` when it did with other content (those fields differ)."""
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        sql = f"INSERT OR IGNORE INTO checkins ({columns}) VALUES ({marks})"

        def work(db: sqlite3.Connection) -> tuple[str, list[str]]:
            if db.execute(sql, tuple(row.values())).rowcount:
                return "stored", []
            old = db.execute(
                "SELECT * FROM checkins WHERE user = ? AND client_id = ?",
                (row["user"], row["client_id"]),
            ).fetchone()
            differ = [k for k in _CHECKIN_CONTENT if old[k] != row.get(k)]
            return ("conflict", differ) if differ else ("repeat", [])

        return self.write(work)

    def checkins(
        self,
        team: str | None = None,
        since: dt.datetime | str | None = None,
        *,
        tapped_from: dt.datetime | None = None,
        tapped_to: dt.datetime | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[dict]:
        """Check-ins in the order they were stored (by ``id``): of ``team``, received
        ``since``, tapped in a window; at most ``limit`` of them with an ``id`` above
        ``after`` (a page: the next starts after the last one's ``id``)."""
        query, args = "SELECT * FROM checkins WHERE 1 = 1", []
        for sql, value in (
            ("team = ?", team),
            ("received_at >= ?", since and utc(since)),
            ("tapped_utc >= ?", tapped_from and utc(tapped_from)),
            ("tapped_utc <= ?", tapped_to and utc(tapped_to)),
            ("id > ?", after),
        ):
            if value is not None:
                query += f" AND {sql}"
                args.append(value)
        query += " ORDER BY id"
        if limit is not None:
            query += " LIMIT ?"
            args.append(limit)
        with self._read() as db:
            rows = db.execute(query, args).fetchall()
        return [dict(r) for r in rows]

    def night_checkins(self, night: str) -> list[dict]:
        """Every team's check-ins of one night, as stored: one index range, however many
        other nights the database holds (the board reads this every second)."""
        with self._read() as db:
            rows = db.execute(
                "SELECT * FROM checkins WHERE night = ? ORDER BY id", (night,)
            ).fetchall()
        return [dict(r) for r in rows]

    def checkins_stored_by(self, user: str, since: dt.datetime) -> int:
        """How many check-ins ``user`` has had stored since ``since`` (its daily limit)."""
        with self._read() as db:
            return db.execute(
                "SELECT COUNT(*) FROM checkins WHERE user = ? AND received_at >= ?",
                (user, utc(since)),
            ).fetchone()[0]

    def latest_checkins(
        self, teams: Iterable[str], tapped_from: dt.datetime, tapped_to: dt.datetime
    ) -> list[dict]:
        """Per team of ``teams``, its newest check-in tapped in the window that places it (one
        with a position, or at a stop, its start, a scene) or ends its shift. One index seek a
        team: `where` asks this on every answer, however many check-ins the night holds."""
        window = (utc(tapped_from), utc(tapped_to))
        rows = []
        with self._read() as db:
            for team in teams:
                row = db.execute(
                    "SELECT * FROM checkins WHERE team = ? AND tapped_utc BETWEEN ? AND ? "
                    "AND (lat IS NOT NULL OR status IN ('arrived', 'left', 'start', "
                    "'responding', 'end')) ORDER BY tapped_utc DESC, received_at DESC LIMIT 1",
                    (team, *window),
                ).fetchone()
                if row is not None:
                    rows.append(dict(row))
        return rows

    def add_scene_request(self, row: dict[str, Any]) -> None:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        sql = f"INSERT INTO scene_requests ({columns}) VALUES ({marks})"
        self.write(lambda db: db.execute(sql, tuple(row.values())))

    def scene_request(self, request_id: str) -> dict | None:
        with self._read() as db:
            row = db.execute("SELECT * FROM scene_requests WHERE id = ?", (request_id,)).fetchone()
        return dict(row) if row else None

    def scene_requests(self, since: dt.datetime | str) -> list[dict]:
        with self._read() as db:
            rows = db.execute(
                "SELECT * FROM scene_requests WHERE created_at >= ? ORDER BY created_at",
                (utc(since),),
            ).fetchall()
        return [dict(r) for r in rows]

    # --- calls (scene requests with states; service/calls.py runs them) ----------------------

    def call_write(
        self,
        call_id: str,
        events: list[dict[str, Any]],
        *,
        new: dict[str, Any] | None = None,
        timers: dict[str, tuple[str | None, str] | None] | None = None,
        checkin: dict[str, Any] | None = None,
        expect: int | None = None,
    ) -> list[dict[str, Any]] | None:
        """One change of a call, in one transaction: the call's row when ``new`` (a new call),
        its ``events`` appended (the call's ``state``, ``team`` and ``eta`` follow the last),
        its ``timers`` set (kind -> (team, due time)) or cleared (kind -> None), a ``checkin``
        stored beside (a team's "Going" is its responding check-in). With ``expect``, nothing
        is written (None) unless the call's newest event is still that one: another change came
        first. Returns the events as stored, each with its ``id``."""

        def work(db: sqlite3.Connection) -> list[dict[str, Any]] | None:
            if new is not None:
                columns = ", ".join(new)
                db.execute(
                    f"INSERT INTO scene_requests ({columns}) VALUES "
                    f"({', '.join('?' for _ in new)})",
                    tuple(new.values()),
                )
            elif expect is not None:
                newest = db.execute(
                    "SELECT MAX(id) FROM call_events WHERE call_id = ?", (call_id,)
                ).fetchone()[0]
                if newest != expect:
                    return None
            stored = []
            for event in events:
                row = {"call_id": call_id, **event}
                cursor = db.execute(
                    f"INSERT INTO call_events ({', '.join(row)}) VALUES "
                    f"({', '.join('?' for _ in row)})",
                    tuple(row.values()),
                )
                stored.append({"id": cursor.lastrowid, **row})
            if events:
                last = events[-1]
                db.execute(
                    "UPDATE scene_requests SET state = ?, team = ?, "
                    "eta = CASE WHEN ? = 'accepted' THEN ? ELSE eta END WHERE id = ?",
                    (last["state"], last.get("team"), last["state"], last.get("eta"), call_id),
                )
            for kind, timer in (timers or {}).items():
                db.execute(
                    "DELETE FROM call_timers WHERE call_id = ? AND kind = ?", (call_id, kind)
                )
                if timer is not None:
                    db.execute(
                        "INSERT INTO call_timers (call_id, kind, team, due_at) VALUES (?, ?, ?, ?)",
                        (call_id, kind, timer[0], timer[1]),
                    )
            if checkin is not None:
                db.execute(
                    f"INSERT OR IGNORE INTO checkins ({', '.join(checkin)}) VALUES "
                    f"({', '.join('?' for _ in checkin)})",
                    tuple(checkin.values()),
                )
            return stored

        return self.write(work)

    def call(self, call_id: str) -> dict[str, Any] | None:
        """A call's row with its ``events`` (oldest first) and its ``timers`` (kind -> row)."""
        with self._read() as db:
            row = db.execute("SELECT * FROM scene_requests WHERE id = ?", (call_id,)).fetchone()
            if row is None:
                return None
            events = db.execute(
                "SELECT * FROM call_events WHERE call_id = ? ORDER BY id", (call_id,)
            ).fetchall()
            timers = db.execute(
                "SELECT kind, team, due_at FROM call_timers WHERE call_id = ?", (call_id,)
            ).fetchall()
        return {
            **dict(row),
            "events": [dict(e) for e in events],
            "timers": {t["kind"]: dict(t) for t in timers},
        }

    def calls_since(self, since: dt.datetime | str) -> list[dict[str, Any]]:
        """Calls made since ``since``, oldest first, each with its events and timers."""
        with self._read() as db:
            ids = [
                r[0]
                for r in db.execute(
                    "SELECT id FROM scene_requests WHERE created_at >= ? ORDER BY created_at",
                    (utc(since),),
                )
            ]
        return [c for c in map(self.call, ids) if c is not None]

    def open_calls(self, since: dt.datetime | str) -> list[dict[str, Any]]:
        """``id``, ``state``, ``team`` of the calls made since ``since`` still offered,
        accepted or at the scene: who is busy, who holds an offer."""
        with self._read() as db:
            rows = db.execute(
                "SELECT id, state, team FROM scene_requests WHERE created_at >= ? "
                "AND state IN ('offered', 'accepted', 'on_scene')",
                (utc(since),),
            ).fetchall()
        return [dict(r) for r in rows]

    def due_timers(self, now: dt.datetime) -> list[dict[str, Any]]:
        """The call timers due by ``now``, soonest first."""
        with self._read() as db:
            rows = db.execute(
                "SELECT call_id, kind, team, due_at FROM call_timers WHERE due_at <= ? "
                "ORDER BY due_at",
                (utc(now),),
            ).fetchall()
        return [dict(r) for r in rows]

    def next_timer(self) -> str | None:
        """When the soonest call timer is due (UTC text), or None."""
        with self._read() as db:
            return db.execute("SELECT MIN(due_at) FROM call_timers").fetchone()[0]

    def call_events_after(self, after: int, since: dt.datetime, limit: int) -> list[dict]:
        """Call events with an ``id`` above ``after`` (a stream's ``Last-Event-ID``) of calls
        made since ``since``, oldest first, at most ``limit``, each with its call's row."""
        with self._read() as db:
            rows = db.execute(
                "SELECT e.* FROM call_events e JOIN scene_requests s ON s.id = e.call_id "
                "WHERE e.id > ? AND s.created_at >= ? ORDER BY e.id LIMIT ?",
                (after, utc(since), limit),
            ).fetchall()
        return [dict(r) for r in rows]

    def audit(self, user: str, action: str, detail: str, now: dt.datetime) -> None:
        """Write a line of the audit log, and return once it is on disk."""
        self.audit_soon(user, action, detail, now).result()

    def audit_soon(self, user: str, action: str, detail: str, now: dt.datetime) -> Future:
        """:meth:`audit` without waiting: wait on the future before answering the request it
        is about, so that no answer leaves unrecorded."""
        return self.write_soon(
            lambda db: db.execute(
                "INSERT INTO audit (at, user, action, detail) VALUES (?, ?, ?, ?)",
                (utc(now), user, action, detail),
            )
        )

    def audit_log(
        self,
        limit: int = 500,
        *,
        action: str | None = None,
        user: str | None = None,
        before: int | None = None,
    ) -> list[dict]:
        """The newest ``limit`` lines of the audit log (of one ``action`` and ``user`` when
        given), older than the line ``before`` when given: the next page back."""
        query, args = "SELECT id, at, user, action, detail FROM audit WHERE 1 = 1", []
        for sql, value in (("action = ?", action), ("user = ?", user), ("id < ?", before)):
            if value is not None:
                query += f" AND {sql}"
                args.append(value)
        with self._read() as db:
            rows = db.execute(query + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [dict(r) for r in rows]

    def audit_actions(self) -> list[str]:
        """The kinds of line in the audit log."""
        with self._read() as db:
            return [r[0] for r in db.execute("SELECT DISTINCT action FROM audit ORDER BY 1")]

    def forget(self, now: dt.datetime, keep_positions_days: int, keep_days: int = 182) -> None:
        """Retention: positions in check-ins older than ``keep_positions_days`` are cleared;
        check-ins, scene requests and the audit log are kept ``keep_days`` (at least 26 weeks);
        spent login codes and sessions go."""
        positions = utc(now - dt.timedelta(days=keep_positions_days))
        rest = utc(now - dt.timedelta(days=max(keep_days, 182)))

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE checkins SET lat = NULL, lon = NULL WHERE received_at < ?", (positions,)
            )
            db.execute("DELETE FROM checkins WHERE received_at < ?", (rest,))
            db.execute("DELETE FROM audit WHERE at < ?", (rest,))
            db.execute("DELETE FROM scene_requests WHERE created_at < ?", (rest,))
            db.execute("DELETE FROM login_codes WHERE expires_at < ?", (utc(now),))
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (utc(now),))

        self.write(work)


class _GroupCommit:
    """One thread that owns the writing connection. Each turn it takes every write waiting
    (up to ``BATCH``), runs each in its own savepoint (one failing write does not undo the
    others), commits once, and only then answers each caller: nothing is acknowledged before
    it is on disk."""

    BATCH = 256

    def __init__(self, store: Store) -> None:
        self._store = store
        self._queue: queue.SimpleQueue[tuple[Callable, Future]] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="outreach-routes writer", daemon=True).start()

    def submit(self, work: Callable[[sqlite3.Connection], T]) -> Future[T]:
        future: Future[T] = Future()
        self._queue.put((work, future))
        return future

    def _run(self) -> None:
        with self._store.connect() as db:
            while True:
                batch = [self._queue.get()]
                while len(batch) < self.BATCH:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                self._commit(db, batch)

    @staticmethod
    def _commit(db: sqlite3.Connection, batch: list[tuple[Callable, Future]]) -> None:
        done = []
        try:
            db.execute("BEGIN IMMEDIATE")
            for work, future in batch:
                db.execute("SAVEPOINT one")
                try:
                    done.append((future, work(db), None))
                    db.execute("RELEASE one")
                except Exception as exc:  # this write only: roll it back, keep the others
                    db.execute("ROLLBACK TO one")
                    db.execute("RELEASE one")
                    done.append((future, None, exc))
            db.execute("COMMIT")
        except Exception as exc:  # the commit failed: nothing of the batch is stored
            if db.in_transaction:
                db.execute("ROLLBACK")
            for _work, future in batch:
                future.set_exception(exc)
            return
        for future, value, error in done:
            if error is None:
                future.set_result(value)
            else:
                future.set_exception(error)


def read_calls(db: sqlite3.Connection, since: str, until: str) -> list[dict[str, Any]]:
    """The calls made from ``since`` to before ``until`` (UTC text), oldest first, each with
    its ``events``, read from ``db`` (the report's read-only connection). A database from
    before calls had states (version 3) gives its scene requests with no events."""
    rows = db.execute(
        "SELECT * FROM scene_requests WHERE created_at >= ? AND created_at < ? "
        "ORDER BY created_at, id",
        (since, until),
    ).fetchall()
    calls = [{**dict(r), "events": []} for r in rows]
    has_events = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'call_events'"
    ).fetchone()
    if has_events and calls:
        by_id = {c["id"]: c for c in calls}
        for event in db.execute(
            "SELECT e.* FROM call_events e JOIN scene_requests s ON s.id = e.call_id "
            "WHERE s.created_at >= ? AND s.created_at < ? ORDER BY e.id",
            (since, until),
        ):
            by_id[event["call_id"]]["events"].append(dict(event))
    return calls


def backup(source: str | Path, target: str | Path) -> None:
    """Copy the database with SQLite's online backup: safe while the service writes."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
