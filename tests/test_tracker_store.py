"""Rasa keeps every conversation in its SQL tracker store: a Rasa killed with SIGKILL and
started again still understands the follow-up of a conversation begun before."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.conftest import ROOT, free_port
from xiaoshen import settings
from xiaoshen.client import ChatClient
from xiaoshen.stack import is_healthy, service_env, services

pytestmark = pytest.mark.stack


def start_rasa(config: settings.Settings) -> subprocess.Popen:
    (rasa,) = [service for service in services(config) if service.name == "rasa"]
    process = subprocess.Popen(rasa.command, cwd=ROOT, env=service_env(config),
                               start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if is_healthy(rasa):  # with Rasa's token: its API refuses callers without it
            return process
        time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError("Rasa did not start")


def test_a_follow_up_after_a_rasa_restart_is_still_understood(stack, stack_env) -> None:
    # A Rasa of its own beside the stack's, on the stack's action server and tracker store.
    config = settings.load({**os.environ, **stack_env, "XIAOSHEN_RASA_PORT": str(free_port())})
    assert config.tracker_url.startswith("sqlite:///")
    first = start_rasa(config)
    chat = ChatClient(config.url("rasa"))
    try:
        reply = chat.send("公积金付房租怎么提取")
        assert (reply.payload.outcome, reply.payload.item_no) == ("answered", 15)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    again = start_rasa(config)
    try:
        follow_up = chat.send("那要带什么材料")
        assert (follow_up.payload.outcome, follow_up.payload.item_no,
                follow_up.payload.topic) == ("answered", 15, "materials")
    finally:
        os.killpg(again.pid, signal.SIGKILL)
        again.wait()
        chat.close()
