"""The tasks-by-status index the metrics' counts walk (``count_by_status``).

``IF NOT EXISTS``: stores made by earlier releases created it with the tasks table.
"""

SQLITE = POSTGRES = "CREATE INDEX IF NOT EXISTS tasks_status ON tasks (status);"
