"""A miss is placed into its gap task just after the reply (actions/services.py after_reply):
not while the citizen waits, once for several misses, and at once where no loop serves."""

import asyncio
from itertools import pairwise

from actions.services import PLACE_AFTER_SECONDS, after_reply


def test_without_a_loop_the_work_runs_at_once() -> None:
    runs = []
    after_reply(lambda: runs.append(1))()
    assert runs == [1]


def test_in_a_loop_the_work_runs_after_the_reply_once_for_several_requests() -> None:
    runs = []
    request = after_reply(lambda: runs.append(len(runs)))

    async def replies() -> list[int]:
        request()
        request()
        seen_at_reply = list(runs)
        await asyncio.sleep(PLACE_AFTER_SECONDS * 4)
        request()  # a later miss schedules it again
        await asyncio.sleep(PLACE_AFTER_SECONDS * 4)
        return seen_at_reply

    assert asyncio.run(replies()) == []
    assert runs == [0, 1]


def test_a_backlog_is_worked_in_batches_with_the_loop_free_between_them() -> None:
    order = []
    left = [3]

    def batch() -> bool:
        order.append("batch")
        left[0] -= 1
        return left[0] > 0

    async def replies() -> None:  # requests waiting all along, each taking its turn
        while left[0] > 0:
            order.append("reply")
            await asyncio.sleep(0)

    async def backlog_while_replying() -> None:
        after_reply(batch)()
        await asyncio.sleep(PLACE_AFTER_SECONDS / 2)
        await replies()

    asyncio.run(backlog_while_replying())
    batches = [i for i, what in enumerate(order) if what == "batch"]
    assert len(batches) == 3
    assert all("reply" in order[start:end] for start, end in pairwise(batches)), order


def test_without_a_loop_a_backlog_is_worked_to_the_end() -> None:
    left = [5]

    def batch() -> bool:
        left[0] -= 1
        return left[0] > 0

    after_reply(batch)()
    assert left == [0]
