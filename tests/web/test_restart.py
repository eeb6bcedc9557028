"""A gateway killed with SIGKILL under an open console and an open chat page, in Debian's
Chromium: both reconnect by themselves, the seat still holds the chat, and the next
messages arrive both ways."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT, free_port
from tests.handoff.test_scaleout import wait_for
from tests.web import test_browser
from tests.web.test_browser import ask, asks_for_a_human
from tests.web.test_console import chat, console, new_seat, reply

pytestmark = pytest.mark.stack
shared_browser, browser = test_browser.shared_browser, test_browser.browser


def test_console_and_chat_page_come_back_after_the_gateway_is_killed(browser, stack,
                                                                     stack_env) -> None:
    port = free_port()
    env = {**os.environ, **stack_env, "XIAOSHEN_GATEWAY_PORT": str(port)}
    command = [sys.executable, "-m", "handoff.gateway", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    gateway = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        wait_for(url, gateway)
        desk = console(browser, url, new_seat(stack_env))
        citizen, log, session = asks_for_a_human(browser, url)
        expect(chat(desk, session)).to_be_visible(timeout=20_000)
        chat(desk, session).click()
        expect(log).to_contain_text("人工帮办已接入", timeout=10_000)

        gateway.send_signal(signal.SIGKILL)
        gateway.wait(timeout=10)
        expect(citizen.get_by_role("status")).to_contain_text("网络已断开", timeout=10_000)
        gateway = subprocess.Popen(command, cwd=ROOT, env=env)
        wait_for(url, gateway)

        expect(citizen.get_by_role("status")).to_contain_text("已连接", timeout=20_000)
        ask(citizen, "服务器重启后我还在吗")
        history = desk.get_by_role("log", name="会话记录")
        expect(history).to_contain_text("服务器重启后我还在吗", timeout=20_000)
        reply(desk, "在的，请继续说")
        expect(log).to_contain_text("在的，请继续说", timeout=10_000)
        expect(chat(desk, session)).to_be_visible()  # still this seat's chat
    finally:
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(timeout=20)
