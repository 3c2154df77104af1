"""Webhook deliveries, every attempt at them, and a task's own receiver (``reelay.store.deliveries``).

``IF NOT EXISTS``: earlier releases created these tables on start-up, outside the migrations.
"""

_TABLES = """
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id TEXT PRIMARY KEY,
    task_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    type TEXT NOT NULL,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at {time} NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at {time} NOT NULL,
    lease_owner TEXT,
    lease_until {time} NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS webhook_deliveries_task ON webhook_deliveries (task_id);
CREATE TABLE IF NOT EXISTS webhook_attempts (
    delivery_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at {time} NOT NULL,
    url TEXT NOT NULL,
    status_code INTEGER,
    error TEXT,
    next_retry_at {time},
    PRIMARY KEY (delivery_id, attempt)
);
CREATE INDEX IF NOT EXISTS webhook_attempts_task ON webhook_attempts (task_id, at);
CREATE TABLE IF NOT EXISTS webhook_targets (task_id TEXT PRIMARY KEY, url TEXT NOT NULL);
"""

SQLITE = _TABLES.format(time="REAL")
POSTGRES = _TABLES.format(time="DOUBLE PRECISION")
