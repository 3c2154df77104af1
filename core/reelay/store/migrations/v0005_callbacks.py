"""Vendor callbacks: the token each task's callback URL carries (``reelay.store.callbacks``).

``IF NOT EXISTS``: earlier releases created the table on start-up, outside the migrations.
"""

_TABLE = """
CREATE TABLE IF NOT EXISTS task_callbacks (
    token TEXT PRIMARY KEY,
    task_id TEXT NOT NULL,
    vendor TEXT NOT NULL,
    created_at {time} NOT NULL
);
"""

SQLITE = _TABLE.format(time="REAL")
POSTGRES = _TABLE.format(time="DOUBLE PRECISION")
