"""A miss is placed into its gap task just after the reply (actions/services.py after_reply):
not while the citizen waits, once for several misses, and at once where no loop serves."""

import asyncio

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
