"""Characters beside the tasks: a public id -> its owner, channel and the vendor's reference.

The table lives in the task store's own database, made by its migrations
(``v0006_characters``), and is used through the store's ``execute``: SQLite
and PostgreSQL differ only in their placeholders (the store's ``dialect``).
"""

from __future__ import annotations

from typing import Any

import orjson

from ..models import Character, VendorRef

__all__ = ["CharacterTable"]

_COLUMNS = ("id", "owner", "name", "model", "vendor", "channel", "created_at", "vendor_ref")


def _placeholders(dialect: str, count: int) -> str:
    if dialect == "postgresql":
        return ", ".join(f"${n}" for n in range(1, count + 1))
    return ", ".join("?" for _ in range(count))


class CharacterTable:
    """The ``characters`` table of a task store (anything with ``execute`` and ``dialect``)."""

    def __init__(self, store: Any):
        self.store = store
        self.dialect = getattr(store, "dialect", "sqlite")

    async def insert(self, character: Character) -> None:
        ref = orjson.dumps({"id": character.vendor_ref.id, "data": dict(character.vendor_ref.data)}).decode()
        values = (
            character.id,
            character.owner,
            character.name,
            character.model,
            character.vendor,
            character.channel,
            character.created_at,
            ref,
        )
        sql = f"INSERT INTO characters ({', '.join(_COLUMNS)}) VALUES ({_placeholders(self.dialect, len(_COLUMNS))})"
        await self.store.execute(sql, values)

    async def get(self, character_id: str) -> Character | None:
        sql = f"SELECT {', '.join(_COLUMNS)} FROM characters WHERE id = {_placeholders(self.dialect, 1)}"
        _, rows = await self.store.execute(sql, (character_id,))
        if not rows:
            return None
        row = tuple(rows[0])
        ref = orjson.loads(row[7])
        return Character(
            id=row[0],
            owner=row[1],
            name=row[2],
            model=row[3],
            vendor=row[4],
            channel=row[5],
            created_at=float(row[6]),
            vendor_ref=VendorRef(ref["id"], ref.get("data") or {}),
        )
