"""The real, unmodified rasa-webchat widget (npm rasa-webchat 1.0.1, its UMD build) on a
district portal: another origin than the gateway, as a portal embeds it. The portal's origin
is in XIAOSHEN_ALLOWED_ORIGINS: a citizen opens the widget, asks, sees the bot's answer and its
quick replies, and a reload resumes the same conversation. A portal not listed there cannot
connect at all. The widget renders only Rasa's exact message shapes (a `bot_uttered` with any
extra key shows nothing), so an answer on screen also proves the shapes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from kb.store import KnowledgeBase
from tests.conftest import free_port
from tests.handoff.test_scaleout import gateway_process
from tests.web import test_browser

pytestmark = pytest.mark.stack
WEBCHAT = Path(__file__).with_name("webchat")
WIDGET = WEBCHAT / "node_modules" / "rasa-webchat" / "lib" / "index.js"
QUESTION = "居住证签注要带什么材料"
SLOW = 20_000  # ms: Rasa's answer, then the widget's own display delay (up to 3 s)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def portal_site() -> Iterator[str]:
    """The portal page and the widget's files, served from their own port: another origin."""
    if not WIDGET.is_file():
        pytest.fail("rasa-webchat is missing: scripts/test-prerequisites.sh installs it")
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 partial(QuietHandler, directory=str(WEBCHAT)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def portal() -> Iterator[str]:
    with portal_site() as origin:
        yield origin


@pytest.fixture(scope="module")
def stranger() -> Iterator[str]:
    """A site that is not allowed to embed the chat."""
    with portal_site() as origin:
        yield origin


@pytest.fixture(scope="module")
def gateway(stack, stack_env, portal) -> Iterator[str]:
    """A gateway of its own that lets the portal (and only it) open customer sockets."""
    with gateway_process(stack_env, free_port(), XIAOSHEN_ALLOWED_ORIGINS=portal) as url:
        yield url


# Debian's Chromium, one per module (tests/web/test_browser.py's fixture)
browser = test_browser.shared_browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh visitor (empty localStorage), on a desktop."""
    context = browser.new_context(locale="zh-CN")
    yield context.new_page()
    context.close()


def open_portal(page: Page, site: str, gateway: str) -> None:
    page.goto(f"{site}/portal.html?gateway={gateway}")
    expect(page.get_by_role("heading", name="区政务服务门户")).to_be_visible()


def launcher(page: Page):
    # The widget's round launcher is a <button> holding an image with alt="": no name to find
    # it by, so its class. The widget stays hidden until the gateway confirms a session.
    return page.locator("button.rw-launcher")


def ask(page: Page, text: str) -> None:
    box = page.get_by_placeholder("请输入您的问题")
    box.fill(text)
    box.press("Enter")


def stored_session(page: Page) -> str:
    """The session id the widget keeps in localStorage["chat_session"]."""
    return page.evaluate("JSON.parse(localStorage.getItem('chat_session')).session_id")


def open_and_ask(page: Page, site: str, gateway: str, answer: str) -> None:
    open_portal(page, site, gateway)
    expect(launcher(page)).to_be_visible(timeout=SLOW)
    launcher(page).click()
    expect(page.get_by_text("小申", exact=True)).to_be_visible()
    ask(page, QUESTION)
    expect(page.locator(".rw-client").get_by_text(QUESTION)).to_be_visible()
    expect(page.get_by_text(answer)).to_be_visible(timeout=SLOW)


def test_a_portal_citizen_asks_in_the_widget(page, portal, gateway, seed_retriever) -> None:
    answer = seed_retriever.entry("03-materials").answer
    open_and_ask(page, portal, gateway, answer)
    # Quick replies: the widget draws them as clickable chips under the last message
    # (<div class="rw-reply">, not <button>: no role to find them by), found by their text.
    replies = page.locator(".rw-replies")
    expect(replies.get_by_text("已解决", exact=True)).to_be_visible()
    expect(replies.get_by_text("没解决", exact=True)).to_be_visible()
    replies.get_by_text("没解决", exact=True).click()
    expect(page.locator(".rw-client").get_by_text("没解决", exact=True)).to_be_visible()
    expect(page.locator(".rw-replies").get_by_text("转人工", exact=True)).to_be_visible(
        timeout=SLOW)


def test_a_portal_not_allowed_cannot_connect(page, stranger, gateway) -> None:
    # Chromium reports a handshake refused across origins as a failed request (no response
    # reaches the page), so the gateway's answer to that Origin is read directly as well.
    with page.expect_event("requestfailed", lambda r: "/socket.io/" in r.url):
        open_portal(page, stranger, gateway)
    refused = httpx.get(f"{gateway}/socket.io/?EIO=4&transport=polling",
                        headers={"Origin": stranger})
    assert refused.status_code in (400, 403)
    assert "access-control-allow-origin" not in refused.headers
    # No session_confirm, so the widget never shows itself to this site's visitors.
    expect(launcher(page)).to_be_hidden()
    expect(page.get_by_placeholder("请输入您的问题")).to_have_count(0)


def test_a_reload_keeps_the_conversation(page, portal, gateway, stack_env,
                                         seed_retriever) -> None:
    answer = seed_retriever.entry("03-materials").answer
    open_and_ask(page, portal, gateway, answer)
    session = stored_session(page)
    page.reload()
    expect(launcher(page)).to_be_visible(timeout=SLOW)  # a session confirmed again
    expect(page.get_by_text(answer)).to_be_visible()  # the widget's own stored history
    ask(page, QUESTION)
    expect(page.get_by_text(answer)).to_have_count(2, timeout=SLOW)
    # The gateway confirmed the same id (the widget would have stored a new one), and both
    # questions are in that one conversation.
    assert stored_session(page) == session
    rows = KnowledgeBase(stack_env["XIAOSHEN_DB"]).db["messages"].rows_where(
        "conversation_id = ? AND sender = 'customer'", [session], order_by="id")
    assert [row["body"] for row in rows] == [QUESTION, QUESTION]
