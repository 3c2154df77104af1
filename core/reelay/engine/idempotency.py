"""Idempotent submission: one task per ``Idempotency-Key`` of a token, for 24 hours.

The key is claimed in the store with the id the new task will have, before
anything else happens, so the claim holds across processes and restarts:

- the claim is ours: submit, with that id (a submission that fails releases it);
- the stored key has another body's fingerprint: 409 ``idempotency_key_reused``;
- its task exists: that task, replayed (no second submission, no second hold);
- its task is not recorded yet: another request is submitting it; wait for the
  task, then 409 ``idempotency_key_in_flight``; a claim whose task never
  appeared within :data:`STALE_SECONDS` died with its process and is taken over.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

from ..errors import Conflict, InvalidRequest
from ..models import Task, Token, UnifiedRequest
from ..store import Store
from .submission import Submitter, new_task_id

#: How long a key names its task.
TTL_SECONDS = 24 * 3600.0
#: How long a request waits for the task another request with its key is submitting.
WAIT_SECONDS = 10.0
#: A claim whose task was not recorded within this long died with its process.
STALE_SECONDS = 30.0
_POLL = 0.02
_KEY = re.compile(r"[\x21-\x7e]{1,255}")


class Idempotency:
    """Submits a request once per key.

    :param store: where keys live.
    :param submitter: what submits.
    :param clock: the time now, as Unix seconds.
    """

    def __init__(self, store: Store, submitter: Submitter, clock: Callable[[], float]):
        self.store = store
        self.submitter = submitter
        self.clock = clock

    async def submit_once(self, token: Token, key: str, fingerprint: str, unified: UnifiedRequest) -> tuple[Task, bool]:
        """The task for ``key``, submitted now or before: ``(task, replayed)``."""
        if not _KEY.fullmatch(key):
            raise InvalidRequest("Idempotency-Key must be 1 to 255 printable ASCII characters", param="Idempotency-Key")
        task_id = new_task_id()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_SECONDS
        while True:
            now = self.clock()
            stored_fingerprint, stored_id, created = await self.store.claim_key(
                token.name, key, fingerprint, task_id, now, now - TTL_SECONDS
            )
            if stored_id == task_id:
                break
            if stored_fingerprint != fingerprint:
                raise Conflict(
                    "this Idempotency-Key was used with a different request body",
                    code="idempotency_key_reused",
                    param="Idempotency-Key",
                )
            task = await self.store.get(stored_id)
            if task is not None and task.owner == token.name:
                return task, True
            stale = now - created > STALE_SECONDS
            if stale and await self.store.replace_key(token.name, key, stored_id, fingerprint, task_id, now):
                break
            if loop.time() > deadline:
                raise Conflict(
                    "a request with this Idempotency-Key is still being submitted; retry shortly",
                    code="idempotency_key_in_flight",
                    param="Idempotency-Key",
                )
            await asyncio.sleep(_POLL)
        try:
            return await self.submitter.submit(token, unified, task_id=task_id), False
        except BaseException:
            # The caller heard an error: the same key may try again.
            await asyncio.shield(self.store.release_key(token.name, key, task_id))
            raise
