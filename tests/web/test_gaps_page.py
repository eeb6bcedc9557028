"""The gap-task page as its users work it, in Debian's Chromium: a maintainer on a phone
answers and publishes their department's task (the overdue badge on top); a seat is turned
away; a supervisor at a desktop reads the report's charts and downloads it as Excel."""

from __future__ import annotations

import uuid

import openpyxl
import pytest
from playwright.sync_api import Browser, Page, expect

from handoff.staff import StaffDirectory
from kb.store import KnowledgeBase
from tests.handoff.test_gaps_api import ANSWER, open_task
from tests.web import test_browser
from tests.web.test_browser import PASSWORD

pytestmark = pytest.mark.stack
PHONE = {"width": 375, "height": 667}
DESKTOP = {"width": 1366, "height": 768}
shared_browser, browser = test_browser.shared_browser, test_browser.browser
gateway = test_browser.gateway


def person(stack_env: dict[str, str], role: str, department: str = "") -> str:
    name = f"{role}-{uuid.uuid4().hex[:6]}"
    StaffDirectory(KnowledgeBase(stack_env["XIAOSHEN_DB"])).add(name, role, PASSWORD,
                                                                department)
    return name


def gaps_page(chromium: Browser, url: str, name: str, viewport: dict[str, int]) -> Page:
    page = chromium.new_context(viewport=viewport, locale="zh-CN",
                                accept_downloads=True).new_page()
    page.goto(f"{url}/gaps")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    return page


def test_a_maintainer_answers_and_publishes_on_a_phone(browser, gateway, stack_env) -> None:
    kb = KnowledgeBase(stack_env["XIAOSHEN_DB"])
    department = f"民政局{uuid.uuid4().hex[:6]}"
    task_id = open_task(kb, department, "社区图书馆借书证在哪里办")
    open_task(kb, department, "借书证逾期的问题", due_on="2026-01-05")
    page = gaps_page(browser, gateway, person(stack_env, "maintainer", department), PHONE)

    expect(page.get_by_role("button", name="逾期任务 1 个")).to_be_visible()
    tasks = page.get_by_role("list", name="任务列表")
    expect(tasks.get_by_role("listitem")).to_have_count(2)
    tasks.get_by_role("button", name=f"#{task_id} 社区图书馆借书证在哪里办").click()
    expect(page.get_by_role("heading", name="社区图书馆借书证在哪里办")).to_be_visible()
    phrasings = page.get_by_role("list", name="市民的问法")
    expect(phrasings.get_by_role("listitem")).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.get_by_label("所属事项").select_option("0")
    page.get_by_role("button", name="提交审核").click()  # no wording yet: refused, said why
    expect(page.get_by_role("status")).to_contain_text("答复口径")
    page.get_by_role("textbox", name="答复口径").fill(ANSWER)
    page.get_by_role("button", name="提交审核").click()
    expect(page.get_by_role("status")).to_contain_text("已提交审核")
    page.get_by_role("button", name="通过并发布").click()  # not by its author
    expect(page.get_by_role("status")).to_contain_text("不能审核自己")

    colleague = gaps_page(browser, gateway, person(stack_env, "maintainer", department), PHONE)
    colleague.get_by_label("状态").select_option("answered")
    colleague.get_by_role("list", name="任务列表").get_by_role(
        "button", name=f"#{task_id} 社区图书馆借书证在哪里办").click()
    expect(colleague.get_by_role("textbox", name="答复口径")).to_have_value(ANSWER)
    colleague.get_by_role("button", name="通过并发布").click()
    expect(colleague.get_by_role("status")).to_contain_text("已发布")
    expect(colleague.get_by_text(ANSWER)).to_be_visible()
    task = kb.db["gap_tasks"].get(task_id)
    assert task["status"] == "published" and kb.get(task["entry_id"]).answer == ANSWER


def test_a_seat_is_turned_away(browser, gateway, stack_env) -> None:
    page = gaps_page(browser, gateway, person(stack_env, "agent", "市公安局"), DESKTOP)
    expect(page.get_by_role("heading", name="无权使用本页面")).to_be_visible()
    expect(page.get_by_role("list", name="任务列表")).to_be_hidden()


def test_a_supervisor_reads_the_report_and_downloads_it(browser, gateway, stack_env) -> None:
    kb = KnowledgeBase(stack_env["XIAOSHEN_DB"])
    department = f"报表部门{uuid.uuid4().hex[:6]}"
    open_task(kb, department, "报表里的问题")
    page = gaps_page(browser, gateway, person(stack_env, "supervisor"), DESKTOP)
    expect(page.get_by_role("combobox", name="部门")).to_be_visible()
    # The tasks' view fits the seats' and supervisors' screen without scrolling the page.
    assert page.evaluate("document.documentElement.scrollHeight") <= DESKTOP["height"]

    page.get_by_role("tab", name="报表").click()
    page.get_by_label("开始日期").fill("2026-11-01")
    page.get_by_label("结束日期").fill("2026-12-31")
    page.get_by_role("combobox", name="部门").select_option(department)  # earlier tests' tasks
    page.get_by_role("button", name="统计").click()
    expect(page.get_by_role("img", name="各部门任务情况")).to_be_visible()
    expect(page.get_by_role("img", name="各部门任务情况").locator("svg")).to_have_count(1)
    expect(page.get_by_role("img", name="每周趋势").locator("svg")).to_have_count(1)
    departments = page.get_by_role("table", name="各部门明细")
    expect(departments.get_by_role("row", name=department)).to_be_visible()
    expect(page.get_by_role("table", name="未答复的高频问题")).to_contain_text("报表里的问题")

    with page.expect_download() as download:
        page.get_by_role("button", name="下载 Excel").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    with open(download.value.path(), "rb") as file:  # Playwright's copy has no suffix
        book = openpyxl.load_workbook(file)
    sheet = book["按部门"]
    rows = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows[department][1] == 1  # opened
    assert sheet._charts
