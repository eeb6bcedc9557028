"""The knowledge-base pages as their users work them, in Debian's Chromium: maintainer A edits
an entry at a desktop, tries it with the hit test and submits it; A's own change carries no
通过; maintainer B approves it on a phone and the page says when it is live; a citizen on the
chat page is answered with the new wording; A rolls it back and the citizen gets the old one.
Policies: added on a phone, flagged ones marked for a supervisor; a seat is turned away."""

from __future__ import annotations

import re
import uuid
from datetime import date

import pytest
from playwright.sync_api import Browser, Page, expect

from kb.policies import Policies
from kb.store import KnowledgeBase
from tests.web import test_browser
from tests.web.test_browser import PASSWORD
from tests.web.test_gaps_page import DESKTOP, PHONE, person

pytestmark = pytest.mark.stack
shared_browser, browser = test_browser.shared_browser, test_browser.browser
gateway = test_browser.gateway
DEPARTMENT = "市人力资源社会保障局"  # item 11's, whose entry 11-fees no other test asks about
ENTRY = "11-fees"
QUESTION = "办理养老金卡（折）调整要收费吗？"
LIVE = 60_000  # ms a publish may take to be live for the bot on a busy machine


def kb_page(chromium: Browser, url: str, path: str, name: str, viewport: dict[str, int]
            ) -> Page:
    page = chromium.new_context(viewport=viewport, locale="zh-CN").new_page()
    page.goto(f"{url}{path}")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    return page


def fits(page: Page, viewport: dict[str, int]) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


def bot_answers(chromium: Browser, url: str, question: str) -> str:
    """What the bot says on the chat page (a citizen's phone)."""
    citizen = test_browser.phone(chromium, url)
    test_browser.ask(citizen, question)
    said = citizen.get_by_role("log", name="对话记录").get_by_role("listitem").nth(1)
    expect(said).to_contain_text("您好", timeout=20_000)
    text = said.inner_text()
    citizen.context.close()
    return text


def test_one_maintainer_edits_another_approves_and_the_bot_answers(browser, gateway, stack_env
                                                                    ) -> None:
    kb = KnowledgeBase(stack_env["XIAOSHEN_DB"])
    before = kb.get(ENTRY).answer
    tag = uuid.uuid4().hex[:4]
    wording = (f"您好，办理养老金卡（折）调整不收取任何费用（核对编号 {tag}）。"
               "请携带本人身份证到社区事务受理服务中心办理。")
    author, reviewer = person(stack_env, "maintainer", DEPARTMENT), person(
        stack_env, "maintainer", DEPARTMENT)

    editor = kb_page(browser, gateway, "/kb", author, DESKTOP)
    editor.get_by_label("搜索条目").fill("养老金卡（折）调整要收费")
    editor.get_by_role("button", name="搜索").click()
    editor.get_by_role("list", name="条目列表").get_by_role(
        "button", name=re.compile(re.escape(QUESTION))).click()
    expect(editor.get_by_role("heading", name=QUESTION)).to_be_visible()
    editor.get_by_role("textbox", name="答复口径").fill(wording)
    editor.get_by_label("修改原因").fill("补充办理地点")
    editor.get_by_label("测试问题").fill("养老金卡调整要钱吗")
    editor.get_by_role("button", name="命中测试").click()
    result = editor.get_by_role("region", name="命中测试结果")
    expect(result).to_contain_text("命中本条目")
    expect(result).to_contain_text(tag)
    editor.get_by_role("button", name="提交审核").click()
    expect(editor.get_by_role("status")).to_contain_text("已提交审核")
    changes = editor.get_by_role("region", name="与已发布版本的差异")
    expect(changes.get_by_label(f"新增：{wording}")).to_be_visible()
    expect(changes.get_by_label(f"删除：{before}")).to_be_visible()
    editor.screenshot(path="/tmp/kbpages-editor-1366.png", full_page=True)
    assert kb.get(ENTRY).answer == before  # not served before review

    editor.get_by_role("link", name="审核队列").click()
    own = editor.get_by_role("listitem").filter(has_text=wording)
    expect(own).to_contain_text("这是您提交的修改")
    expect(own.get_by_role("button", name="通过")).to_have_count(0)

    approving = kb_page(browser, gateway, "/kb/review", reviewer, PHONE)
    change = approving.get_by_role("listitem").filter(has_text=wording)
    expect(change).to_contain_text("知识库页面")
    expect(change).to_contain_text(f"{author} 提交于")
    fits(approving, PHONE)
    approving.screenshot(path="/tmp/kbpages-review-375.png", full_page=True)
    change.get_by_role("button", name="通过").click()
    expect(change).to_contain_text("已生效：小申已按新口径答复", timeout=LIVE)
    assert kb.get(ENTRY).answer == wording
    assert tag in bot_answers(browser, gateway, "办理养老金卡（折）调整要收费吗")

    editor.goto(f"{gateway}/kb#{ENTRY}")
    history = editor.get_by_role("list", name="历史版本")
    expect(history.get_by_role("listitem").first).to_contain_text(reviewer)
    history.get_by_role("button", name="回滚到第 1 版").click()
    editor.get_by_label("回滚原因").fill("测试后恢复")
    editor.get_by_role("button", name="确认回滚").click()
    expect(editor.get_by_role("status").filter(has_text="已生效")).to_be_visible(timeout=LIVE)
    assert kb.get(ENTRY).answer == before
    assert tag not in bot_answers(browser, gateway, "办理养老金卡（折）调整要收费吗")


def test_a_stale_save_shows_the_other_editors_change(browser, gateway, stack_env) -> None:
    first = kb_page(browser, gateway, f"/kb#{ENTRY}", person(stack_env, "maintainer",
                                                               DEPARTMENT), DESKTOP)
    second = kb_page(browser, gateway, f"/kb#{ENTRY}", person(stack_env, "maintainer",
                                                                DEPARTMENT), PHONE)
    for page in (first, second):
        expect(page.get_by_role("heading", name=QUESTION)).to_be_visible()
    first.get_by_label("相似问法（每行一条）").fill("养老金卡调整收钱吗")
    first.get_by_role("button", name="保存草稿").click()
    expect(first.get_by_role("status")).to_contain_text("草稿已保存")

    second.get_by_role("textbox", name="答复口径").fill("第二位维护员的口径。")
    second.get_by_role("button", name="保存草稿").click()
    stale = second.get_by_role("region", name="他人已修改此条目")
    expect(stale).to_contain_text("您的保存未生效")
    expect(stale.get_by_label("新增：养老金卡调整收钱吗")).to_be_visible()
    expect(second.get_by_role("textbox", name="答复口径")).to_have_value("第二位维护员的口径。")
    fits(second, PHONE)
    second.screenshot(path="/tmp/kbpages-stale-375.png", full_page=True)


def test_policies_with_what_they_lack(browser, gateway, stack_env) -> None:
    kb = KnowledgeBase(stack_env["XIAOSHEN_DB"])
    tag = uuid.uuid4().hex[:4]
    late = Policies(kb).add(f"养老金发放调整{tag}", date(2026, 1, 5),
                            item_nos=[11], by="测试")
    page = kb_page(browser, gateway, "/kb/policies", person(stack_env, "maintainer",
                                                             DEPARTMENT), PHONE)
    page.get_by_label("政策名称").fill(f"养老金卡调整材料简化{tag}")
    page.get_by_label("文号").fill("杨府办发〔2099〕8号")
    page.get_by_label("生效日期").fill("2099-06-22")
    page.get_by_label("受影响的事项").select_option("11")
    page.get_by_label("实施该政策的条目编号").fill(ENTRY)
    page.get_by_role("button", name="添加政策").click()
    expect(page.get_by_role("status")).to_contain_text("已添加政策")
    added = page.get_by_role("listitem").filter(has_text=f"养老金卡调整材料简化{tag}")
    expect(added).to_contain_text("杨府办发〔2099〕8号")
    expect(added).to_contain_text("口径已就绪")
    fits(page, PHONE)
    page.screenshot(path="/tmp/kbpages-policies-375.png", full_page=True)

    supervisor = kb_page(browser, gateway, "/kb/policies", person(stack_env, "supervisor"),
                         DESKTOP)
    supervisor.get_by_label("含已生效的政策").check()
    flagged = supervisor.get_by_role("listitem").filter(has_text=late.title)
    expect(flagged).to_contain_text("未按时准备")
    expect(flagged.get_by_role("list", name=f"{late.title}还缺少")).to_contain_text(
        "尚未关联任何条目")
    flagged.get_by_label("关联条目编号").fill(ENTRY)
    flagged.get_by_role("button", name="关联").click()
    expect(supervisor.get_by_role("status")).to_contain_text("已关联")
    # Its wording was approved long after the working day before 2026-01-05: still flagged.
    expect(flagged.get_by_role("list", name=f"{late.title}还缺少")).to_contain_text(
        f"条目 {ENTRY} 于")
    expect(flagged).to_contain_text("未按时准备")
    supervisor.screenshot(path="/tmp/kbpages-policies-1366.png", full_page=True)


@pytest.mark.parametrize("path", ["/kb", "/kb/review", "/kb/policies"])
def test_a_seat_is_turned_away(browser, gateway, stack_env, path) -> None:
    page = kb_page(browser, gateway, path, person(stack_env, "agent", "市公安局"), DESKTOP)
    expect(page.get_by_role("heading", name="无权使用本页面")).to_be_visible()
    expect(page.get_by_role("main")).to_be_hidden()


def test_the_gap_tasks_and_the_kb_pages_link_each_other(browser, gateway, stack_env) -> None:
    page = kb_page(browser, gateway, "/gaps", person(stack_env, "supervisor"), DESKTOP)
    expect(page.get_by_role("list", name="任务列表")).to_be_visible()
    page.get_by_role("navigation", name="知识库页面").get_by_role("link", name="知识条目").click()
    expect(page.get_by_role("list", name="条目列表").get_by_role("listitem").first).to_be_visible()
    expect(page.get_by_role("link", name="知识条目")).to_have_attribute("aria-current", "page")
    page.get_by_role("link", name="知识缺口").click()
    expect(page.get_by_role("list", name="任务列表")).to_be_visible()
    page.screenshot(path="/tmp/kbpages-gaps-nav-1366.png")
