"""Database engines: SQLite (WAL, foreign keys on) by default, PostgreSQL by URL.

SQLite's Python driver does not open a transaction before DDL, so schema changes
would commit statement by statement. We take over BEGIN ourselves (the recipe from
SQLAlchemy's SQLite dialect documentation) so that a metadata change and its DDL
commit or roll back together. Writers ask for ``BEGIN IMMEDIATE`` so that two
processes never deadlock upgrading a read lock to a write lock.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
import weakref
from collections import namedtuple
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from core import private


class DatabaseURLError(ValueError):
    """The configured database URL cannot be used."""


WRITE = "tessera_write"


def shown_url(url: str) -> str:
    """A database URL as it may be printed or logged: with its password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # not a URL SQLAlchemy reads: mask what looks like user:password@
        return re.sub(r"(//[^/:@]*:)[^/@]*@", r"\1***@", url)


def make_engine(url: str, echo: bool = False) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseURLError(
            f"'{shown_url(url)}' is not a database URL; use sqlite:///path/to/file.db "
            "or postgresql+psycopg://user@host:port/dbname"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, echo)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        # No pre-ping: it costs a round trip per request; a dropped connection is
        # detected on use and the pool replaced.
        return create_engine(parsed, echo=echo, pool_recycle=3600)
    raise DatabaseURLError(f"'{backend}' databases are not supported; use sqlite or postgresql")


# How long a writer waits for another writer of the same process before leaving the wait to
# SQLite's own busy handler (which then gives up after its busy_timeout with "database is locked").
WRITER_WAIT_SECONDS = 30
_WRITER_LOCKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _sqlite_engine(url, echo: bool) -> Engine:
    engine = create_engine(url, echo=echo, connect_args={"timeout": 30})
    database = _database_file(url)

    @event.listens_for(engine, "do_connect")
    def _private_database(_dialect, _record, _args, _params):
        if database is not None and database.parent.is_dir():  # else SQLite says it cannot open the file
            private.create_file(database)  # before SQLite makes it with the umask's mode; its -wal and -shm take this one's

    # SQLite lets one writer in at a time; a writer that finds the lock taken sleeps in
    # SQLite's busy handler for 1 to 100 ms before it looks again, so writers of one process
    # on several threads waited far longer than the write they queued behind. They queue on
    # this lock instead and go in as soon as the one before commits; writers of other
    # processes still meet at SQLite's lock.
    _WRITER_LOCKS[engine] = threading.RLock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection):
        if conn.get_execution_options().get(WRITE, False):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:  # a read's BEGIN takes no lock: straight to the driver, without SQLAlchemy's execution around it
            conn.connection.driver_connection.execute("BEGIN")

    return engine


# Per-connection settings for bulk writes (imports) on SQLite, kept by the connection once given:
# a page cache that holds the indexes a batch touches, so that the next batch finds them there,
# and checkpoints of the write-ahead log every BULK_WAL_PAGES pages rather than every 1,000,
# so that a page that every batch changes (an index's) is copied to the database once per
# checkpoint rather than once per batch. Both are memory/disk trade-offs a bulk load wants.
BULK_CACHE_KIB = 64 * 1024
BULK_WAL_PAGES = 16_384
_BULK_READY = "tessera_bulk_pragmas"


BUSY_TIMEOUT_MS = 30_000  # how long a statement waits for another process's lock
CHECKPOINT_WAIT_MS = 2000


def checkpoint(engine: Engine) -> None:
    """Copy SQLite's write-ahead log into the database file and empty it, so that the file alone holds the data.

    For the end of a command that wrote and the stop of the server: until then, the newest
    changes may be in the -wal file alone. It waits for other processes' readers and writers
    at most CHECKPOINT_WAIT_MS; one that cannot finish now is left to SQLite's own checkpoints.
    Nothing to do on PostgreSQL, or when the database file was never made.
    """
    database = _database_file(engine.url) if engine.dialect.name == "sqlite" else None
    if database is None or not database.is_file():
        return
    try:
        with engine.connect() as conn:
            driver = conn.connection.driver_connection
            driver.execute(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
            driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            driver.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    except (DBAPIError, sqlite3.Error):  # busy past the wait (SQLite checkpoints later by itself), or not a database at all
        pass


ANALYSIS_ROWS = 1000  # rows SQLite's ANALYZE reads per index: approximate statistics in milliseconds, not minutes


def refresh_statistics(engine: Engine, table: str | None = None) -> None:
    """Give the query planner fresh statistics of ``table`` (of every table on SQLite when None).

    SQLite keeps none until ANALYZE runs, and without them it may read a board column through the
    index of a filter and sort 200,000 rows where the (column, updated_at) index would hand it the 50
    it shows. For the server's start and the end of an import. PostgreSQL's autovacuum keeps its own:
    only an import's table is analyzed there, so that the next read does not wait for it.
    """
    sqlite = engine.dialect.name == "sqlite"
    if table is None and not sqlite:
        return
    with write_transaction(engine) as conn:
        if sqlite:
            conn.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_ROWS}")
        conn.exec_driver_sql("ANALYZE" if table is None else f"ANALYZE {conn.dialect.identifier_preparer.quote(table)}")


def _database_file(url) -> Path | None:
    """The SQLite database's file, or None (in memory, or a file: URI that SQLite opens its own way)."""
    if not url.database or url.database == ":memory:" or url.query.get("uri"):
        return None
    return Path(url.database)


def prepare_bulk(conn: Connection) -> None:
    """Give this connection the settings for bulk writes (SQLite; nothing elsewhere)."""
    if conn.dialect.name != "sqlite":
        return
    info = conn.connection.info
    if not info.get(_BULK_READY):
        conn.exec_driver_sql(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
        conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={BULK_WAL_PAGES}")
        info[_BULK_READY] = True


def id_batches(conn: Connection, table, size: int) -> Iterator[list[int]]:
    """Every id of ``table``, ``size`` at a time in their order (each batch read after the last is used, by the last id
    seen: rows inserted meanwhile after it are met, and no batch holds more than ``size``)."""
    import sqlalchemy as sa  # noqa: PLC0415 - this module otherwise needs only the engine

    after = None
    while True:
        query = sa.select(table.c.id).order_by(table.c.id).limit(size)
        ids = list(conn.execute(query if after is None else query.where(table.c.id > after)).scalars())
        if not ids:
            return
        yield ids
        after = ids[-1]


def is_sqlite(bind) -> bool:
    return bind.dialect.name == "sqlite"


AFTER_COMMIT = "tessera_after_commit"


def after_commit(conn: Connection, callback: Callable[[], None]) -> None:
    """Call ``callback`` once the ``write_transaction`` that ``conn`` is in has committed (never if it rolls back):
    to tell this process's threads about what the transaction wrote, which they can read only then."""
    conn.info.setdefault(AFTER_COMMIT, []).append(callback)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: BEGIN IMMEDIATE on SQLite, after the process's other writers."""
    lock = _WRITER_LOCKS.get(engine)
    queued = lock is not None and lock.acquire(timeout=WRITER_WAIT_SECONDS)
    try:
        with engine.connect().execution_options(**{WRITE: True}) as conn:
            conn.info.pop(AFTER_COMMIT, None)  # the connection's info outlives its transactions
            try:
                with conn.begin():
                    yield conn
            finally:
                callbacks = conn.info.pop(AFTER_COMMIT, [])
    finally:
        if queued:
            lock.release()
    for callback in callbacks:  # reached only when the transaction committed
        callback()


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        with conn.begin():
            yield conn


class ReadBudgetExceeded(Exception):
    """A unit of reads ran past its time budget and was stopped; it changed nothing and can run again elsewhere."""


# SQLite calls the budget check once per this many virtual machine instructions: often enough
# to stop within a fraction of a millisecond, rarely enough to cost nothing measurable.
BUDGET_CHECK_STEPS = 1000


@contextmanager
def read_statements(engine: Engine, budget: float | None = None) -> Iterator[Connection]:
    """A connection for a unit of reads that sees the data as one transaction would.

    On SQLite that is a transaction: one snapshot for all its statements. On PostgreSQL at
    READ COMMITTED (its default) each statement takes its own snapshot inside a transaction
    too, so the reads run in autocommit and save BEGIN and COMMIT, two of a list's four round
    trips. At a stricter default isolation level they keep their transaction.

    ``budget`` (seconds, SQLite only) bounds the unit's time: once that long has passed since
    it began, the statement running then (or the next one) is interrupted and
    ReadBudgetExceeded raised. This is for reads made on the web server's event loop, which
    must not hold it for long.
    """
    if engine.dialect.name != "postgresql":
        with read_transaction(engine) as conn:
            if budget is None:
                yield conn
            else:
                with _within(conn, budget):
                    yield conn
        return
    with engine.connect() as conn:
        if conn.dialect.default_isolation_level == "READ COMMITTED":
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        with conn.begin():
            yield conn


@contextmanager
def _within(conn: Connection, budget: float) -> Iterator[None]:
    driver = conn.connection.driver_connection
    deadline = time.perf_counter() + budget

    def past_deadline() -> bool:  # true: SQLite interrupts the statement
        return time.perf_counter() > deadline

    driver.set_progress_handler(past_deadline, BUDGET_CHECK_STEPS)
    try:
        yield
    except DBAPIError as exc:
        if isinstance(exc.orig, sqlite3.OperationalError) and "interrupted" in str(exc.orig) and past_deadline():
            raise ReadBudgetExceeded(f"the reads took more than {budget * 1000:g} ms") from exc
        raise
    finally:
        driver.set_progress_handler(None, 0)


class PreparedRead:
    """A SELECT compiled once per dialect and run straight on the driver's cursor.

    For the small lookups made on every request: the token or session behind it, the metadata
    version, the webhook subscriptions of a write. What SQLAlchemy does per execution (events,
    parameter and result handling) is worked out once here; values come back as SQLAlchemy
    would give them (the columns' bind and result processors are applied), in rows with the
    selected columns' names as attributes. Given an Engine, the statement runs alone in
    autocommit (a single statement is consistent by itself, so it needs no BEGIN and COMMIT,
    which are two round trips on PostgreSQL); given a Connection, it runs in that
    connection's transaction. Either way the ``before_cursor_execute`` listeners of the
    engine or connection see it as they would see SQLAlchemy's own execution.

    A statement whose SQL depends on its values (an expanding ``IN``) cannot be compiled
    once; it is run through SQLAlchemy as usual, with the same results.
    """

    def __init__(self, statement) -> None:
        self._statement = statement
        columns = list(statement.selected_columns)
        self._row = namedtuple("Row", [c.key for c in columns], rename=True)
        self._compiled: dict[str, _CompiledRead] = {}

    def first(self, bind: Engine | Connection, **params):
        """The first row for these parameters, or None."""
        found = self._run(bind, params, one=True)
        return self._row(*found[0]) if found else None

    def all(self, bind: Engine | Connection, **params) -> list:
        return [self._row(*values) for values in self._run(bind, params, one=False)]

    def tuples(self, bind: Engine | Connection, params: dict, unprocessed: frozenset[int] = frozenset()) -> list[tuple]:
        """Every row as a plain tuple, in the order of the selected columns: for many rows.

        The columns at the ``unprocessed`` positions keep the driver's own values (SQLite's
        text for a date, say), for callers that convert them themselves.
        """
        return self._run(bind, params, one=False, unprocessed=unprocessed)

    def _run(self, bind: Engine | Connection, params: dict, one: bool, unprocessed: frozenset[int] = frozenset()) -> list[tuple]:
        name = bind.dialect.name
        compiled = self._compiled[name] if name in self._compiled else self._compile(bind.dialect)
        if compiled is None:
            return _through_sqlalchemy(bind, self._statement, params, one)
        bound = compiled.parameters(params)
        if isinstance(bind, Connection):
            rows, description = _fetch_in(bind, compiled.sql, bound, one)
        else:
            rows, description = _fetch_autocommit(bind, compiled.sql, bound, one)
        processors = compiled.processors.get(unprocessed)
        if processors is None:  # some depend on the type the driver reports (PostgreSQL's numerics)
            processors = compiled.processors[unprocessed] = [
                None if position in unprocessed else column.type.dialect_impl(bind.dialect).result_processor(bind.dialect, described[1])
                for position, (column, described) in enumerate(zip(self._statement.selected_columns, description))]
        if not any(processors):
            return rows
        return [tuple([process(v) if process else v for process, v in zip(processors, row)]) for row in rows]

    def _compile(self, dialect) -> "_CompiledRead | None":
        compiled = self._statement.compile(dialect=dialect)
        if any(bind.expanding or bind.literal_execute for bind in compiled.binds.values()):
            self._compiled[dialect.name] = None
            return None
        made = self._compiled[dialect.name] = _CompiledRead(
            compiled.string,
            list(compiled.positiontup) if compiled.positional else None,
            # by the names in the SQL (compiled.binds also holds anonymous parameters under their unrendered keys)
            {name: (bind, bind.type.dialect_impl(dialect).bind_processor(dialect)) for bind, name in compiled.bind_names.items()},
        )
        return made


class _CompiledRead:
    def __init__(self, sql: str, positional: list[str] | None, binds: dict) -> None:
        self.sql, self.positional, self.binds = sql, positional, binds
        self.processors: dict[frozenset[int], list] = {}  # from the first execution's cursor description, per set of unprocessed columns

    def parameters(self, params: dict):
        values = {}
        for name, (bind, process) in self.binds.items():
            value = params[bind.key] if bind.key in params else bind.effective_value  # a literal of the statement
            values[name] = process(value) if process else value
        return [values[name] for name in self.positional] if self.positional is not None else values


def _through_sqlalchemy(bind: Engine | Connection, statement, params: dict, one: bool) -> list[tuple]:
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return _through_sqlalchemy(conn, statement, params, one)
    result = bind.execute(statement, params)
    rows = [result.first()] if one else result.all()
    return [tuple(row) for row in rows if row is not None]


def fetch_on_driver(conn: Connection, sql: str, parameters, one: bool = False) -> list[tuple]:
    """Run ``sql`` (in the driver's parameter style) on the connection's own cursor, in its transaction.

    The connection's ``before_cursor_execute`` listeners see it, and the driver's errors are
    raised as SQLAlchemy raises them (``sqlalchemy.exc.IntegrityError``, ...).
    """
    return _fetch_in(conn, sql, parameters, one)[0]


def _fetch_in(conn: Connection, sql: str, parameters, one: bool) -> tuple[list, tuple]:
    try:
        return _fetch(conn.connection.dbapi_connection, sql, parameters, one, _listeners(conn), conn)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, parameters, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect) from exc


def _listeners(conn: Connection) -> list:
    listeners = conn.dispatch.before_cursor_execute
    return list(listeners) if listeners else []


def _fetch(dbapi_connection, sql: str, bound, one: bool, listeners: list = (), conn: Connection | None = None) -> tuple[list, tuple]:
    cursor = dbapi_connection.cursor()
    try:
        for listener in listeners:
            sql, bound = listener(conn, cursor, sql, bound, None, False)
        cursor.execute(sql, bound)
        if one:
            row = cursor.fetchone()
            return ([row] if row is not None else []), cursor.description
        return cursor.fetchall(), cursor.description
    finally:
        cursor.close()


def _fetch_autocommit(engine: Engine, sql: str, bound, one: bool) -> tuple[list, tuple]:
    if engine.dispatch.before_cursor_execute:  # someone watches the engine's statements: run it where they see it
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            return _fetch_in(conn, sql, bound, one)
    raw = engine.raw_connection()
    driver = raw.driver_connection
    postgres = engine.dialect.name == "postgresql"  # SQLite's connections are in autocommit already (see above)
    try:
        if postgres:
            driver.autocommit = True
        try:
            return _fetch(raw, sql, bound, one)
        finally:
            if postgres and not driver.closed:
                driver.autocommit = False
    except engine.dialect.loaded_dbapi.Error as exc:
        if engine.dialect.is_disconnect(exc, driver, None):
            raw.invalidate(exc)
        raise
    finally:
        raw.close()
