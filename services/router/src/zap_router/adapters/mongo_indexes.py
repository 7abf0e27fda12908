"""Create only the indexes that are missing.

FerretDB 1.24 drops the connection when asked to create a unique index that already exists, so
a restarting replica (or a second one) must not repeat ``createIndexes`` for existing ones.
"""

from __future__ import annotations

from pymongo import IndexModel
from pymongo.asynchronous.collection import AsyncCollection


async def ensure_indexes(collection: AsyncCollection, models: list[IndexModel]) -> list[str]:
    existing = await collection.index_information()
    missing = [m for m in models if m.document["name"] not in existing]
    if missing:
        return await collection.create_indexes(missing)
    return []
