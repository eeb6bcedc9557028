"""`xiaoshen serve` supervises: a service killed with SIGKILL is restarted and the next
question is answered; nothing is left running after SIGTERM; a taken port is refused with the
process that holds it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from tests.conftest import ROOT, free_port
from xiaoshen import settings
from xiaoshen.client import ask
from xiaoshen.secrets import load_or_create

pytestmark = pytest.mark.stack


def private_env(stack_env: dict[str, str]) -> dict[str, str]:
    """The stack's base and index, on ports of its own."""
    return {**os.environ, **stack_env, "XIAOSHEN_RASA_PORT": str(free_port()),
            "XIAOSHEN_ACTIONS_PORT": str(free_port()), "XIAOSHEN_GATEWAY_PORT": str(free_port())}


def status(env: dict[str, str]) -> dict:
    result = subprocess.run([sys.executable, "-m", "xiaoshen.cli", "status", "--json"],
                            env=env, capture_output=True, text=True)
    return json.loads(result.stdout)["services"]


def test_a_killed_service_is_restarted_and_answers_again(stack, stack_env) -> None:
    env = private_env(stack_env)
    process = subprocess.Popen([sys.executable, "-m", "xiaoshen.cli", "serve"], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        assert "小申已启动" in process.stdout.readline()
        config = settings.load(env)
        before = status(env)
        assert all(s["up"] and s["pid"] for s in before.values())
        assert before["rasa"]["version"] == "3.6.21" and before["actions"]["restarts"] == 0
        actions = before["actions"]["pid"]
        os.killpg(actions, signal.SIGKILL)

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            now = status(env)["actions"]
            if now["up"] and now["pid"] != actions:
                break
            time.sleep(0.5)
        assert (now["up"], now["restarts"]) == (True, 1)
        assert ask("居住证签注要带什么材料", config.url("rasa")).payload.outcome == "answered"
        pids = [s["pid"] for s in status(env).values()]
        children = [c.pid for pid in pids for c in psutil.Process(pid).children(recursive=True)]
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    assert code == 0
    events = [json.loads(line) for line in process.stderr.read().splitlines()
              if line.startswith('{"time"')]
    assert {"start", "crash", "ready", "stop"} <= {e["event"] for e in events}
    crash = next(e for e in events if e["event"] == "crash")
    assert crash["service"] == "actions" and crash["exit_code"] == -9
    assert not [pid for pid in pids + children if psutil.pid_exists(pid)
                and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]


def test_a_taken_port_is_refused_naming_its_holder(stack_env) -> None:
    env = private_env(stack_env)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", int(env["XIAOSHEN_GATEWAY_PORT"])))
        holder.listen()
        result = subprocess.run([sys.executable, "-m", "xiaoshen.cli", "serve"], cwd=ROOT,
                                env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert (f"port {env['XIAOSHEN_GATEWAY_PORT']} for gateway is taken by pid {os.getpid()}"
            in result.stderr)


def test_rasa_s_api_and_the_action_server_refuse_callers_without_the_secret(
        stack, stack_env) -> None:
    config = settings.load({**os.environ, **stack_env})
    events = f"{config.url('rasa')}/conversations/someone/tracker"
    assert httpx.get(events).status_code == 401
    token = load_or_create(config).rasa_token
    assert httpx.get(events, params={"token": token}).status_code == 200
    webhook = f"{config.url('actions')}/webhook"
    assert httpx.post(webhook, json={"next_action": "action_greet"}).status_code == 403
    assert httpx.post(f"{config.url('actions')}/kb/search", json={"query": "签注"},
                      headers={"x-xiaoshen-secret": "guess"}).status_code == 403
    assert httpx.get(f"{config.url('actions')}/health").status_code == 200
    assert ask("居住证签注要带什么材料", config.url("rasa")).payload.outcome == "answered"
    assert token not in subprocess.run(["ps", "axww", "-o", "args"], capture_output=True,
                                       text=True).stdout
