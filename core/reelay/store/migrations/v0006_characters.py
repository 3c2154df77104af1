"""Characters: a public id, its owner and channel, the vendor's reference (``reelay.store.characters``).

``IF NOT EXISTS``: earlier releases created the table on first use, outside the migrations.
"""

_TABLE = """
CREATE TABLE IF NOT EXISTS characters (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    model TEXT NOT NULL,
    vendor TEXT NOT NULL,
    channel TEXT NOT NULL,
    created_at {time} NOT NULL,
    vendor_ref TEXT NOT NULL
);
"""

SQLITE = _TABLE.format(time="REAL")
POSTGRES = _TABLE.format(time="DOUBLE PRECISION")
