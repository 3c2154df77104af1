"""Multi-key channels: which key a task was submitted with (its index, never the key).

Numbered 20 to leave room for the migrations being written beside it; versions
need only be unique and increasing.
"""

SQLITE = "ALTER TABLE tasks ADD COLUMN key_index INTEGER;"

POSTGRES = "ALTER TABLE tasks ADD COLUMN key_index INTEGER;"
