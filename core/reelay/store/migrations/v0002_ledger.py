"""Money: each task's cost, the ledger, the accounts it sums into, idempotency keys.

Amounts are whole millionths of the currency (INTEGER / BIGINT): exact, and
summed exactly in SQL (``reelay.store.ledger`` converts to and from Decimal).
"""

_UNFINISHED = "status IN ('queued', 'in_progress')"

_COMMON = f"""
ALTER TABLE tasks ADD COLUMN cost_amount TEXT;
ALTER TABLE tasks ADD COLUMN cost_currency TEXT;
ALTER TABLE tasks ADD COLUMN cost_state TEXT;
CREATE INDEX tasks_owner_unfinished ON tasks (owner) WHERE {_UNFINISHED};
CREATE TABLE accounts (
    token TEXT PRIMARY KEY,
    quota_applied INTEGER NOT NULL DEFAULT 0,
    credit_micros BIGINT NOT NULL DEFAULT 0,
    held_micros BIGINT NOT NULL DEFAULT 0,
    spent_micros BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE idempotency_keys (
    token TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    task_id TEXT NOT NULL,
    created_at {{time}} NOT NULL,
    PRIMARY KEY (token, key)
);
"""

_LEDGER = """
CREATE TABLE ledger (
    seq {serial},
    token TEXT NOT NULL,
    kind TEXT NOT NULL,
    task_id TEXT,
    model TEXT,
    seconds {time},
    amount_micros BIGINT NOT NULL,
    currency TEXT NOT NULL,
    created_at {time} NOT NULL,
    note TEXT
);
-- One hold, and one settle or refund, per task: the last guard of exactly-once.
CREATE UNIQUE INDEX ledger_once ON ledger (task_id, (kind = 'hold')) WHERE task_id IS NOT NULL;
CREATE INDEX ledger_token ON ledger (token, seq);
CREATE INDEX ledger_settled ON ledger (token, created_at) WHERE kind = 'settle';
"""

SQLITE = (_COMMON + _LEDGER).format(time="REAL", serial="INTEGER PRIMARY KEY AUTOINCREMENT")
POSTGRES = (_COMMON + _LEDGER).format(time="DOUBLE PRECISION", serial="BIGSERIAL PRIMARY KEY")
