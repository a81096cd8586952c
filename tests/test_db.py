"""core/db.py: the statements run straight on the driver give what SQLAlchemy gives, in a
transaction and alone, and leave a pooled connection as they found it."""

from __future__ import annotations

import datetime as dt
import decimal

import sqlalchemy as sa

from core.db import PreparedRead, make_engine, read_transaction, write_transaction

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
