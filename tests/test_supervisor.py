"""`xiaoshen serve` supervises: each service killed with SIGKILL is restarted and the next
question is answered, and SIGTERM answers the question in flight before stopping; one that
keeps crashing makes it give up with exit code 1; nothing is left running or listening after
it stops, however it stops; a taken port is refused in one line naming its holder; only the
gateway may leave loopback; the internal ports refuse callers without their credential, and
the token is never printed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import ROOT, free_port
from tests.handoff.test_gateway import customer, say
from xiaoshen import settings
from xiaoshen.client import ask
from xiaoshen.secrets import load_or_create
from xiaoshen.supervisor import port_holder

pytestmark = pytest.mark.stack
QUESTION = "居住证签注要带什么材料"


def private_env(stack_env: dict[str, str], **extra: str) -> dict[str, str]:
    """The stack's base and index, on ports of its own."""
    return {**os.environ, **stack_env, "XIAOSHEN_RASA_PORT": str(free_port()),
            "XIAOSHEN_ACTIONS_PORT": str(free_port()), "XIAOSHEN_GATEWAY_PORT": str(free_port()),
            **extra}


def ports(env: dict[str, str]) -> list[int]:
    return [int(env[f"XIAOSHEN_{name}_PORT"]) for name in ("RASA", "ACTIONS", "GATEWAY")]


def status(env: dict[str, str]) -> dict:
    result = subprocess.run([sys.executable, "-m", "xiaoshen.cli", "status", "--json"],
                            env=env, capture_output=True, text=True)
    return json.loads(result.stdout)["services"]


def start_serve(env: dict[str, str], log: Path) -> subprocess.Popen:
    """`xiaoshen serve`, ready (its stderr, Rasa's logs included, goes to `log`)."""
    process = subprocess.Popen([sys.executable, "-m", "xiaoshen.cli", "serve"], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=log.open("w"),
                               text=True)
    assert "小申已启动" in process.stdout.readline(), log.read_text("utf-8")[-3000:]
    return process


def events(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text("utf-8").splitlines()
            if line.startswith('{"time"')]


def processes_of(pids: list[int]) -> list[int]:
    """The services and every process they started."""
    return pids + [child.pid for pid in pids
                   for child in psutil.Process(pid).children(recursive=True)]


def leftovers(pids: list[int], ports: list[int], host: str = "127.0.0.1",
              wait: float = 30.0) -> tuple[list[int], list[str]]:
    """Processes still alive and ports still listened on, after up to `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        alive = [pid for pid in pids if psutil.pid_exists(pid)
                 and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
        held = [f"{port}: {holder}" for port in ports if (holder := port_holder(host, port))]
        if not (alive or held) or time.monotonic() > deadline:
            return alive, held
        time.sleep(0.5)


def answered_through_the_gateway(env: dict[str, str],
                                 meanwhile: Callable[[], object] = lambda: None) -> dict:
    """A new citizen asks on the gateway's socket (`meanwhile` runs as the question is in
    flight); the bot's reply."""
    async def scenario() -> dict:
        peer, session = await customer(f"http://127.0.0.1:{env['XIAOSHEN_GATEWAY_PORT']}")
        await say(peer, session, QUESTION)
        meanwhile()
        reply = await peer.next("bot_uttered", timeout=60)
        await peer.client.disconnect()
        return reply
    return asyncio.run(scenario())


def test_each_killed_service_is_restarted_and_the_next_question_is_answered(
        stack_env, tmp_path) -> None:
    env = private_env(stack_env)
    log = tmp_path / "serve.log"
    process = start_serve(env, log)
    try:
        before = status(env)
        assert all(s["up"] and s["pid"] for s in before.values())
        assert before["rasa"]["version"] == "3.6.21" and before["actions"]["restarts"] == 0
        pids = processes_of([s["pid"] for s in before.values()])
        for name in ("gateway", "rasa", "actions"):
            killed = status(env)[name]["pid"]
            os.killpg(killed, signal.SIGKILL)
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                now = status(env)
                if all(s["up"] for s in now.values()) and now[name]["pid"] != killed:
                    break
                time.sleep(0.5)
            assert (now[name]["up"], now[name]["restarts"]) == (True, 1), name
            reply = answered_through_the_gateway(env)
            assert (reply["outcome"], reply["sender"]) == ("answered", "bot"), name
            assert "居住证" in reply["text"]
            pids += processes_of([now[name]["pid"]])
        # SIGTERM drains: the question in flight is answered before the gateway stops.
        drained = answered_through_the_gateway(
            env, lambda: process.send_signal(signal.SIGTERM))
        assert drained["outcome"] == "answered"
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=90)
    assert code == 0
    logged = events(log)
    crashes = [(e["service"], e["exit_code"]) for e in logged if e["event"] == "crash"]
    assert crashes == [("gateway", -9), ("rasa", -9), ("actions", -9)]
    assert {"start", "ready", "stop"} <= {e["event"] for e in logged}
    assert [e["reason"] for e in logged if e["event"] == "stop"] == ["SIGTERM received"] * 3
    assert leftovers(pids, ports(env)) == ([], [])
    token = load_or_create(settings.load(env)).rasa_token
    assert token not in log.read_text("utf-8") + process.stdout.read()


def test_serve_gives_up_on_a_service_that_keeps_crashing(stack_env, tmp_path) -> None:
    # A Rasa interpreter that exits at once: it crashes on every start.
    env = private_env(stack_env, XIAOSHEN_RASA_PYTHON="/bin/false")
    log = tmp_path / "serve.log"
    with log.open("w") as stderr:
        result = subprocess.run([sys.executable, "-m", "xiaoshen.cli", "serve"], cwd=ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=stderr, text=True,
                                timeout=180)
    assert result.returncode == 1
    lines = log.read_text("utf-8").splitlines()
    assert lines[-1] == "Error: rasa keeps crashing (exit code 1); stopped everything"
    logged = events(log)
    assert [e["restart_in_seconds"] for e in logged
            if e["event"] == "crash"] == [1.0, 2.0, 4.0, 8.0]
    give_up = next(e for e in logged if e["event"] == "give_up")
    assert (give_up["service"], give_up["reason"]) == ("rasa", "crashed 5 times in 120 s")
    started = [e["pid"] for e in logged if e["event"] == "start"]
    assert len(started) == 7  # three services, four restarts of Rasa
    assert leftovers(started, ports(env)) == ([], [])


@pytest.mark.parametrize(("stop", "gateway_host"), [(signal.SIGINT, "0.0.0.0"),
                                                     (signal.SIGKILL, "")],
                         ids=["SIGINT-gateway-on-every-interface", "SIGKILL-all-on-loopback"])
def test_only_the_gateway_leaves_loopback_and_nothing_outlives_serve(
        stack_env, tmp_path, stop: signal.Signals, gateway_host: str) -> None:
    env = private_env(stack_env, XIAOSHEN_GATEWAY_HOST=gateway_host)
    process = start_serve(env, tmp_path / "serve.log")
    try:
        services = status(env)
        listening = {name: {c.laddr.ip for c in psutil.Process(s["pid"]).net_connections()
                            if c.status == psutil.CONN_LISTEN}
                     for name, s in services.items()}
        pids = processes_of([s["pid"] for s in services.values()])
    finally:
        process.send_signal(stop)
        code = process.wait(timeout=90)
    assert listening == {"rasa": {"127.0.0.1"}, "actions": {"127.0.0.1"},
                         "gateway": {gateway_host or "127.0.0.1"}}
    assert code == (0 if stop == signal.SIGINT else -signal.SIGKILL)
    assert leftovers(pids, ports(env), "0.0.0.0") == ([], [])
    assert status(env) == {name: {**details, "up": False, "pid": None, "uptime_seconds": None,
                                  "restarts": 0}
                           for name, details in services.items()}


@pytest.mark.parametrize(("held_on", "gateway_host"), [("127.0.0.1", ""),
                                                       ("0.0.0.0", ""),
                                                       ("127.0.0.1", "0.0.0.0")])
def test_a_taken_port_is_refused_in_one_line_naming_its_holder(
        stack_env, held_on: str, gateway_host: str) -> None:
    env = private_env(stack_env, XIAOSHEN_GATEWAY_HOST=gateway_host)
    port = env["XIAOSHEN_GATEWAY_PORT"]
    with socket.socket() as holder:
        holder.bind((held_on, int(port)))
        holder.listen()
        result = subprocess.run([sys.executable, "-m", "xiaoshen.cli", "serve"], cwd=ROOT,
                                env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: port {port} for gateway is taken by pid {os.getpid()} "
        f"({psutil.Process().name()}); stop it or choose another XIAOSHEN_GATEWAY_PORT"]


def test_rasa_s_api_and_the_action_server_refuse_callers_without_the_secret(
        stack, stack_env) -> None:
    config = settings.load({**os.environ, **stack_env})
    rasa, actions = config.url("rasa"), config.url("actions")
    token = load_or_create(config).rasa_token
    tracker = f"{rasa}/conversations/someone/tracker"
    for guess in ({}, {"token": "guess"}):
        assert httpx.get(tracker, params=guess).status_code == 401
        assert httpx.post(f"{tracker}/events", params=guess,
                          json={"event": "slot", "name": "item_no", "value": 1}).status_code == 401
        assert httpx.post(f"{rasa}/model/parse", params=guess,
                          json={"text": "你好"}).status_code == 401
    assert httpx.get(tracker, params={"token": token}).status_code == 200
    for guess in ({}, {"x-xiaoshen-secret": "guess"}):
        assert httpx.post(f"{actions}/webhook", json={"next_action": "action_greet"},
                          headers=guess).status_code == 403
        assert httpx.post(f"{actions}/webhook?token=guess",
                          json={"next_action": "action_greet"}).status_code == 403
        assert httpx.get(f"{actions}/actions", headers=guess).status_code == 403
        assert httpx.post(f"{actions}/kb/search", json={"query": "签注"},
                          headers=guess).status_code == 403
        assert httpx.post(f"{actions}/gaps/place", json={}, headers=guess).status_code == 403
    # Not even the right secret in a URL: URLs end up in logs (Rasa's error log prints them).
    secret = load_or_create(config).actions_secret
    assert httpx.post(f"{actions}/webhook?token={secret}",
                      json={"next_action": "action_greet"}).status_code == 403
    assert httpx.get(f"{actions}/health").status_code == 200
    assert ask(QUESTION, rasa).payload.outcome == "answered"
    assert token not in subprocess.run(["ps", "axww", "-o", "args"], capture_output=True,
                                       text=True).stdout
