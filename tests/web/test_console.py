"""The seat console as a seat uses it all day, in Debian's Chromium at 1366 × 768: the login
kept across reloads (a cookie), every chat held restored with its history and unread count,
three panes that never scroll the page, Enter to send and Shift+Enter for a new line, and a
logout that closes the old login for good."""

from __future__ import annotations

import asyncio
import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import socketio
from playwright.sync_api import Browser, Locator, Page, expect

from handoff.staff import StaffDirectory
from kb.store import KnowledgeBase
from tests.web import test_browser
from tests.web.test_browser import PASSWORD, ask, asks_for_a_human

pytestmark = pytest.mark.stack
DESKTOP = {"width": 1366, "height": 768}  # the seats' screens
COOKIE = "xiaoshen_staff"
CONNECTED = re.compile("在线|接入")  # chats queued by earlier tests may be handed over at once
# the fixtures: Debian's Chromium (one per module, contexts closed after each test), the
# running stack's gateway URL
shared_browser, browser = test_browser.shared_browser, test_browser.browser
gateway = test_browser.gateway


def new_seat(stack_env: dict[str, str]) -> str:
    """A 市公安局 seat with room for the chats earlier tests left queued."""
    name = f"seat-{uuid.uuid4().hex[:6]}"
    StaffDirectory(KnowledgeBase(stack_env["XIAOSHEN_DB"])).add(name, "agent", PASSWORD,
                                                                "市公安局", capacity=100)
    return name


def console(chromium: Browser, url: str, name: str) -> Page:
    page = chromium.new_context(viewport=DESKTOP, locale="zh-CN").new_page()
    page.goto(f"{url}/console")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("status")).to_contain_text(CONNECTED)
    return page


def chat(page: Page, session: str) -> Locator:
    """The chat's entry in 我的会话 (named by its service and the session's first six)."""
    return page.get_by_role("list", name="我的会话").get_by_role(
        "button", name=re.compile(f"会话 {session[:6]}"))


def reply(page: Page, text: str) -> None:
    page.get_by_label("回复内容").fill(text)
    page.get_by_role("button", name="发送", exact=True).click()


def seat_socket_opens(url: str, cookie: str) -> bool:
    """Whether a /seat socket with this login cookie is let in (a real client, its own
    thread and loop: Playwright's sync API holds this one)."""
    async def attempt() -> bool:
        client = socketio.AsyncClient(reconnection=False)
        try:
            await client.connect(url, namespaces=["/seat"], transports=["websocket"],
                                 headers={"Cookie": f"{COOKIE}={cookie}"}, wait_timeout=20)
        except socketio.exceptions.ConnectionError:
            return False
        await client.disconnect()
        return True
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, attempt()).result()


def test_a_reload_keeps_every_chat_with_its_history_and_unread(browser, gateway,
                                                                 stack_env) -> None:
    desk = console(browser, gateway, new_seat(stack_env))
    _, first_log, one = asks_for_a_human(browser, gateway)
    second, _, two = asks_for_a_human(browser, gateway)
    expect(chat(desk, one)).to_be_visible(timeout=20_000)
    expect(chat(desk, two)).to_be_visible(timeout=20_000)

    chat(desk, one).click()
    reply(desk, "您好，我是市公安局的坐席，请问还有什么需要？")
    expect(first_log).to_contain_text("我是市公安局的坐席", timeout=10_000)
    ask(second, "我的证明什么时候能拿到")  # while the seat answers the other chat
    expect(chat(desk, two)).to_have_accessible_name(re.compile("1条未读"), timeout=10_000)

    desk.reload()  # the login, the chats, the unread count and the open chat come back
    expect(desk.get_by_role("status")).to_contain_text(CONNECTED)
    expect(chat(desk, two)).to_have_accessible_name(re.compile("1条未读"))
    expect(chat(desk, one)).not_to_have_accessible_name(re.compile("未读"))
    history = desk.get_by_role("log", name="会话记录")
    expect(history).to_contain_text("我是市公安局的坐席")
    expect(history).to_contain_text("无犯罪记录证明在哪里开")  # the bot part too

    chat(desk, two).click()
    expect(history).to_contain_text("我的证明什么时候能拿到")
    expect(history).to_contain_text("无犯罪记录证明在哪里开")
    expect(chat(desk, two)).not_to_have_accessible_name(re.compile("未读"))
    chat(desk, one).click()
    desk.reload()  # what the seat read is remembered by the gateway, not by the page
    expect(chat(desk, two)).to_be_visible()
    expect(chat(desk, two)).not_to_have_accessible_name(re.compile("未读"))


def test_the_page_never_scrolls_at_1366_by_768(browser, gateway, stack_env) -> None:
    desk = console(browser, gateway, new_seat(stack_env))
    _, log, session = asks_for_a_human(browser, gateway)
    chat(desk, session).click()
    box = desk.get_by_label("回复内容")
    for n in range(1, 26):
        box.fill(f"第{n}条答复：请携带本人身份证原件到户籍所在地派出所办理。\n"
                 "办理时限为3个工作日，可在“一网通办”查询进度。")
        box.press("Enter")
    expect(log).to_contain_text("第25条答复", timeout=20_000)
    history = desk.get_by_role("log", name="会话记录")
    expect(history.get_by_role("listitem").filter(has_text="第25条答复")).to_be_in_viewport()

    assert desk.evaluate("document.scrollingElement.scrollHeight <= innerHeight")
    assert history.evaluate("node => node.scrollHeight > node.clientHeight")  # scrolls inside
    for control in (box, desk.get_by_role("button", name="发送", exact=True),
                    desk.get_by_label("发送图片"), desk.get_by_label("搜索知识库"),
                    desk.get_by_label("内部备注（市民看不到）"), desk.get_by_label("转接到部门"),
                    desk.get_by_role("button", name="结束会话"),
                    desk.get_by_role("button", name="退出登录")):
        expect(control).to_be_in_viewport()


def test_enter_sends_and_shift_enter_breaks_the_line(browser, gateway, stack_env) -> None:
    desk = console(browser, gateway, new_seat(stack_env))
    _, log, session = asks_for_a_human(browser, gateway)
    chat(desk, session).click()
    box = desk.get_by_label("回复内容")
    box.press_sequentially("请带身份证")
    box.press("Shift+Enter")
    box.press_sequentially("到派出所办理")
    expect(box).to_have_value("请带身份证\n到派出所办理")
    history = desk.get_by_role("log", name="会话记录")
    expect(history).not_to_contain_text("请带身份证")  # not sent yet

    box.press("Enter")
    expect(log).to_contain_text("到派出所办理", timeout=10_000)
    expect(box).to_have_value("")
    sent = history.get_by_role("listitem").filter(has_text="请带身份证")
    expect(sent).to_have_count(1)
    assert "请带身份证\n到派出所办理" in sent.inner_text()


def test_logging_out_shows_the_login_and_the_old_cookie_opens_nothing(browser, gateway,
                                                                      stack_env) -> None:
    seat = new_seat(stack_env)
    desk = console(browser, gateway, seat)
    other_tab = desk.context.new_page()  # the same login, without typing it again
    other_tab.goto(f"{gateway}/console")
    expect(other_tab.get_by_role("status")).to_contain_text(CONNECTED)
    [cookie] = [c["value"] for c in desk.context.cookies() if c["name"] == COOKIE]
    assert seat_socket_opens(gateway, cookie)

    desk.get_by_role("button", name="退出登录").click()
    expect(desk.get_by_role("heading", name="坐席登录")).to_be_visible()
    expect(desk.get_by_role("status")).to_have_text("已退出登录")
    expect(desk.get_by_role("heading", name="我的会话")).to_be_hidden()
    # the other tab's socket is closed by the gateway, and it says why
    expect(other_tab.get_by_role("heading", name="坐席登录")).to_be_visible(timeout=10_000)
    expect(other_tab.get_by_role("status")).to_contain_text("登录已失效")
    assert not seat_socket_opens(gateway, cookie)
    desk.reload()
    expect(desk.get_by_role("heading", name="坐席登录")).to_be_visible()

    desk.get_by_label("用户名").fill(seat)  # a new login works on the same page
    desk.get_by_label("密码").fill(PASSWORD)
    desk.get_by_role("button", name="登录").click()
    expect(desk.get_by_role("status")).to_contain_text(CONNECTED)
    [renewed] = [c["value"] for c in desk.context.cookies() if c["name"] == COOKIE]
    assert renewed != cookie
