"""The `xiaoshen` command line, run as a user runs it."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]


def xiaoshen(*args: str, env: dict | None = None, stdin: str | None = None):
    return subprocess.run([sys.executable, "-m", "xiaoshen.cli", *args], cwd=ROOT,
                          env={**os.environ, **(env or {})}, input=stdin,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def nothing_running() -> dict[str, str]:
    return {"XIAOSHEN_RASA_PORT": str(free_port()), "XIAOSHEN_ACTIONS_PORT": str(free_port())}


def test_status_json_when_up(stack, stack_env) -> None:
    result = xiaoshen("status", "--json", env=stack_env)
    assert result.returncode == 0
    urls = json.loads(result.stdout)
    assert urls["rasa"] == stack
    assert urls["actions"].endswith(stack_env["XIAOSHEN_ACTIONS_PORT"])


def test_status_fails_when_down(nothing_running) -> None:
    result = xiaoshen("status", env=nothing_running)
    assert result.returncode == 1
    assert "rasa: down" in result.stdout


def test_ask_json_reads_stdin_lines(stack, stack_env) -> None:
    lines = "你好\n居住证签注要带什么材料\n转人工\n"
    result = xiaoshen("ask", "--json", env=stack_env, stdin=lines)
    assert result.returncode == 0, result.stderr
    replies = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["outcome"] for r in replies] == ["chitchat", "answered", "handoff"]
    assert replies[1]["item_no"] == 3
    keys = {"text", "outcome", "item_no", "entry_id", "score", "candidates"}
    assert all(set(r) == keys for r in replies)
    assert set(replies[1]["candidates"][0]) == {"item_no", "entry_id", "title", "score"}


def test_ask_when_stack_is_down(nothing_running) -> None:
    result = xiaoshen("ask", "你好", env=nothing_running)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: cannot reach Rasa at http://127.0.0.1:")


def test_kb_import_reports_bad_lines(tmp_path, nothing_running) -> None:
    env = {**nothing_running, "XIAOSHEN_DB": str(tmp_path / "kb.db")}
    xiaoshen("kb", "stats", env=env)  # creates the empty base
    from kb.io import import_items
    from kb.store import KnowledgeBase

    import_items(KnowledgeBase(tmp_path / "kb.db"), ROOT / "kb" / "seed" / "items.csv")
    path = tmp_path / "e.jsonl"
    good = {"entry_id": "03-x", "item_no": 3, "question": "签注?", "answer": "答复"}
    path.write_text(json.dumps(good, ensure_ascii=False) + "\n{oops\n", encoding="utf-8")
    result = xiaoshen("kb", "import", str(path), env=env)
    assert result.returncode == 1
    assert result.stdout.strip() == "imported 1 entries"
    assert result.stderr.startswith("line 2: not valid JSON")
    stats = json.loads(xiaoshen("kb", "stats", "--json", env=env).stdout)
    assert stats["entries"] == 1
    out = tmp_path / "out.xlsx"
    assert xiaoshen("kb", "export", str(out), env=env).stdout.strip() == (
        f"exported 1 entries to {out}")


def test_kb_import_unknown_format(tmp_path) -> None:
    path = tmp_path / "e.doc"
    path.write_text("x")
    result = xiaoshen("kb", "import", str(path), env={"XIAOSHEN_DB": str(tmp_path / "kb.db")})
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: unknown format 'doc' for e.doc: use csv, xlsx or jsonl")


def test_kb_search(stack_env) -> None:
    result = xiaoshen("kb", "search", "--json", "营业执照网上怎么申请", env=stack_env)
    found = json.loads(result.stdout)
    assert (found["outcome"], found["item_no"], found["other_service"]) == ("answered", 21, None)
    assert found["candidates"][0]["item_no"] == 21
    assert 0.5 < found["probability"] <= 1.0


def test_kb_search_names_an_uncovered_service(stack_env) -> None:
    result = xiaoshen("kb", "search", "护照丢了怎么补办", env=stack_env)
    assert result.returncode == 0
    assert "decision: fallback" in result.stdout and "护照" in result.stdout


def test_serve_without_model(tmp_path, nothing_running) -> None:
    result = xiaoshen("serve", env={**nothing_running, "XIAOSHEN_RASA_MODEL": str(tmp_path)})
    assert result.returncode == 1
    assert "no trained Rasa model" in result.stderr


def test_serve_stops_cleanly_on_sigterm(stack_env, nothing_running) -> None:
    env = {**os.environ, **stack_env, **nothing_running}
    process = subprocess.Popen([sys.executable, "-m", "xiaoshen.cli", "serve"], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, text=True)
    ready = process.stdout.readline()  # blocks until ready; empty if serve died
    assert "小申已启动" in ready
    assert xiaoshen("status", env=env).returncode == 0
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert xiaoshen("status", env=env).returncode == 1


def test_chat_numbers_pick_quick_replies(stack, stack_env) -> None:
    result = xiaoshen("chat", env=stack_env, stdin="需要带什么材料\n1\n/quit\n")
    assert result.returncode == 0, result.stderr
    replies = [line for line in result.stdout.splitlines() if "小申: " in line]
    assert "哪项业务" in replies[0]
    assert "  1. " in result.stdout
    assert "想确认" not in replies[1]  # the pick was answered, not asked again


def test_chat_when_stack_is_down(nothing_running) -> None:
    result = xiaoshen("chat", env=nothing_running, stdin="你好\n")
    assert result.returncode == 1
    assert "Error: cannot reach Rasa" in result.stderr


def test_kb_catalogue_replace(tmp_path, nothing_running) -> None:
    env = {**nothing_running, "XIAOSHEN_DB": str(tmp_path / "kb.db")}
    first = tmp_path / "first.jsonl"
    first.write_text('{"name": "普通护照申领", "department": "市公安局", "questions": ["护照"]}\n'
                     '{"name": "结婚登记", "department": "市民政局", "questions": ["结婚"]}\n',
                     encoding="utf-8")
    assert xiaoshen("kb", "catalogue", str(first), env=env).returncode == 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"name": "普通护照申领", "department": "市公安局", "questions": ["护照"]}\n'
                   'not json\n', encoding="utf-8")
    result = xiaoshen("kb", "catalogue", str(bad), "--replace", env=env)
    assert result.returncode == 1 and "line 2" in result.stderr
    assert "removed 0" in result.stdout  # a bad line blocks the deletion
    good = tmp_path / "good.jsonl"
    good.write_text('{"name": "普通护照申领", "department": "市公安局", "questions": ["护照"]}\n',
                    encoding="utf-8")
    result = xiaoshen("kb", "catalogue", str(good), "--replace", env=env)
    assert result.returncode == 0 and "removed 1" in result.stdout
    stats = xiaoshen("kb", "stats", env=env)
    assert "other_services: 1" in stats.stdout
