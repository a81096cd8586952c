"""Core's own tables. Their DDL lives in alembic revisions under core/migrations."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, DateTime, Index, Integer, MetaData, Numeric, String, Table, Text
from sqlalchemy import text as sa_text
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR

from core.fieldtypes import ID_TYPE

core_metadata = MetaData()
JSON_TYPE = JSON().with_variant(JSONB(), "postgresql")

meta_state = Table(
    "tessera_meta_state",
    core_metadata,
    Column("id", Integer, primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)

meta_document = Table(
    "tessera_meta_document",
    core_metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),
    Column("name", String(200), nullable=False),
    Column("document", JSON_TYPE, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(200), nullable=False),
    Index("uq_tessera_meta_document_kind_name", "kind", "name", unique=True),
)

schema_history = Table(
    "tessera_schema_history",
    core_metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("applied_at", DateTime(timezone=True), nullable=False),
    Column("applied_by", String(200), nullable=False),
    Column("metadata_version", BigInteger, nullable=False),
    Column("operation", String(40), nullable=False),
    Column("object", String(64), nullable=True),
    Column("detail", Text, nullable=False),
)

field_history = Table(
    "tessera_field_history",
    core_metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("object", String(64), nullable=False),
    Column("record_id", BigInteger, nullable=False),
    Column("field", String(64), nullable=False),
    Column("old_value", JSON_TYPE, nullable=True),
    Column("new_value", JSON_TYPE, nullable=True),
    Column("record_version", Integer, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("changed_by", BigInteger, nullable=True),
    Column("changed_by_name", String(200), nullable=False),
    Index("ix_tessera_field_history_record", "object", "record_id", "id"),
)

sequence = Table(
    "tessera_sequence",
    core_metadata,
    Column("name", String(120), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# --- access: sign-in, sessions, tokens, sharing, audit, webhooks (revision 0002) ---------------

TS = DateTime(timezone=True)

setting = Table(
    "tessera_setting",
    core_metadata,
    Column("name", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

credential = Table(
    "tessera_credential",
    core_metadata,
    Column("user_id", BigInteger, primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("changed_at", TS, nullable=False),
)

session = Table(
    "tessera_session",
    core_metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", BigInteger, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("ip", String(64), nullable=True),
    Index("ix_tessera_session_user", "user_id"),
)

api_token = Table(
    "tessera_api_token",
    core_metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("last_used_at", TS, nullable=True),
    Column("revoked_at", TS, nullable=True),
    Index("uq_tessera_api_token_hash", "token_hash", unique=True),
    Index("ix_tessera_api_token_user", "user_id", "id"),
)

login_throttle = Table(
    "tessera_login_throttle",
    core_metadata,
    Column("key", String(200), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", TS, nullable=False),
    Column("locked_until", TS, nullable=True),
)

audit = Table(
    "tessera_audit",
    core_metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("at", TS, nullable=False),
    Column("event", String(40), nullable=False),
    Column("user_id", BigInteger, nullable=True),
    Column("username", String(200), nullable=True),
    Column("ip", String(64), nullable=True),
    Column("object", String(64), nullable=True),
    Column("record_id", BigInteger, nullable=True),
    Column("detail", JSON_TYPE, nullable=True),
    Index("ix_tessera_audit_at", "at", "id"),
    Index("ix_tessera_audit_event", "event", "id"),
    Index("ix_tessera_audit_user", "user_id", "id"),
)

share = Table(
    "tessera_share",
    core_metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("object", String(64), nullable=False),
    Column("record_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=True),
    Column("team_id", BigInteger, nullable=True),
    Column("access", String(10), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("created_by", BigInteger, nullable=True),
    Index("ix_tessera_share_user", "object", "user_id", "record_id"),
    Index("ix_tessera_share_team", "object", "team_id", "record_id"),
    Index("ix_tessera_share_record", "object", "record_id"),
)

webhook = Table(
    "tessera_webhook",
    core_metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("object", String(64), nullable=False),
    Column("events", JSON_TYPE, nullable=False),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("created_by", BigInteger, nullable=True),
    Index("ix_tessera_webhook_object", "object", "active"),
)

webhook_delivery = Table(
    "tessera_webhook_delivery",
    core_metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("webhook_id", BigInteger, nullable=False),
    Column("event", String(20), nullable=False),
    Column("object", String(64), nullable=False),
    Column("record_id", BigInteger, nullable=False),
    Column("payload", JSON_TYPE, nullable=False),
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", TS, nullable=False),
    Column("claimed_until", TS, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", TS, nullable=False),
    Column("delivered_at", TS, nullable=True),
    Index("ix_tessera_webhook_delivery_due", "status", "next_attempt_at"),
    Index("ix_tessera_webhook_delivery_hook", "webhook_id", "id"),
)

# --- the web UI's own state (revision 0003) ---------------------------------------------------

saved_view = Table(
    "tessera_saved_view",
    core_metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("object", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("query", Text, nullable=False),  # the list's query string
    Column("owner", BigInteger, nullable=False),
    Column("shared", Boolean, nullable=False),
    Column("created_at", TS, nullable=False),
    Index("ix_tessera_saved_view_object", "object", "owner"),
)

recent_view = Table(
    "tessera_recent_view",
    core_metadata,
    Column("user_id", BigInteger, primary_key=True),
    Column("object", String(64), primary_key=True),
    Column("record_id", BigInteger, primary_key=True),
    Column("viewed_at", TS, nullable=False),
    Index("ix_tessera_recent_view_user", "user_id", "viewed_at"),
)

# --- import jobs (revision 0004) --------------------------------------------------------------

import_job = Table(
    "tessera_import_job",
    core_metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("object", String(64), nullable=False),
    Column("source", Text, nullable=False),  # the file's name, as given
    Column("fingerprint", String(64), nullable=False),  # sha256 of the file's bytes: a resumed run reads the same file
    Column("settings", JSON_TYPE, nullable=False),  # the mapping and options the run uses
    Column("settings_digest", String(64), nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("status", String(12), nullable=False),  # running | done | failed | interrupted
    Column("next_row", BigInteger, nullable=False),  # the first row (spreadsheet numbering) no completed batch covered
    Column("rows_total", BigInteger, nullable=True),
    Column("created", BigInteger, nullable=False),
    Column("updated", BigInteger, nullable=False),
    Column("skipped", BigInteger, nullable=False),
    Column("rejected", BigInteger, nullable=False),
    Column("rejected_path", Text, nullable=True),
    Column("rejected_bytes", BigInteger, nullable=False),  # the rejected-rows file's length after the last completed batch
    Column("pending", JSON_TYPE, nullable=False),  # self-references waiting for a later row
    Column("message", Text, nullable=True),
    Column("created_by", BigInteger, nullable=True),
    Column("created_by_name", String(200), nullable=False),
    Column("started_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("finished_at", TS, nullable=True),
    Index("ix_tessera_import_job_resume", "object", "fingerprint", "status"),
)

# --- global search (revision 0005) ----------------------------------------------------------------

# One row per record and searchable field, so that a search can leave out the fields a user may not see.
# ``terms`` is the field's words as core/search.py writes them: text under an FTS5 table on SQLite
# (tessera_search_fts, kept in step by triggers), a tsvector under a GIN index on PostgreSQL.
search_entry = Table(
    "tessera_search_entry",
    core_metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("object", String(64), nullable=False),
    Column("record_id", BigInteger, nullable=False),
    Column("field", String(64), nullable=False),
    Column("terms", Text().with_variant(TSVECTOR(), "postgresql"), nullable=False),
    Index("ix_tessera_search_entry_record", "object", "record_id"),
)

# An entry's id is its key: the object's code, the field's place among the object's indexed fields and the record's
# id, in bits (core/search.py ``entry_key``), so that one object's entries are one range of the full-text index.
search_object = Table(
    "tessera_search_object",
    core_metadata,
    Column("name", String(64), primary_key=True),
    Column("code", Integer, nullable=False, unique=True),
)

# --- board column totals (revision 0006) -----------------------------------------------------------

# Count and sum per value of a board's column field, kept by triggers (core/group_totals.py). SQLite keeps
# one row per value; PostgreSQL adds rows of differences, which readers sum and fold together now and then.
group_total = Table(
    "tessera_group_total",
    core_metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("object", String(64), nullable=False),
    Column("field", String(64), nullable=False),
    Column("sum_field", String(64), nullable=False),
    Column("value", Text, nullable=True),
    Column("records", BigInteger, nullable=False),
    Column("total", Numeric, nullable=False),
    Index("ix_tessera_group_total_key", "object", "field", "sum_field", "value"),
)

# --- stage intervals (revision 0012) --------------------------------------------------------------

# When each record entered and left each value of its object's process field (core/stage_history.py): what reports of
# the time spent in each stage read, instead of walking the whole field history.
stage_interval = Table(
    "tessera_stage_interval",
    core_metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("object", String(64), nullable=False),
    Column("field", String(64), nullable=False),
    Column("record_id", BigInteger, nullable=False),
    Column("value", Text, nullable=True),
    Column("entered_at", DateTime(timezone=True), nullable=False),
    Column("left_at", DateTime(timezone=True), nullable=True),
    Index("ix_tessera_stage_interval_record", "object", "field", "record_id", "left_at"),
)

# --- the job queue (revision 0008) -----------------------------------------------------------------

# Everything that runs later, one row per job (core/queue.py): enqueued in the transaction that causes it, claimed by
# workers under a lease, retried with backoff, dead after its attempts.
job = Table(
    "tessera_job",
    core_metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("queue", String(64), nullable=False),
    Column("kind", String(128), nullable=False),  # the handler that runs it
    Column("payload", JSON_TYPE, nullable=False),
    Column("state", String(12), nullable=False),  # queued | running | done | dead
    Column("priority", Integer, nullable=False),  # higher first
    Column("run_at", DateTime(timezone=True), nullable=False),  # not before
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("locked_by", String(128), nullable=True),  # the worker holding it while running
    Column("locked_until", DateTime(timezone=True), nullable=True),  # its lease: after this another worker may take it
    Column("last_error", Text, nullable=True),
    Column("key", String(200), nullable=True, unique=True),  # idempotency: one job per key
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Index("ix_tessera_job_next", "state", sa_text("priority DESC"), "run_at", "id"),  # a claim's order (core/queue.py)
)

# --- notifications (revision 0009) ----------------------------------------------------------------

# One row per recipient (core/notifications.py): written in the transaction of the change that causes it. A message
# is a code of core/words.py (or of a plugin's tessera_words) with its params, read in the reader's language, or a
# plain text given by the caller; ``key`` keeps a repeated cause from notifying a user twice.
notification = Table(
    "tessera_notification",
    core_metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),  # the recipient
    Column("kind", String(32), nullable=False),  # mention | reminder | approval | rule | ...
    Column("object", String(64), nullable=True),  # the record it links to, when any
    Column("record_id", BigInteger, nullable=True),
    Column("code", String(128), nullable=True),  # the message as a code and its params ...
    Column("params", JSON_TYPE, nullable=True),
    Column("text", Text, nullable=True),  # ... or as plain text (either, or both: the text then serves an unknown code)
    Column("actor_id", BigInteger, nullable=True),
    Column("actor_name", String(200), nullable=True),
    Column("key", String(200), nullable=True),  # one notification per user and key
    Column("created_at", TS, nullable=False),
    Column("read_at", TS, nullable=True),
    Index("ix_tessera_notification_unread", "user_id", "read_at", "id"),  # the bell's count; a user's list
    Index("uq_tessera_notification_key", "user_id", "key", unique=True),  # NULL keys never clash
)

# Each user's choice of e-mail for their notifications (core/notifications.py ``email_choice``): no row, the default.
notification_setting = Table(
    "tessera_notification_setting",
    core_metadata,
    Column("user_id", BigInteger, primary_key=True),
    Column("email", String(12), nullable=False),  # each | digest | never
    Column("changed_at", TS, nullable=False),
)

# Workflow rules (core/automations/): each run of a rule, as the rule's and the record's pages show it.
automation_run = Table(
    "tessera_automation_run",
    core_metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("rule", String(64), nullable=False),
    Column("object", String(64), nullable=False),
    Column("record_id", BigInteger, nullable=True),  # none for a scheduled run's summary
    Column("trigger", String(20), nullable=False),  # created | updated | field_changed | deleted | time | schedule | button
    Column("status", String(12), nullable=False),  # done | failed | skipped
    Column("detail", JSON_TYPE, nullable=True),  # what each action did
    Column("error", Text, nullable=True),
    Column("depth", Integer, nullable=False),  # 1 for a person's change, one more for each rule's change in between
    Column("job_id", BigInteger, nullable=True),
    Column("actor_id", BigInteger, nullable=True),  # who caused it (pressed the button, made the change)
    Column("created_at", TS, nullable=False),
    Index("ix_tessera_automation_run_record", "object", "record_id", "id"),
    Index("ix_tessera_automation_run_rule", "rule", "id"),
)

# Time triggers: when each record is due for each time rule, computed when the record is written. The scheduler
# reads only the rows due now, by the index on due_at: no scan of the object's table on each tick.
automation_due = Table(
    "tessera_automation_due",
    core_metadata,
    Column("rule", String(64), primary_key=True),
    Column("record_id", BigInteger, primary_key=True),
    Column("due_at", TS, nullable=False),
    Index("ix_tessera_automation_due_at", "due_at"),
)

# What a rule keeps between runs: whose turn it is (round robin), since when a schedule runs, how its due times
# were computed (a time rule whose field or interval changes has them computed again).
automation_state = Table(
    "tessera_automation_state",
    core_metadata,
    Column("rule", String(64), primary_key=True),
    Column("state", JSON_TYPE, nullable=False),
    Column("changed_at", TS, nullable=False),
)

# --- approvals (revision 0011) --------------------------------------------------------------------

# One row per submission of a record to an approval process (core/approvals/service.py). While its status is pending
# the record is locked (at most one pending submission per record: a partial unique index); ``approvers`` are the
# users of the current step, resolved when the step started.
approval = Table(
    "tessera_approval",
    core_metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("object", String(64), nullable=False),
    Column("record_id", BigInteger, nullable=False),
    Column("process", String(64), nullable=False),
    Column("status", String(12), nullable=False),  # pending | approved | rejected | recalled
    Column("step", Integer, nullable=True),  # the current step's index in the process's steps (None once settled)
    Column("step_name", String(64), nullable=True),
    Column("approvers", JSON_TYPE, nullable=False),  # user ids of the current step
    Column("submitted_by", BigInteger, nullable=True),
    Column("submitted_by_name", String(200), nullable=False),
    Column("submitted_at", TS, nullable=False),
    Column("comment", Text, nullable=True),
    Column("finished_at", TS, nullable=True),
    Index("ix_tessera_approval_record", "object", "record_id", "id"),
    Index("uq_tessera_approval_pending", "object", "record_id", unique=True,
          sqlite_where=sa_text("status = 'pending'"), postgresql_where=sa_text("status = 'pending'")),
)

# Each approver's decision on a step of a submission.
approval_decision = Table(
    "tessera_approval_decision",
    core_metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("approval_id", BigInteger, nullable=False),
    Column("step", Integer, nullable=False),
    Column("step_name", String(64), nullable=False),
    Column("user_id", BigInteger, nullable=True),
    Column("user_name", String(200), nullable=False),
    Column("decision", String(12), nullable=False),  # approve | reject
    Column("comment", Text, nullable=True),
    Column("decided_at", TS, nullable=False),
    Index("ix_tessera_approval_decision", "approval_id", "id"),
)
