"""Sign-in: passwords (argon2), browser sessions, API tokens and login throttling.

Nothing secret is stored as given: passwords as argon2 hashes; session ids and API tokens,
which are random 256-bit values, as SHA-256 digests. A digest is enough for a value nobody
can guess, and keeps the check on every request one indexed lookup (argon2 is made slow
on purpose, for the short secrets people choose).

Sign-in attempts are counted against three keys: the username from the client's address
(5 failures free), the address whatever the username (20) and the username from anywhere
(100, a ceiling that slows an attack spread over many addresses). A key past its allowance
is locked for a time that doubles with each further failure, up to 15 minutes. So whoever
hammers a username from one address locks it for that address only: its owner still signs
in from another one. The counts live in the database, so every web process serving it
applies the same lock.

An attempt is counted before its password is checked (argon2 is slow on purpose): one
UPDATE ... RETURNING per key, which waits for any other attempt counting the same key, adds
the attempt and reads the new count; an attempt that finds a key locked is refused without
a password check and counts nowhere. So of many attempts sent at once, no more than the
allowance are checked. A successful sign-in gives back what its attempt counted (and clears
the username's count from that address).

A refused sign-in is written to the audit log (``login.throttled``) once per locked key per
REFUSAL_WINDOW, like refused tokens below.

A refused bearer token is written to the audit log once per client address (and known
token) per REFUSAL_WINDOW; further refusals in the window are only counted, and the next
row written for that address carries the count, so a client sending bad tokens in a loop
cannot flood the log and is still seen.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
from dataclasses import dataclass
from typing import Iterable

import sqlalchemy as sa
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, and_, case, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from core import audit
from core.audit import Who
from core.coretables import api_token, credential, login_throttle, session, setting
from core.db import PreparedRead, read_transaction, write_transaction
from core.fieldtypes import iso_utc
from core.jsontext import text_problem
from core.permissions import ADMIN_SET
from core.records import Actor
from core.roles import Roles
from core.runtime import Runtime
from core.words import sentence

UTC = dt.timezone.utc
MIN_PASSWORD_LENGTH = 10
SESSION_LIFETIME = dt.timedelta(hours=12)
TOKEN_DEFAULT_DAYS = 90
TOKEN_MAX_DAYS = 366
TOKEN_PREFIX = "tsk_"
TOKEN_USE_INTERVAL = dt.timedelta(minutes=5)  # how often token use is written down (last_used_at, audit)
FREE_FAILURES = {"ip+user": 5, "ip": 20, "user": 100}  # failures before a lock, per key (counted in this order)
FIRST_LOCK_SECONDS = 2
MAX_LOCK_SECONDS = 15 * 60
FAILURE_MEMORY = dt.timedelta(hours=1)
ADMIN_USERNAME = "admin"
SYSTEM = Actor.system()
REFUSAL_WINDOW = dt.timedelta(minutes=1)  # at most one token.refused row per client address (and known token) in it
REFUSAL_KEYS = 10_000  # addresses remembered; past that, the others share one window

HASHERS = {"standard": PasswordHasher(), "fast": PasswordHasher.from_parameters(profiles.CHEAPEST)}
_dummy_hashes: dict[str, str] = {}  # verified when the user does not exist, so timing tells nothing


class AuthError(Exception):
    """A sign-in or credential that is not accepted; the message is safe to show."""

    status = 401


class Throttled(AuthError):
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _Locked(Exception):
    """A sign-in key is locked: the attempt is refused and counts nowhere."""

    def __init__(self, key: str, until: dt.datetime) -> None:
        super().__init__(key)
        self.key, self.until = key, until


class AccountError(ValueError):
    """A user, role, team or password that cannot be set up as asked."""


@dataclass(frozen=True)
class Identity:
    """A signed-in user, and how they signed in."""

    user_id: int
    username: str
    full_name: str | None
    language: str | None
    permission_set: str  # "" when the user has no role
    via: str  # "session" | "token" | "password"
    token_id: int | None = None
    time_zone: str | None = None  # as the user chose it (None: the browser's)

    @property
    def actor(self) -> Actor:
        return Actor(self.user_id, self.username, self.permission_set)

    def who(self, ip: str | None = None) -> Who:
        return Who(self.user_id, self.username, ip)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def now() -> dt.datetime:
    return dt.datetime.now(UTC)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """Stored timestamps come back naive from SQLite; they are UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def throttle_keys(username: str, ip: str | None) -> dict[str, str]:
    """The keys a sign-in attempt counts against, by kind, in the order they are counted (and locked)."""
    name = username.strip().lower()
    keys = {"ip+user": f"ip+user:{ip or '-'}:{name}"[:200], "ip": f"ip:{ip}"[:200], "user": f"user:{name}"[:200]}
    if not ip:
        del keys["ip"]  # a caller that has no address (a script calling Accounts) shares no address's count
    return keys


def check_password(password: str, username: str = "") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(sentence("password_short", limit=MIN_PASSWORD_LENGTH))
    if username and password.lower() == username.lower():
        raise AccountError(sentence("password_is_username"))


class RefusalWindows:
    """Which refused tokens get an audit row: the first per key (client address, known token) in each window.

    Kept in the process's memory: no database write for a refusal that is only counted. With
    several web processes, each writes at most one row per key and window.
    """

    OVERFLOW = ("(other addresses)", None)

    def __init__(self, window: dt.timedelta = REFUSAL_WINDOW, max_keys: int = REFUSAL_KEYS) -> None:
        self.window, self.max_keys = window, max_keys
        self._lock = threading.Lock()
        self._open: dict[tuple, list] = {}  # key -> [when its row was written, refusals counted since]

    def admit(self, key: tuple, moment: dt.datetime) -> int | None:
        """None: count this refusal, write nothing. A number: write a row, saying that many were counted before it."""
        with self._lock:
            if key not in self._open and len(self._open) >= self.max_keys:
                self._forget(moment)
                if len(self._open) >= self.max_keys:
                    key = self.OVERFLOW
            entry = self._open.get(key)
            if entry is not None and moment - entry[0] < self.window:
                entry[1] += 1
                return None
            suppressed = entry[1] if entry is not None else 0
            self._open[key] = [moment, 0]
            return suppressed

    def _forget(self, moment: dt.datetime) -> None:
        """Closed windows with nothing counted: their next row has nothing to report."""
        for key in [k for k, (start, counted) in self._open.items() if not counted and moment - start >= self.window]:
            del self._open[key]


class Accounts:
    """Users' credentials, sign-in, sessions and API tokens, for one Runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.refusals = RefusalWindows()  # refused tokens
        self.throttled = RefusalWindows()  # refused (locked) sign-ins
        self._token_statement: tuple[int, sa.Select] | None = None
        self._session_statement: tuple[int, sa.Select] | None = None
        kind = runtime.settings.password_hashing
        self._hasher = HASHERS[kind]
        if kind not in _dummy_hashes:
            _dummy_hashes[kind] = self._hasher.hash(secrets.token_hex(16))
        self._dummy_hash = _dummy_hashes[kind]

    @property
    def engine(self):
        return self.runtime.engine

    # --- users ----------------------------------------------------------------------------

    def add_user(self, username: str, password: str, role: str | None = None, teams: Iterable[str] = (),
                 full_name: str | None = None, email: str | None = None, actor: Actor = SYSTEM) -> tuple[dict, list[str]]:
        """Create a user with a password; return the user and the teams that had to be created.

        Everything (the role found or made, new teams, the user, the password) commits together,
        written as ``actor``: their role's permissions apply, and only an admin gives the admin
        role (core/grants.py). The command line acts as the system.
        """
        check_password(password, username)
        with self.runtime.records.transaction(actor, checked=True) as tx:
            if tx.trusted().list("user", {"username": username, "limit": 1}).items:
                raise AccountError(sentence("user_exists", username=username))
            role_id = Roles(self.runtime).role_id(tx, role) if role else None
            team_ids, created = self._team_ids(tx, teams)
            data = {"username": username, "role": role_id, "teams": team_ids, "full_name": full_name, "email": email}
            user = tx.create("user", {k: v for k, v in data.items() if v is not None})
            self._store_password(tx.connection, user["id"], password)
            audit.write(tx.connection, "user.created", Who(actor.user_id, actor.name), "user", user["id"], {"username": username, "role": role})
        return user, created

    @staticmethod
    def _team_ids(tx, teams: Iterable[str]) -> tuple[list[int], list[str]]:
        """The ids of the teams named, and the names of those created for them."""
        team_ids, created = [], []
        for team in teams:
            found = tx.trusted().list("team", {"name": team, "limit": 1}).items
            if found:
                team_ids.append(found[0]["id"])
            else:
                team_ids.append(tx.create("team", {"name": team})["id"])
                created.append(team)
        return team_ids, created

    def set_language(self, user_id: int, language: str) -> None:
        """The user's own choice of language (a user may set it whatever their role)."""
        records = self.runtime.records
        with records.transaction(Actor.system()) as tx:
            tx.update("user", user_id, {"language": language})

    def set_time_zone(self, user_id: int, zone: str | None) -> None:
        """The user's own time zone (an IANA name, checked by the caller; None: the browser's)."""
        with self.runtime.records.transaction(Actor.system()) as tx:
            tx.update("user", user_id, {"time_zone": zone})

    def set_password(self, user_id: int, password: str, username: str = "") -> None:
        """A new password; the user's browser sessions end (API tokens are separate credentials and stay)."""
        check_password(password, username)
        with write_transaction(self.engine) as conn:
            self._store_password(conn, user_id, password)
            conn.execute(session.delete().where(session.c.user_id == user_id))
            audit.write(conn, "password.changed", Who(user_id, username or None), "user", user_id)

    def _store_password(self, conn: Connection, user_id: int, password: str) -> None:
        values = {"password_hash": self._hasher.hash(password), "changed_at": now()}
        if conn.execute(sa.update(credential).where(credential.c.user_id == user_id).values(**values)).rowcount == 0:
            conn.execute(credential.insert().values(user_id=user_id, **values))

    def ensure_admin(self) -> str | None:
        """On a database where nobody can sign in, create the user 'admin' and return its new password."""
        with read_transaction(self.engine) as conn:
            if conn.execute(select(func.count()).select_from(credential)).scalar_one():
                return None
        password = secrets.token_urlsafe(15)
        existing = self.runtime.records.list(Actor.system(), "user", {"username": ADMIN_USERNAME, "limit": 1}).items
        if existing:
            self.set_password(existing[0]["id"], password, ADMIN_USERNAME)
        else:
            self.add_user(ADMIN_USERNAME, password, ADMIN_SET, full_name="Administrator")
        return password

    # --- sign-in --------------------------------------------------------------------------

    def authenticate(self, username: str, password: str, ip: str | None = None) -> Identity:
        """Check a username and password; raise AuthError (or Throttled) with a message to show."""
        if text_problem(username) or text_problem(password):  # no user has such a name or password: nothing to count or check
            raise AuthError(sentence("wrong_password"))
        keys = throttle_keys(username, ip)
        who = Who(None, username[:200], ip)
        locked_now = self._count_attempt(keys, who)
        with read_transaction(self.engine) as conn:
            found = self._user_with_hash(conn, username)
        identity, stored = found if found else (None, None)
        ok = self._verified(stored, password)
        with write_transaction(self.engine) as conn:
            if ok and identity is not None:
                self._give_back(conn, keys, locked_now)
                if self._hasher.check_needs_rehash(stored):
                    self._store_password(conn, identity.user_id, password)
                audit.write(conn, "login", identity.who(ip))
                return identity
            reason = "unknown or inactive user" if found is None else "wrong password"
            audit.write(conn, "login.failed", Who(identity.user_id if identity else None, username[:200], ip), detail={"reason": reason})
        raise AuthError(sentence("wrong_password"))  # after the commit, so the failure is logged

    def _verified(self, stored: str | None, password: str) -> bool:
        """Whether the password matches the stored hash; without one, a dummy hash is checked, so timing tells nothing."""
        try:
            return self._hasher.verify(stored or self._dummy_hash, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def _count_attempt(self, keys: dict[str, str], who: Who) -> set[str]:
        """Count the attempt against every key, in one transaction, before the password is checked; the keys it locked.

        A locked key refuses the attempt (Throttled) and nothing is counted.
        """
        moment = now()
        try:
            with write_transaction(self.engine) as conn:
                return {key for kind, key in keys.items() if self._count(conn, key, FREE_FAILURES[kind], moment)}
        except _Locked as locked:
            self._refuse_locked(locked, who)

    def _count(self, conn: Connection, key: str, free: int, moment: dt.datetime) -> bool:
        """Add one attempt to the key unless it is locked (raise _Locked); whether this attempt locked it.

        Failures older than FAILURE_MEMORY are forgotten, so an office address is not locked by a month of typos.
        """
        conn.execute(_insert_ignoring_conflict(conn, key, moment))
        row = login_throttle.c
        counted = conn.execute(
            sa.update(login_throttle)
            .where(row.key == key, or_(row.locked_until.is_(None), row.locked_until <= moment))
            .values(failures=case((row.last_failure_at < moment - FAILURE_MEMORY, 1), else_=row.failures + 1), last_failure_at=moment)
            .returning(row.failures)
        ).scalar()
        if counted is None:
            raise _Locked(key, aware(conn.execute(select(row.locked_until).where(row.key == key)).scalar()))
        if counted < free:
            return False
        seconds = min(MAX_LOCK_SECONDS, FIRST_LOCK_SECONDS * 2 ** min(counted - free, 20))
        conn.execute(sa.update(login_throttle).where(row.key == key).values(locked_until=moment + dt.timedelta(seconds=seconds)))
        return True

    def _give_back(self, conn: Connection, keys: dict[str, str], locked_now: set[str]) -> None:
        """A sign-in succeeded: clear the username's count from this address, and take its attempt off the others
        (with the lock it set, if it set one)."""
        row = login_throttle.c
        conn.execute(login_throttle.delete().where(row.key == keys["ip+user"]))
        for key in (keys[kind] for kind in ("ip", "user") if kind in keys):
            values = {"failures": case((row.failures > 0, row.failures - 1), else_=0)}
            if key in locked_now:
                values["locked_until"] = None
            conn.execute(sa.update(login_throttle).where(row.key == key).values(**values))

    def _refuse_locked(self, locked: _Locked, who: Who) -> None:
        """Throttled, with an audit row unless this key's window already has one (the row counts the refusals in between)."""
        wait = max(1, int((locked.until - now()).total_seconds() + 0.999)) if locked.until else 1
        suppressed = self.throttled.admit((locked.key,), now())
        if suppressed is not None:
            detail = {"retry_after": wait, "key": locked.key.partition(":")[0], "suppressed": suppressed,
                      "window_seconds": int(self.throttled.window.total_seconds())}
            audit.write_now(self.engine, "login.throttled", who, detail=detail)
        raise Throttled(sentence("too_many_attempts", seconds=wait), wait)

    def _user_with_hash(self, conn: Connection, username: str) -> tuple[Identity, str | None] | None:
        schema = self.runtime.schema(conn)
        statement, user = self._identity_select(schema)
        row = conn.execute(
            statement.add_columns(credential.c.password_hash)
            .outerjoin(credential, credential.c.user_id == user.c.id)
            .where(func.lower(user.c.username) == username.strip().lower())
        ).first()
        if row is None:
            return None
        identity = self._identity(row, "password")
        if identity is None:  # an inactive user: treated like a wrong password
            return None
        return identity, row.password_hash

    def _identity_select(self, schema) -> tuple[sa.Select, sa.Table]:
        user, role = schema.tables.table("user"), schema.tables.table("role")
        statement = (
            select(user.c.id, user.c.username, user.c.full_name, user.c.language, user.c.time_zone, user.c.active, role.c.permission_set)
            .select_from(user.outerjoin(role, and_(role.c.id == user.c.role, role.c.deleted_at.is_(None))))
            .where(user.c.deleted_at.is_(None))
        )
        return statement, user

    @staticmethod
    def _identity(row, via: str, token_id: int | None = None) -> Identity | None:
        if row.active is False:
            return None
        return Identity(row.id, row.username, row.full_name, row.language, row.permission_set or "", via, token_id, row.time_zone)

    # --- browser sessions -------------------------------------------------------------------

    def start_session(self, identity: Identity, ip: str | None = None) -> str:
        """A new session for a signed-in user; returns the cookie value."""
        token = secrets.token_urlsafe(32)
        with write_transaction(self.engine) as conn:
            conn.execute(session.delete().where(session.c.expires_at < now()))
            conn.execute(session.insert().values(token_hash=digest(token), user_id=identity.user_id, created_at=now(),
                                                 expires_at=now() + SESSION_LIFETIME, ip=ip))
        return token

    def end_session(self, token: str, who: Who | None = None) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(session.delete().where(session.c.token_hash == digest(token)))
            if who is not None:
                audit.write(conn, "logout", who)

    def identity_for_session(self, token: str) -> Identity | None:
        row = self._session_lookup().first(self.engine, token_hash=digest(token))
        if row is None or aware(row.expires_at) <= now():
            return None
        return self._identity(row, "session")

    def _session_lookup(self) -> PreparedRead:
        """The statement run on every page a browser asks for, built once per metadata version."""
        schema, cached = self.runtime.recent_schema(), self._session_statement
        if cached is None or cached[0] != schema.version:
            statement, user = self._identity_select(schema)
            statement = (statement.add_columns(session.c.expires_at).join(session, session.c.user_id == user.c.id)
                         .where(session.c.token_hash == sa.bindparam("token_hash")))
            cached = self._session_statement = (schema.version, PreparedRead(statement))
        return cached[1]

    # --- API tokens ---------------------------------------------------------------------------

    def _token_lookup(self) -> PreparedRead:
        """The statement run on every token-authenticated request, built once per metadata version."""
        schema, cached = self.runtime.recent_schema(), self._token_statement
        if cached is None or cached[0] != schema.version:
            statement, user = self._identity_select(schema)
            statement = (statement.add_columns(api_token.c.id.label("token_id"), api_token.c.name.label("token_name"), api_token.c.expires_at,
                                               api_token.c.revoked_at, api_token.c.last_used_at)
                         .join(api_token, api_token.c.user_id == user.c.id)
                         .where(api_token.c.token_hash == sa.bindparam("token_hash")))
            cached = self._token_statement = (schema.version, PreparedRead(statement))
        return cached[1]

    def create_token(self, identity: Identity, name: str, days: int | None = None, ip: str | None = None) -> tuple[dict, str]:
        """A new bearer token for the user; the plain token is returned once and never stored."""
        name = (name or "").strip()
        if not name or len(name) > 100:
            raise AccountError("give the token a name of 1 to 100 characters (what it is for, e.g. 'ERP sync')")
        days = TOKEN_DEFAULT_DAYS if days is None else days
        if not 1 <= days <= TOKEN_MAX_DAYS:
            raise AccountError(f"expires_in_days must be between 1 and {TOKEN_MAX_DAYS}")
        plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with write_transaction(self.engine) as conn:
            token_id = conn.execute(api_token.insert().values(
                user_id=identity.user_id, name=name, token_hash=digest(plain), prefix=plain[:12], created_at=now(),
                expires_at=now() + dt.timedelta(days=days),
            ).returning(api_token.c.id)).scalar_one()
            audit.write(conn, "token.created", identity.who(ip), detail={"token_id": token_id, "name": name, "days": days})
            row = conn.execute(select(api_token).where(api_token.c.id == token_id)).first()
        return _token_info(row), plain

    def tokens(self, user_id: int | None = None) -> list[dict]:
        """Tokens of one user (or of everybody), newest first; never the secret."""
        statement = select(api_token).order_by(api_token.c.id.desc())
        if user_id is not None:
            statement = statement.where(api_token.c.user_id == user_id)
        with read_transaction(self.engine) as conn:
            return [_token_info(r) for r in conn.execute(statement)]

    def revoke_token(self, identity: Identity, token_id: int, any_user: bool = False, ip: str | None = None) -> dict:
        """Revoke a token of the user's own (or anybody's, for admins)."""
        with write_transaction(self.engine) as conn:
            row = conn.execute(select(api_token).where(api_token.c.id == token_id)).first()
            if row is None or (row.user_id != identity.user_id and not any_user):
                raise LookupError(f"there is no token {token_id} of yours")
            if row.revoked_at is None:
                conn.execute(sa.update(api_token).where(api_token.c.id == token_id).values(revoked_at=now()))
                audit.write(conn, "token.revoked", identity.who(ip), detail={"token_id": token_id, "name": row.name})
            row = conn.execute(select(api_token).where(api_token.c.id == token_id)).first()
        return _token_info(row)

    def identity_for_token(self, plain: str, ip: str | None = None) -> Identity:
        """The user a bearer token belongs to; AuthError says why a token is refused."""
        row = self._token_lookup().first(self.engine, token_hash=digest(plain))
        problem = None
        if row is None:
            problem = sentence("token_not_valid")
        elif row.revoked_at is not None:
            problem = sentence("token_revoked")
        elif aware(row.expires_at) <= now():
            problem = sentence("token_expired")
        identity = self._identity(row, "token", row.token_id) if problem is None else None
        if problem is None and identity is None:
            problem = sentence("token_user_inactive")
        if problem:
            self._refused(plain, ip, row, str(problem))
            raise AuthError(problem)
        last = aware(row.last_used_at)
        if last is None or now() - last >= TOKEN_USE_INTERVAL:
            with write_transaction(self.engine) as conn:
                conn.execute(sa.update(api_token).where(api_token.c.id == row.token_id).values(last_used_at=now()))
                audit.write(conn, "token.used", identity.who(ip), detail={"token_id": row.token_id, "name": row.token_name})
        return identity


    def _refused(self, plain: str, ip: str | None, row, problem: str) -> None:
        """The audit row of a refused token, unless this address's window already has one."""
        token_id = row.token_id if row is not None else None
        suppressed = self.refusals.admit((ip, token_id), now())
        if suppressed is None:
            return
        detail = {"reason": problem, "token_id": token_id, "prefix": plain[:12] if plain.startswith(TOKEN_PREFIX) else None,
                  "suppressed": suppressed, "window_seconds": int(self.refusals.window.total_seconds())}
        who = Who(row.id if row is not None else None, row.username if row is not None else None, ip)
        audit.write_now(self.engine, "token.refused", who, detail=detail)


def _insert_ignoring_conflict(conn: Connection, key: str, moment: dt.datetime):
    """INSERT of a key's row with nothing counted, doing nothing when the row exists (SQLite and PostgreSQL alike)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(login_throttle).values(key=key, failures=0, last_failure_at=moment).on_conflict_do_nothing(index_elements=["key"])


def _token_info(row) -> dict:
    return {"id": row.id, "name": row.name, "prefix": row.prefix, "user_id": row.user_id, "created_at": iso_utc(row.created_at),
            "expires_at": iso_utc(row.expires_at), "last_used_at": iso_utc(row.last_used_at), "revoked_at": iso_utc(row.revoked_at),
            "active": row.revoked_at is None and aware(row.expires_at) > now()}


def secret_key(runtime: Runtime) -> str:
    """The key signing CSRF tokens: TESSERA_SECRET_KEY, else one generated once and kept in the database,
    so that every process serving the database agrees on it."""
    if runtime.settings.secret_key:
        return runtime.settings.secret_key
    with read_transaction(runtime.engine) as conn:
        value = conn.execute(select(setting.c.value).where(setting.c.name == "secret_key")).scalar()
    if value:
        return value
    try:
        with write_transaction(runtime.engine) as conn:
            conn.execute(setting.insert().values(name="secret_key", value=secrets.token_urlsafe(48)))
    except sa.exc.IntegrityError:
        pass  # another process made it first
    return secret_key(runtime)
