"""The gap loop through the real stack: a question the bot cannot answer, asked on the chat
page, becomes a department's task; another wording joins it; noise opens none; once the
task's answer is published, the bot answers a third wording, without a restart."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kb.gap_tasks import GapTasks
from kb.store import KnowledgeBase
from tests.conftest import task_of, wait_until_live
from tests.web.test_browser import ask, browser, gateway, phone, shared_browser  # noqa: F401

pytestmark = pytest.mark.stack
ANSWER = "社区长者食堂助餐补贴由户籍所在街道的社区事务受理服务中心受理，请携带身份证前往申请。"


def bot_says(page, text: str) -> str:
    log = page.get_by_role("log", name="对话记录")
    before = log.get_by_role("listitem").count()
    ask(page, text)
    expect(log.get_by_role("listitem")).to_have_count(before + 2, timeout=30_000)
    return log.get_by_role("listitem").nth(before + 1).inner_text()


def test_a_miss_becomes_a_task_and_its_published_answer_serves_the_next_asker(
        browser, gateway, stack_env, stack_settings) -> None:  # noqa: F811
    kb = KnowledgeBase(stack_env["XIAOSHEN_DB"])
    first = phone(browser, gateway)
    assert "转人工" in bot_says(first, "社区长者食堂的助餐补贴怎么申领")
    task = task_of(kb, "社区长者食堂的助餐补贴怎么申领")
    assert task is not None and task["status"] == "open"
    asked = task["ask_count"]  # earlier tests of the same stack may have asked it too

    second = phone(browser, gateway)
    bot_says(second, "老人在社区食堂吃饭的补贴怎么申请")
    bot_says(second, "asdfgh")
    assert task_of(kb, "老人在社区食堂吃饭的补贴怎么申请")["id"] == task["id"]
    assert kb.db["gap_questions"].count_where("text = 'asdfgh'") == 0
    task = GapTasks(kb).get(task["id"])
    assert task["ask_count"] == asked + 1

    tasks = GapTasks(kb)
    answered = tasks.answer(task["id"], ANSWER, "maintainer", task["version"], item_no=0)
    assert tasks.publish(task["id"], "reviewer", answered["version"]) == [task["id"]]
    wait_until_live(stack_settings, kb.revision)

    third = phone(browser, gateway)
    assert ANSWER in bot_says(third, "社区长者食堂吃饭的补贴要怎么申请")
