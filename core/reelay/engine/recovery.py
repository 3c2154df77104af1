"""Interrupted submissions: a task recorded, sent, and never heard back about.

The submitter writes a task before its upstream call and the vendor's
reference after it. A gateway that dies in between leaves a task without a
reference, and the vendor may or may not have the job (and charge for it).
Sending it again blindly makes the vendor generate the same video twice and
leaves an orphan nobody tracks; the caller never got an answer and may have
retried anyway. So, in order:

1. the plugin searches upstream (``reelay_find_submission``); a job found is
   adopted: its reference is recorded and the task is polled on;
2. a search that found nothing sends the task again only where that is
   known to be safe: the vendor's search is authoritative (it finds jobs by
   the gateway's own id) or its submissions are idempotent
   (:attr:`VendorSpec.search_authoritative`, :attr:`VendorSpec.resubmit_safe`);
3. otherwise the task fails with :data:`SUBMISSION_INTERRUPTED`, which
   billing can refund.
"""

from __future__ import annotations

import structlog

from ..errors import UpstreamError
from ..models import Channel, StatusUpdate, Task, TaskError, TaskStatus
from .context import EngineContext
from .submission import Submitter

log = structlog.get_logger("reelay")

#: The code of a task whose submission was interrupted and could neither be found nor safely sent again.
SUBMISSION_INTERRUPTED = "submission_interrupted"


class Recovery:
    """Decides what becomes of a task whose submission was interrupted.

    :param context: the engine's shared state.
    :param submitter: sends a task again, where that is safe.
    """

    def __init__(self, context: EngineContext, submitter: Submitter):
        self.context = context
        self.submitter = submitter

    async def recover(self, task: Task, channel: Channel) -> StatusUpdate | None:
        """Adopt, resend or fail an interrupted task.

        Returns a failed :class:`StatusUpdate` when the task ends here, or None
        when it goes on: ``task.vendor_ref`` is set (found or sent again), or
        ``task.poll_failures`` grew (the search or the resend failed
        transiently; it is tried again later). Raises what a plugin's bug raises.
        """
        context = self.context
        awaitable = context.hooks(channel).reelay_find_submission(task=task, channel=channel, http=context.http)
        searched = awaitable is not None
        if searched:
            try:
                ref = await context.from_vendor(awaitable)
            except UpstreamError as error:
                if error.retryable:
                    task.poll_failures += 1
                    log.warning("search for an interrupted submission failed", task_id=task.id, code=error.code)
                    return None
                ref = None  # the vendor knows no such job
            if ref is not None:
                task.vendor_ref = ref
                task.poll_failures = 0
                log.info("interrupted submission found upstream", task_id=task.id, channel=channel.name)
                return None
        spec = context.registry.vendors.get(channel.vendor)
        safe = spec is not None and (spec.resubmit_safe or (searched and spec.search_authoritative))
        if safe:
            return await self._send_again(task, channel)
        log.warning(
            "interrupted submission failed",
            task_id=task.id,
            channel=channel.name,
            searched=searched,
            code=SUBMISSION_INTERRUPTED,
        )
        reason = (
            "the gateway stopped while submitting this task; the vendor's jobs were searched and it was not found"
            if searched
            else "the gateway stopped while submitting this task and its vendor cannot be searched"
        )
        return StatusUpdate(
            TaskStatus.FAILED,
            error=TaskError(
                SUBMISSION_INTERRUPTED, f"{reason}; it was not sent again, so that it is not generated twice"
            ),
        )

    async def _send_again(self, task: Task, channel: Channel) -> StatusUpdate | None:
        context = self.context
        model = context.registry.spec_of(task)
        if task.request is None:  # claimed tasks come without it: it may hold images
            stored = await context.store.get(task.id, with_request=True)
            task.request = stored.request if stored is not None else None
        if task.request is None or model is None:
            return StatusUpdate(TaskStatus.FAILED, error=TaskError("submission_lost", "the submission was lost"))
        payload = context.hooks(channel).reelay_build_payload(request=task.request, model=model, channel=channel)
        try:
            task.vendor_ref = await self.submitter.send(payload, task.request, channel)
        except UpstreamError as error:
            if error.retryable:
                task.poll_failures += 1
                return None
            return StatusUpdate(TaskStatus.FAILED, error=TaskError(error.code, error.message))
        task.poll_failures = 0
        log.info("interrupted submission sent again", task_id=task.id, channel=channel.name)
        return None
