"""core/db.py: the statements run straight on the driver give what SQLAlchemy gives, in a
transaction and alone, and leave a pooled connection as they found it."""

from __future__ import annotations

import datetime as dt
import decimal
import re
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from core.db import PreparedRead, make_engine, read_statements, read_transaction, write_transaction
from core.fieldtypes import FieldTypeRegistry

METADATA = sa.MetaData()
SAMPLE = sa.Table(
    "prepared_sample", METADATA,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("name", sa.String(50)),
    sa.Column("at", sa.DateTime(timezone=True)),
    sa.Column("day", sa.Date),
    sa.Column("amount", sa.Numeric(12, 2)),
    sa.Column("active", sa.Boolean),
    sa.Column("events", sa.JSON),
)
ROWS = [
    {"id": 1, "name": "Lee", "at": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), "day": dt.date(2026, 1, 31),
     "amount": decimal.Decimal("12.45"), "active": False, "events": ["created", "updated"]},
    {"id": 2, "name": "李", "at": None, "day": None, "amount": None, "active": True, "events": None},
]
BY_NAME = sa.select(SAMPLE.c.id.label("sample_id"), SAMPLE.c.at, SAMPLE.c.day, SAMPLE.c.amount, SAMPLE.c.active,
                    SAMPLE.c.events).where(SAMPLE.c.name == sa.bindparam("name"), SAMPLE.c.id > 0)


def test_a_prepared_read_gives_what_sqlalchemy_gives(database_url):
    engine = make_engine(database_url)
    METADATA.create_all(engine)
    with write_transaction(engine) as conn:
        conn.execute(SAMPLE.insert(), ROWS)
    prepared = PreparedRead(BY_NAME)
    for row in ROWS:
        with read_transaction(engine) as conn:
            expected = conn.execute(BY_NAME, {"name": row["name"]}).one()
            in_transaction = prepared.first(conn, name=row["name"])
        alone = prepared.first(engine, name=row["name"])
        assert tuple(in_transaction) == tuple(alone) == tuple(expected)
        assert in_transaction.sample_id == row["id"] and in_transaction.active is row["active"]
    assert prepared.first(engine, name="nobody") is None
    with read_transaction(engine) as conn:
        assert [r.sample_id for r in prepared.all(conn, name="Lee")] == [1]
    engine.dispose()


def test_a_read_alone_leaves_the_pooled_connection_ready_for_transactions(database_url):
    engine = make_engine(database_url)
    METADATA.create_all(engine)
    prepared = PreparedRead(sa.select(SAMPLE.c.id).where(SAMPLE.c.name == sa.bindparam("name")))
    assert prepared.first(engine, name="Lee") is None
    with write_transaction(engine) as conn:  # the same pooled connection: its writes still commit or roll back as one
        conn.execute(SAMPLE.insert(), ROWS[:1])
        conn.get_transaction().rollback()
    assert prepared.first(engine, name="Lee") is None
    with write_transaction(engine) as conn:
        conn.execute(SAMPLE.insert(), ROWS[:1])
    assert prepared.first(engine, name="Lee").id == 1
    engine.dispose()


def _sample(database_url):
    engine = make_engine(database_url)
    METADATA.create_all(engine)
    with write_transaction(engine) as conn:
        conn.execute(SAMPLE.insert(), ROWS)
    return engine


def test_built_in_types_format_the_drivers_own_values_as_they_format_sqlalchemys(database_url):
    # A list leaves these columns unconverted (FieldType.formats_driver_values) and formats them itself.
    engine = _sample(database_url)
    types = FieldTypeRegistry()
    columns = {"at": ("datetime", {}), "day": ("date", {}), "amount": ("currency", {"scale": 2})}
    statement = sa.select(*(SAMPLE.c[name] for name in columns)).order_by(SAMPLE.c.id)
    unprocessed = frozenset(range(len(columns)))
    with read_transaction(engine) as conn:
        converted = [tuple(r) for r in conn.execute(statement)]
        raw = PreparedRead(statement).tuples(conn, {}, unprocessed=unprocessed)
        driver = conn.exec_driver_sql(str(statement.compile(dialect=conn.dialect))).fetchall()
    assert [tuple(r) for r in raw] == [tuple(r) for r in driver]
    for got, expected in zip(raw, converted):
        for value, stored, (type_name, spec) in zip(got, expected, columns.values()):
            ftype = types[type_name]
            assert ftype.formats_driver_values
            assert (value is None and stored is None) or ftype.format(value, spec) == ftype.format(stored, spec)
    assert types["datetime"].format(raw[0][0], {}) == "2026-01-02T03:04:05Z"
    assert types["date"].format(raw[0][1], {}) == "2026-01-31" and types["currency"].format(raw[0][2], {}) == 12.45
    engine.dispose()


def test_a_statement_whose_sql_depends_on_its_values_runs_through_sqlalchemy(database_url):
    engine = _sample(database_url)
    prepared = PreparedRead(sa.select(SAMPLE.c.id, SAMPLE.c.day).where(SAMPLE.c.id.in_(sa.bindparam("ids", expanding=True)))
                            .order_by(SAMPLE.c.id))
    with read_transaction(engine) as conn:
        assert prepared.tuples(conn, {"ids": [1, 2]}) == [(1, dt.date(2026, 1, 31)), (2, None)]
        assert [r.id for r in prepared.all(conn, ids=[2])] == [2]
    assert prepared.first(engine, ids=[3]) is None and prepared.first(engine, ids=[1]).day == dt.date(2026, 1, 31)
    engine.dispose()


def test_listeners_see_a_prepared_read_made_in_a_transaction(database_url):
    engine = _sample(database_url)
    seen = []

    def capture(_conn, _cursor, statement, parameters, _context, _executemany):
        seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", capture)
    prepared = PreparedRead(BY_NAME)  # a named parameter and a literal (an anonymous one)
    with read_transaction(engine) as conn:
        assert prepared.first(conn, name="Lee").sample_id == 1
    [(statement, parameters)] = [(s, p) for s, p in seen if "prepared_sample" in s]
    assert "WHERE prepared_sample.name" in statement
    if isinstance(parameters, dict):  # exactly the parameters the SQL names, as SQLAlchemy would bind them
        assert parameters == {"name": "Lee", "id_1": 0}
        assert set(re.findall(r"%\((\w+)\)s", statement)) == set(parameters)
    else:
        assert list(parameters) == ["Lee", 0] and statement.count("?") == 2
    engine.dispose()


def test_listeners_see_a_prepared_read_made_alone_on_the_engine(database_url):
    """As the token and session lookups of every request are made."""
    engine = _sample(database_url)
    seen = []
    sa.event.listen(engine, "before_cursor_execute", lambda _c, _cur, statement, parameters, *_rest: seen.append((statement, parameters)))
    prepared = PreparedRead(BY_NAME)

    assert prepared.first(engine, name="Lee").sample_id == 1
    assert prepared.first(engine, name="nobody") is None

    watched = [p for s, p in seen if "prepared_sample" in s]
    assert [list(p.values())[0] if isinstance(p, dict) else p[0] for p in watched] == ["Lee", "nobody"]
    with engine.connect() as conn:  # the connection went back to the pool outside a transaction, writable
        conn.execute(SAMPLE.update().where(SAMPLE.c.id == 2).values(name="Li"))
        conn.commit()
    assert prepared.first(engine, name="Li").sample_id == 2
    engine.dispose()


def test_timestamps_are_shown_in_utc_whatever_form_the_driver_gives():
    shanghai = dt.timezone(dt.timedelta(hours=8))
    shown = {
        "2026-03-01 09:30:00.000000": "2026-03-01T09:30:00Z",  # SQLite's text, as SQLAlchemy writes it
        "2026-03-01 09:30:00.123400": "2026-03-01T09:30:00.123400Z",
        "2026-03-01 09:30:00": "2026-03-01T09:30:00Z",
        "2026-03-01T09:30:00+02:00": "2026-03-01T07:30:00Z",
        dt.datetime(2026, 3, 1, 9, 30): "2026-03-01T09:30:00Z",
        dt.datetime(2026, 3, 1, 9, 30, 0, 5, tzinfo=dt.timezone.utc): "2026-03-01T09:30:00.000005Z",
        dt.datetime(2026, 3, 1, 9, 30, tzinfo=shanghai): "2026-03-01T01:30:00Z",
        dt.datetime(2026, 3, 1, 9, 30, tzinfo=ZoneInfo("Etc/UTC")): "2026-03-01T09:30:00Z",  # psycopg's, in a UTC session
        dt.datetime(2026, 7, 1, 9, 30, 0, 120, tzinfo=ZoneInfo("Europe/Berlin")): "2026-07-01T07:30:00.000120Z",
    }
    datetime_type = FieldTypeRegistry()["datetime"]
    assert {value: datetime_type.format(value, {}) for value in shown} == shown
    assert datetime_type.format(None, {}) is None


def test_reads_see_committed_data_and_leave_the_pooled_connection_ready_for_transactions(database_url):
    engine = make_engine(database_url)
    METADATA.create_all(engine)
    with read_statements(engine) as conn:
        if engine.dialect.name == "postgresql":  # READ COMMITTED: no BEGIN and COMMIT around the reads
            assert conn.connection.driver_connection.autocommit is True
        else:  # one snapshot for all the reads
            assert conn.in_transaction()
        assert conn.execute(sa.select(sa.func.count()).select_from(SAMPLE)).scalar_one() == 0
    with write_transaction(engine) as conn:  # the same pooled connection: a write still rolls back as one
        conn.execute(SAMPLE.insert(), ROWS)
        conn.get_transaction().rollback()
    with read_statements(engine) as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(SAMPLE)).scalar_one() == 0
    with write_transaction(engine) as conn:
        conn.execute(SAMPLE.insert(), ROWS)
    with read_statements(engine) as conn:
        assert PreparedRead(BY_NAME).first(conn, name="李").sample_id == 2
    engine.dispose()
