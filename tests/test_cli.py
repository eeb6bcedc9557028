"""The `xiaoshen` command line: in-process with click's CliRunner, except where a command
runs the services themselves (serve)."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.io import import_items
from kb.store import KnowledgeBase
from tests.conftest import SEED, free_port
from xiaoshen.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, env: dict | None = None, stdin: str | None = None):
    return CliRunner().invoke(cli, list(args), env=env, input=stdin, catch_exceptions=False)


@pytest.fixture
def nothing_running() -> dict[str, str]:
    return {"XIAOSHEN_RASA_PORT": str(free_port()), "XIAOSHEN_ACTIONS_PORT": str(free_port()),
            "XIAOSHEN_GATEWAY_PORT": str(free_port())}


@pytest.fixture
def base_env(tmp_path, nothing_running) -> dict[str, str]:
    """A fresh base holding the services list and no entries."""
    import_items(KnowledgeBase(tmp_path / "kb.db"), SEED / "items.csv")
    return {**nothing_running, "XIAOSHEN_DB": str(tmp_path / "kb.db"),
            "XIAOSHEN_INDEX_DIR": str(tmp_path / "index")}


# -- one plain error line, never a traceback ------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "error"),
    [
        ("XIAOSHEN_RASA_PORT", "abc",
         "Error: XIAOSHEN_RASA_PORT='abc' must be a port number from 1 to 65535"),
        ("XIAOSHEN_ACTIONS_PORT", "70000",
         "Error: XIAOSHEN_ACTIONS_PORT='70000' must be a port number from 1 to 65535"),
        ("XIAOSHEN_SUPPORT", "abc", "Error: XIAOSHEN_SUPPORT='abc' must be a number, e.g. 0.5"),
        ("XIAOSHEN_MARGIN", "nan", "Error: XIAOSHEN_MARGIN='nan' must be a finite number"),
        ("XIAOSHEN_EMBEDDER", " ", "Error: XIAOSHEN_EMBEDDER=' ' must not be empty"),
    ],
)
@pytest.mark.parametrize("command", [["status"], ["kb", "search", "签注"], ["eval"]])
def test_a_bad_setting_is_one_error_line(command, variable, value, error) -> None:
    result = run(*command, env={variable: value})
    assert (result.exit_code, result.output.strip()) == (1, error)


def test_eval_when_stack_is_down(nothing_running) -> None:
    result = run("eval", "--no-baselines", env=nothing_running)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot reach Rasa at http://127.0.0.1:")
    assert "Traceback" not in result.output


def test_ask_when_stack_is_down(nothing_running) -> None:
    result = run("ask", "你好", env=nothing_running)
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot reach Rasa at http://127.0.0.1:")


def test_chat_when_stack_is_down(nothing_running) -> None:
    result = run("chat", env=nothing_running, stdin="你好\n")
    assert result.exit_code == 1
    assert "Error: cannot reach Rasa" in result.output
    assert "start it with `xiaoshen serve`" in result.output


def test_kb_search_on_an_empty_base(base_env) -> None:
    result = run("kb", "search", "居住证签注要带什么", env=base_env)
    assert result.exit_code == 0
    assert result.output.startswith("decision: fallback")


def test_serve_without_model(tmp_path, nothing_running) -> None:
    result = run("serve", env={**nothing_running, "XIAOSHEN_RASA_MODEL": str(tmp_path)})
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: no trained Rasa model in {tmp_path}; run `xiaoshen train` first")


def test_a_database_from_a_newer_xiaoshen(tmp_path, nothing_running) -> None:
    KnowledgeBase(tmp_path / "kb.db").db.execute("PRAGMA user_version = 99")
    result = run("kb", "stats", env={**nothing_running, "XIAOSHEN_DB": str(tmp_path / "kb.db")})
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error: the database has schema version 99")


def test_kb_import_unknown_format(tmp_path, base_env) -> None:
    path = tmp_path / "e.doc"
    path.write_text("x")
    result = run("kb", "import", str(path), env=base_env)
    assert (result.exit_code, result.output.strip()) == (
        1, "Error: unknown format 'doc' for e.doc: use csv, xlsx or jsonl")


def test_kb_export_to_a_missing_folder(tmp_path, base_env) -> None:
    result = run("kb", "export", str(tmp_path / "no" / "such" / "out.csv"), env=base_env)
    assert result.exit_code == 1
    assert result.output.startswith("Error: [Errno 2] No such file or directory")


# -- the knowledge base ---------------------------------------------------------------------


def test_kb_import_reports_bad_lines(tmp_path, base_env) -> None:
    path = tmp_path / "e.jsonl"
    good = {"entry_id": "03-x", "item_no": 3, "question": "签注?", "answer": "答复"}
    path.write_text(json.dumps(good, ensure_ascii=False) + "\n{oops\n", encoding="utf-8")
    result = run("kb", "import", str(path), env=base_env)
    assert result.exit_code == 1
    assert result.stdout.strip() == "imported 1 entries"
    assert result.stderr.startswith("line 2: not valid JSON")
    assert json.loads(run("kb", "stats", "--json", env=base_env).output)["entries"] == 1
    out = tmp_path / "out.xlsx"
    assert run("kb", "export", str(out), env=base_env).output.strip() == (
        f"exported 1 entries to {out}")


def test_kb_catalogue_replace(tmp_path, base_env) -> None:
    passport = '{"name": "普通护照申领", "department": "市公安局", "questions": ["护照"]}\n'
    first = tmp_path / "first.jsonl"
    first.write_text(passport + '{"name": "结婚登记", "department": "市民政局", '
                     '"questions": ["结婚"]}\n', encoding="utf-8")
    assert run("kb", "catalogue", str(first), env=base_env).exit_code == 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text(passport + "not json\n", encoding="utf-8")
    result = run("kb", "catalogue", str(bad), "--replace", env=base_env)
    assert result.exit_code == 1 and "line 2" in result.output
    assert "removed 0" in result.output  # a bad line blocks the deletion
    good = tmp_path / "good.jsonl"
    good.write_text(passport, encoding="utf-8")
    result = run("kb", "catalogue", str(good), "--replace", env=base_env)
    assert result.exit_code == 0 and "removed 1" in result.output
    assert "other_services: 1" in run("kb", "stats", env=base_env).output


def test_kb_search(stack_env) -> None:
    found = json.loads(run("kb", "search", "--json", "营业执照网上怎么申请", env=stack_env).output)
    assert (found["outcome"], found["item_no"], found["other_service"]) == ("answered", 21, None)
    assert found["candidates"][0]["item_no"] == 21
    assert 0.5 < found["probability"] <= 1.0


def test_kb_search_names_an_uncovered_service(stack_env) -> None:
    result = run("kb", "search", "护照丢了怎么补办", env=stack_env)
    assert result.exit_code == 0
    assert "decision: fallback" in result.output and "护照" in result.output


# -- the running stack ----------------------------------------------------------------------


def test_status_json_when_up(stack, stack_env) -> None:
    result = run("status", "--json", env=stack_env)
    assert result.exit_code == 0
    urls = json.loads(result.output)
    assert urls["rasa"] == stack
    assert urls["actions"].endswith(stack_env["XIAOSHEN_ACTIONS_PORT"])


def test_status_fails_when_down(nothing_running) -> None:
    result = run("status", env=nothing_running)
    assert result.exit_code == 1
    assert "rasa: down" in result.output


def test_ask_json_reads_stdin_lines(stack, stack_env) -> None:
    result = run("ask", "--json", env=stack_env, stdin="你好\n居住证签注要带什么材料\n转人工\n")
    assert result.exit_code == 0
    replies = [json.loads(line) for line in result.output.splitlines()]
    assert [r["outcome"] for r in replies] == ["chitchat", "answered", "handoff"]
    assert replies[1]["item_no"] == 3
    keys = {"text", "outcome", "item_no", "entry_id", "entry_ids", "topic", "missing", "score",
            "candidates"}
    assert all(set(r) == keys for r in replies)
    assert set(replies[1]["candidates"][0]) == {"item_no", "entry_id", "title", "score"}


def test_ask_conversation_keeps_the_context(stack, stack_env) -> None:
    result = run("ask", "--conversation", "--json", "公积金付房租怎么提取", "那要带什么材料",
                 "多久能到账", "那退休的呢", env=stack_env)
    replies = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["outcome"], r["item_no"]) for r in replies] == [("answered", 15)] * 3 + [
        ("answered", 16)]
    assert [r["topic"] for r in replies[1:]] == [
        "materials", "time_limit", "time_limit"]


def test_ask_without_conversation_starts_afresh_each_time(stack, stack_env) -> None:
    result = run("ask", "--json", "公积金付房租怎么提取", "那要带什么材料", env=stack_env)
    second = json.loads(result.output.splitlines()[1])
    assert second["outcome"] != "answered"


def test_chat_numbers_pick_quick_replies(stack, stack_env) -> None:
    result = run("chat", env=stack_env, stdin="代开发票要什么材料\n1\n/quit\n")
    assert result.exit_code == 0
    replies = [line for line in result.output.splitlines() if "小申: " in line]
    assert "哪项业务" in replies[0]
    assert "  1. " in result.output
    assert "想确认" not in replies[1]  # the pick was answered, not asked again


def test_serve_stops_cleanly_on_sigterm(stack_env, nothing_running) -> None:
    env = {**os.environ, **stack_env, **nothing_running}
    process = subprocess.Popen([sys.executable, "-m", "xiaoshen.cli", "serve"], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, text=True)
    ready = process.stdout.readline()  # blocks until ready; empty if serve died
    assert "小申已启动" in ready
    assert run("status", env=env).exit_code == 0
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert run("status", env=env).exit_code == 1


def test_user_add_reads_the_password_from_stdin(base_env) -> None:
    result = run("user", "add", "wangfang", "--role", "agent", "--department", "市公安局",
                 env=base_env, stdin="a long passphrase\n")
    assert (result.exit_code, result.output.strip()) == (0, "added agent wangfang of 市公安局")
    again = run("user", "add", "wangfang", "--role", "agent", "--department", "市公安局",
                env=base_env, stdin="a long passphrase\n")
    assert (again.exit_code, again.stderr.strip()) == (
        1, "Error: a user named 'wangfang' exists already")


@pytest.mark.parametrize(("args", "password", "error"), [
    (["--role", "agent"], "a long passphrase", "Error: a seat (agent) needs --department"),
    (["--role", "supervisor"], "short", "Error: the password needs at least 8 characters"),
])
def test_user_add_errors(base_env, args, password, error) -> None:
    result = run("user", "add", "li", *args, env=base_env, stdin=password + "\n")
    assert (result.exit_code, result.stderr.strip()) == (1, error)


# -- knowledge-base governance ---------------------------------------------------------------


def test_imports_are_versions_with_history_and_rollback(tmp_path, base_env) -> None:
    first, second = tmp_path / "v1.jsonl", tmp_path / "v2.jsonl"
    line = {"entry_id": "03-materials", "item_no": 3, "question": "居住证签注要什么材料？",
            "answer": "身份证和居住证。"}
    first.write_text(json.dumps(line, ensure_ascii=False) + "\n", "utf-8")
    second.write_text(json.dumps({**line, "answer": "身份证、居住证和照片。"},
                                 ensure_ascii=False) + "\n", "utf-8")
    assert run("kb", "import", str(first), "--by", "张三", env=base_env).exit_code == 0
    assert run("kb", "import", str(first), "--by", "李四", env=base_env).exit_code == 0
    assert run("kb", "import", str(second), "--by", "李四", "--reason", "新增照片",
               env=base_env).exit_code == 0
    history = run("kb", "history", "03-materials", env=base_env).output.splitlines()
    assert len(history) == 2  # the unchanged re-import wrote no version
    assert history[0].startswith("* v2") and "李四 (import)  答复口径  新增照片" in history[0]

    result = run("kb", "rollback", "03-materials", "1", "--by", "王五", "--reason", "误导入",
                 env=base_env)
    assert result.output.strip() == "03-materials: version 3 restores version 1"
    assert KnowledgeBase(base_env["XIAOSHEN_DB"]).get("03-materials").answer == "身份证和居住证。"
    missing = run("kb", "history", "nope", env=base_env)
    assert (missing.exit_code, missing.output.strip()) == (1, "Error: no entry with id 'nope'")


def test_policy_add_and_list(base_env) -> None:
    added = run("policy", "add", "居住证签注材料调整", "--effective", "2026-06-22",
                "--number", "杨府办发〔2026〕8号", "--item", "3", env=base_env)
    assert added.output.strip() == ("added policy #1: in effect 2026-06-22, wording needed by "
                                    "2026-06-18")
    listed = json.loads(run("policy", "list", "--json", env=base_env).output)
    assert [(p["title"], p["flagged"], p["item_nos"]) for p in listed] == [
        ("居住证签注材料调整", True, [3])]  # past its day, with no entry implementing it
    assert "事项 3 还没有实施该政策的条目" in run("policy", "list", env=base_env).output
    bad = run("policy", "add", "x", "--effective", "2026-06-22", "--item", "999", env=base_env)
    assert (bad.exit_code, bad.output.strip()) == (1, "Error: 未知的事项编号：999")
